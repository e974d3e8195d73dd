//! The sandbox's memory: items per tenant, counters, the rate limiter and
//! the fault dice. Plain mutexes: every critical section is short and
//! never awaits.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::time::Instant;

/// What the sandbox has seen, as `GET /sandbox/stats` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Requests by answer: `"200"`, `"429"`, `"503"`, ..., and `"dropped"` for
    /// connections closed after applying a batch.
    pub requests: BTreeMap<String, u64>,
    /// Items stored (new or changed or identical).
    pub items_upserted: u64,
    /// Items refused with a reason.
    pub items_rejected: u64,
    /// Upserts identical to the stored item (apart from `verified_at`).
    pub duplicates: u64,
    /// Items deleted.
    pub items_deleted: u64,
    /// Requests a tenant sent before the `Retry-After` of its last 429 had passed.
    pub early_after_429: u64,
}

impl Stats {
    /// Requests answered with `status` (or `"dropped"`).
    pub fn requests_with(&self, status: &str) -> u64 {
        self.requests.get(status).copied().unwrap_or(0)
    }

    /// All requests.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// A stored item: the wire fields without `verified_at`, which is kept apart
/// so identical re-upserts can be recognised.
pub(crate) struct Stored {
    pub fields: Map<String, Value>,
    pub verified_at: Value,
}

impl Stored {
    pub(crate) fn to_value(&self) -> Value {
        let mut m = self.fields.clone();
        m.insert("verified_at".to_owned(), self.verified_at.clone());
        Value::Object(m)
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
    not_before: Option<Instant>,
}

pub(crate) struct State {
    pub items: Mutex<HashMap<String, BTreeMap<String, Stored>>>,
    pub stats: Mutex<Stats>,
    rng: Mutex<StdRng>,
    buckets: Mutex<HashMap<String, Bucket>>,
    per_min: Option<u32>,
}

pub(crate) enum Admission {
    Go,
    RetryAfter(u64),
}

impl State {
    pub fn new(seed: Option<u64>, per_min: Option<u32>) -> Self {
        State {
            items: Mutex::new(HashMap::new()),
            stats: Mutex::new(Stats::default()),
            rng: Mutex::new(match seed {
                Some(s) => StdRng::seed_from_u64(s),
                None => StdRng::from_os_rng(),
            }),
            buckets: Mutex::new(HashMap::new()),
            per_min,
        }
    }

    /// True with probability `p`.
    pub fn roll(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        lock(&self.rng).random_bool(p.min(1.0))
    }

    pub fn count(&self, status: &str) {
        *lock(&self.stats)
            .requests
            .entry(status.to_owned())
            .or_default() += 1;
    }

    /// Token bucket per tenant: `per_min / 60` tokens a second, bursts of one
    /// second's worth. Also notes requests that ignored a `Retry-After`.
    pub fn admit(&self, tenant: &str) -> Admission {
        let Some(per_min) = self.per_min.filter(|p| *p > 0) else {
            return Admission::Go;
        };
        let rate = f64::from(per_min) / 60.0;
        let burst = rate.ceil().max(1.0);
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        let bucket = buckets.entry(tenant.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
            not_before: None,
        });
        if bucket.not_before.is_some_and(|nb| now < nb) {
            lock(&self.stats).early_after_429 += 1;
        }
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Admission::Go;
        }
        let wait = ((1.0 - bucket.tokens) / rate).ceil().max(1.0);
        // Whole seconds: that is all Retry-After can say.
        let secs = wait as u64;
        bucket.not_before = Some(now + Duration::from_secs(secs));
        Admission::RetryAfter(secs)
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // No critical section can leave the data half-updated in a way later
    // requests would trip over, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
