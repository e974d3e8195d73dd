//! Delivery: one task per shop, at most one batch in flight per shop, so a
//! shop's changes arrive in order and a slow or failing shop never holds up
//! another.
//!
//! Each round leases the shop's due changes, sends the upserts as one batch
//! and the deletes one by one, and records every outcome in one store
//! transaction. Failures are scheduled in the store (`next_attempt_at`), so a
//! restart keeps honouring them:
//! - 429: wait at least `Retry-After`;
//! - 5xx, timeouts, dropped connections: full-jitter exponential backoff;
//! - per-item rejections and whole-request refusals: parked with the reason;
//! - 401/403: the shop is paused (others continue) until [`RelayHandle::resume`]
//!   or a restart with a corrected key.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, error, info, warn};

use super::Backoff;
use super::store::{Lease, LeasedOp, Outcome, Store, StoreError};
use crate::metrics::{DeliveryResult, FailureReason, ShopMetrics};
use crate::snapact::{CatalogSink, ItemOutcome, SendError, UpsertItem};

/// How a relay paces delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// Items per upsert request (capped by the sink's own limit).
    pub batch_size: usize,
    /// Retry schedule for transient failures.
    pub backoff: Backoff,
    /// A change pending longer than this is parked at its next failure.
    pub max_age: Duration,
    /// How often an idle relay looks for changes written by another process
    /// (`snapact-host import` while `run` delivers).
    pub idle_poll: Duration,
    /// Seed for the backoff jitter; `None` seeds from the OS.
    pub seed: Option<u64>,
}

impl Default for RelayConfig {
    /// Batches of 100, 500 ms..5 min backoff, park after 7 days, poll every second.
    fn default() -> Self {
        RelayConfig {
            batch_size: crate::snapact::wire::DEFAULT_BATCH_SIZE,
            backoff: Backoff::default(),
            max_age: Duration::from_secs(7 * 24 * 3600),
            idle_poll: Duration::from_secs(1),
            seed: None,
        }
    }
}

/// What a relay is doing, as seen from outside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayState {
    /// Why delivery is paused, if it is (wrong or revoked key).
    pub paused: Option<String>,
    /// Failed rounds since the last success.
    pub consecutive_failures: u32,
    /// Last round SnapAct answered.
    pub last_success_at: Option<SystemTime>,
    /// The last failure.
    pub last_error: Option<String>,
    /// False once the relay task has ended.
    pub running: bool,
}

/// One delivered round, for live display (`snapact-host dev`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryEvent {
    /// The shop.
    pub shop: String,
    /// Items SnapAct stored.
    pub upserted: Vec<UpsertItem>,
    /// Items SnapAct deleted.
    pub deleted: Vec<String>,
    /// Refused items with SnapAct's reason.
    pub rejected: Vec<(String, String)>,
}

/// Controls a running relay.
#[derive(Debug)]
pub struct RelayHandle {
    shop: String,
    wake: Arc<Notify>,
    resume: Arc<Notify>,
    shutdown: watch::Sender<bool>,
    state: watch::Receiver<RelayState>,
    events: broadcast::Sender<DeliveryEvent>,
    task: JoinHandle<()>,
}

impl RelayHandle {
    /// The shop it delivers for.
    pub fn shop(&self) -> &str {
        &self.shop
    }

    /// New changes were enqueued: look now instead of at the next poll.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Leave the paused state and try again (after the key was fixed).
    pub fn resume(&self) {
        self.resume.notify_one();
    }

    /// A handle others (webhooks, the poller) wake the relay with.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Current state.
    pub fn state(&self) -> RelayState {
        self.state.borrow().clone()
    }

    /// State changes as they happen.
    pub fn watch_state(&self) -> watch::Receiver<RelayState> {
        self.state.clone()
    }

    /// Every delivered round from now on.
    pub fn deliveries(&self) -> broadcast::Receiver<DeliveryEvent> {
        self.events.subscribe()
    }

    /// Stops after the batch in flight (if any) is recorded, and waits.
    /// Changes not yet delivered stay pending for the next start.
    pub async fn shutdown(self) {
        // Ignored: the task may already have ended, which is the goal.
        let _ = self.shutdown.send(true);
        if let Err(e) = self.task.await {
            error!(shop = %self.shop, "relay task failed: {e}");
        }
    }
}

/// Starts the relay for `shop` on the current tokio runtime.
pub fn spawn<S: Store, K: CatalogSink>(
    shop: impl Into<String>,
    store: Arc<S>,
    sink: K,
    config: RelayConfig,
) -> RelayHandle {
    spawn_with_metrics(shop, store, sink, config, None)
}

/// Like [`spawn`], counting what is delivered into `metrics` (whose adapter
/// id also tags the relay's log lines).
pub fn spawn_with_metrics<S: Store, K: CatalogSink>(
    shop: impl Into<String>,
    store: Arc<S>,
    sink: K,
    config: RelayConfig,
    metrics: Option<Arc<ShopMetrics>>,
) -> RelayHandle {
    let shop = shop.into();
    let wake = Arc::new(Notify::new());
    let resume = Arc::new(Notify::new());
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (state_tx, state_rx) = watch::channel(RelayState {
        running: true,
        ..RelayState::default()
    });
    let (events, _) = broadcast::channel(1024);
    let rng = match config.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    };
    let relay = Relay {
        shop: shop.clone(),
        store,
        sink,
        config,
        rng,
        wake: Arc::clone(&wake),
        resume: Arc::clone(&resume),
        shutdown: shutdown_rx,
        state: state_tx,
        events: events.clone(),
        failures: 0,
        metrics: metrics.clone(),
    };
    let span = match &metrics {
        Some(m) => tracing::info_span!("relay", shop = %shop, adapter = %m.adapter()),
        None => tracing::info_span!("relay", shop = %shop),
    };
    let task = tokio::spawn(relay.run().instrument(span));
    RelayHandle {
        shop,
        wake,
        resume,
        shutdown: shutdown_tx,
        state: state_rx,
        events,
        task,
    }
}

/// A second relay for a shop would break per-shop ordering.
#[derive(Debug, thiserror::Error)]
#[error("a relay for shop {0:?} is already running")]
pub struct DuplicateRelay(pub String);

/// The relays of a host process, one per shop.
#[derive(Debug, Default)]
pub struct Relays {
    relays: HashMap<String, RelayHandle>,
}

impl Relays {
    /// No relays yet.
    pub fn new() -> Self {
        Relays::default()
    }

    /// Starts the relay for `shop`; refuses a second one.
    pub fn start<S: Store, K: CatalogSink>(
        &mut self,
        shop: &str,
        store: Arc<S>,
        sink: K,
        config: RelayConfig,
    ) -> Result<&RelayHandle, DuplicateRelay> {
        self.start_with_metrics(shop, store, sink, config, None)
    }

    /// Like [`Relays::start`], counting deliveries into `metrics`.
    pub fn start_with_metrics<S: Store, K: CatalogSink>(
        &mut self,
        shop: &str,
        store: Arc<S>,
        sink: K,
        config: RelayConfig,
        metrics: Option<Arc<ShopMetrics>>,
    ) -> Result<&RelayHandle, DuplicateRelay> {
        if self.relays.contains_key(shop) {
            return Err(DuplicateRelay(shop.to_owned()));
        }
        let handle = spawn_with_metrics(shop, store, sink, config, metrics);
        Ok(self.relays.entry(shop.to_owned()).or_insert(handle))
    }

    /// The relay of `shop`.
    pub fn get(&self, shop: &str) -> Option<&RelayHandle> {
        self.relays.get(shop)
    }

    /// Every relay's waker.
    pub fn wakers(&self) -> impl Iterator<Item = Arc<Notify>> + '_ {
        self.relays.values().map(RelayHandle::waker)
    }

    /// Wakes the relay of `shop` (after an enqueue).
    pub fn notify(&self, shop: &str) {
        if let Some(r) = self.relays.get(shop) {
            r.notify();
        }
    }

    /// Every relay's state, by shop.
    pub fn states(&self) -> Vec<(String, RelayState)> {
        let mut out: Vec<_> = self
            .relays
            .iter()
            .map(|(shop, r)| (shop.clone(), r.state()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Stops every relay (all signalled at once), waiting for batches in flight.
    pub async fn shutdown(self) {
        for r in self.relays.values() {
            let _ = r.shutdown.send(true);
        }
        for (_, r) in self.relays {
            r.shutdown().await;
        }
    }
}

/// The per-shop delivery loop. Built by [`spawn`].
pub struct Relay<S, K> {
    shop: String,
    store: Arc<S>,
    sink: K,
    config: RelayConfig,
    rng: StdRng,
    wake: Arc<Notify>,
    resume: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
    state: watch::Sender<RelayState>,
    events: broadcast::Sender<DeliveryEvent>,
    failures: u32,
    metrics: Option<Arc<ShopMetrics>>,
}

enum Round {
    /// Delivered something; go again.
    Delivered,
    /// Nothing due.
    Idle,
    /// Failed; nothing before this.
    WaitUntil(SystemTime),
    /// The key was refused.
    Paused,
}

impl<S: Store, K: CatalogSink> Relay<S, K> {
    async fn run(mut self) {
        // A restart is how an operator applies a corrected key: start unpaused.
        if let Err(e) = self.store.set_paused(&self.shop, None).await {
            error!("could not clear the paused state: {e}");
        }
        info!("relay started");
        while !self.stopping() {
            if self.state.borrow().paused.is_some() {
                tokio::select! {
                    _ = self.resume.notified() => self.unpause().await,
                    _ = self.shutdown.changed() => {}
                }
                continue;
            }
            match self.round().await {
                Ok(Round::Delivered) => {}
                Ok(Round::Idle) => self.idle().await,
                Ok(Round::WaitUntil(at)) => self.sleep_until(at).await,
                Ok(Round::Paused) => {}
                Err(e) => {
                    // The database is local; a failure is rare and usually
                    // passes (disk full, lock held by another process).
                    let delay = self.config.backoff.delay(self.failures, &mut self.rng);
                    self.failures = self.failures.saturating_add(1);
                    error!("outbox error, retrying in {} ms: {e}", delay.as_millis());
                    self.note_failure(e.to_string());
                    self.sleep(delay).await;
                }
            }
        }
        self.state.send_modify(|s| s.running = false);
        info!("relay stopped");
    }

    /// Asked to stop, or the handle is gone (nobody could stop it later).
    fn stopping(&self) -> bool {
        *self.shutdown.borrow() || self.shutdown.has_changed().is_err()
    }

    async fn unpause(&mut self) {
        if let Err(e) = self.store.set_paused(&self.shop, None).await {
            error!("could not clear the paused state: {e}");
        }
        self.state.send_modify(|s| s.paused = None);
        info!("delivery resumed");
    }

    async fn round(&mut self) -> Result<Round, StoreError> {
        let limit = self.config.batch_size.min(self.sink.batch_size()).max(1);
        let lease = self.store.lease(&self.shop, limit).await?;
        if lease.changes.is_empty() {
            return Ok(Round::Idle);
        }
        let (outcomes, stop) = self.deliver(&lease).await;
        let now = self.store.clock().now();
        let event = self.event(&lease, &outcomes);
        let (outcomes, retry_at, round) = match stop {
            None => {
                // Only items SnapAct's answer left out are retried here.
                let retry_at = now + self.config.backoff.delay(0, &mut self.rng);
                self.failures = 0;
                self.state.send_modify(|s| {
                    s.consecutive_failures = 0;
                    s.last_success_at = Some(now);
                });
                (outcomes, retry_at, Round::Delivered)
            }
            Some(SendError::Unauthorized { status }) => {
                let reason = format!(
                    "SnapAct refused the Connect API key (HTTP {status}): it is wrong or revoked. \
                     Check `snapact_key` for shop {:?} in the config and the secret it \
                     references, then restart the host; this shop's changes stay queued.",
                    self.shop
                );
                error!(alert = "snapact_key_refused", status, "{reason}");
                self.count_failure(FailureReason::Unauthorized);
                self.store
                    .set_paused(&self.shop, Some(reason.clone()))
                    .await?;
                self.state.send_modify(|s| {
                    s.paused = Some(reason.clone());
                    s.last_error = Some(reason);
                });
                (outcomes, now, Round::Paused)
            }
            Some(SendError::RateLimited { retry_after }) => {
                let error = format!(
                    "rate limited by SnapAct; retry after {} ms",
                    retry_after.as_millis()
                );
                warn!("{error}");
                self.count_failure(FailureReason::RateLimited);
                self.note_failure(error.clone());
                let at = now + retry_after;
                (retry_unsent(outcomes, &error), at, Round::WaitUntil(at))
            }
            Some(SendError::Transient(reason)) | Some(SendError::Permanent(reason)) => {
                let delay = self.config.backoff.delay(self.failures, &mut self.rng);
                self.failures = self.failures.saturating_add(1);
                warn!(
                    attempt = self.failures,
                    "delivery failed, retrying in {} ms: {reason}",
                    delay.as_millis()
                );
                self.count_failure(FailureReason::Transient);
                self.note_failure(reason.clone());
                let at = now + delay;
                (retry_unsent(outcomes, &reason), at, Round::WaitUntil(at))
            }
        };
        let counted = self.count(&lease, &outcomes, now);
        self.store
            .complete(lease, outcomes, retry_at, self.config.max_age)
            .await?;
        if let (Some(m), Some(counted)) = (&self.metrics, counted) {
            counted.record(m);
        }
        if let Some(event) = event {
            // Nobody listening is fine.
            let _ = self.events.send(event);
        }
        Ok(round)
    }

    /// Sends the lease; the error that stopped it early, if any. `Permanent`
    /// never stops it: a refused item or request is parked, not retried.
    async fn deliver(&mut self, lease: &Lease) -> (Vec<Outcome>, Option<SendError>) {
        let mut outcomes = vec![Outcome::NotAttempted; lease.changes.len()];
        let (indices, items): (Vec<usize>, Vec<UpsertItem>) = lease
            .changes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match &c.op {
                LeasedOp::Upsert(u) => Some((i, u.clone())),
                LeasedOp::Delete => None,
            })
            .unzip();
        if !items.is_empty() {
            match self.sink.upsert(&items).await {
                Ok(results) => record(&mut outcomes, &indices, results),
                Err(SendError::Permanent(reason)) if items.len() > 1 => {
                    // SnapAct refused the whole request: find the item(s) it
                    // objects to instead of parking the batch.
                    warn!("batch refused ({reason}); sending its items one by one");
                    for (i, item) in indices.iter().zip(&items) {
                        match self.sink.upsert(std::slice::from_ref(item)).await {
                            Ok(results) => record(&mut outcomes, &[*i], results),
                            Err(SendError::Permanent(reason)) => {
                                outcomes[*i] = Outcome::Rejected(reason)
                            }
                            Err(e) => return (outcomes, Some(e)),
                        }
                    }
                }
                Err(SendError::Permanent(reason)) => {
                    if let Some(i) = indices.first() {
                        outcomes[*i] = Outcome::Rejected(reason);
                    }
                }
                Err(e) => return (outcomes, Some(e)),
            }
        }
        for (i, change) in lease.changes.iter().enumerate() {
            if !matches!(change.op, LeasedOp::Delete) {
                continue;
            }
            match self.sink.delete(&change.external_ref).await {
                Ok(()) => outcomes[i] = Outcome::Deleted,
                Err(SendError::Permanent(reason)) => outcomes[i] = Outcome::Rejected(reason),
                Err(e) => return (outcomes, Some(e)),
            }
        }
        (outcomes, None)
    }

    fn event(&self, lease: &Lease, outcomes: &[Outcome]) -> Option<DeliveryEvent> {
        let mut event = DeliveryEvent {
            shop: self.shop.clone(),
            upserted: Vec::new(),
            deleted: Vec::new(),
            rejected: Vec::new(),
        };
        for (change, outcome) in lease.changes.iter().zip(outcomes) {
            match (outcome, &change.op) {
                (Outcome::Upserted, LeasedOp::Upsert(u)) => event.upserted.push(u.clone()),
                (Outcome::Deleted, _) => event.deleted.push(change.external_ref.clone()),
                (Outcome::Rejected(r), _) => event
                    .rejected
                    .push((change.external_ref.clone(), r.clone())),
                _ => {}
            }
        }
        let empty =
            event.upserted.is_empty() && event.deleted.is_empty() && event.rejected.is_empty();
        debug!(
            upserted = event.upserted.len(),
            deleted = event.deleted.len(),
            rejected = event.rejected.len(),
            "round recorded"
        );
        (!empty).then_some(event)
    }

    /// What a round's outcomes add to the delivery counters; recorded only
    /// once the store has recorded the outcomes themselves. A retried change
    /// older than `max_age` is parked by the store: counted `failed`.
    fn count(&self, lease: &Lease, outcomes: &[Outcome], now: SystemTime) -> Option<Counted> {
        self.metrics.as_ref()?;
        let mut c = Counted::default();
        for (change, outcome) in lease.changes.iter().zip(outcomes) {
            let result = match outcome {
                Outcome::Upserted => DeliveryResult::Upserted,
                Outcome::Deleted => DeliveryResult::Deleted,
                Outcome::Rejected(_) => DeliveryResult::Rejected,
                Outcome::Retry(_) => {
                    let age = now
                        .duration_since(change.first_enqueued_at)
                        .unwrap_or(Duration::ZERO);
                    if age > self.config.max_age {
                        DeliveryResult::Failed
                    } else {
                        DeliveryResult::Retry
                    }
                }
                Outcome::NotAttempted => continue,
            };
            c.results[result as usize] += 1;
            if change.attempts > 0 {
                c.retried += 1;
            }
        }
        Some(c)
    }

    fn count_failure(&self, reason: FailureReason) {
        if let Some(m) = &self.metrics {
            m.request_failed(reason);
        }
    }

    fn note_failure(&self, error: String) {
        let failures = self.failures;
        self.state.send_modify(|s| {
            s.consecutive_failures = failures;
            s.last_error = Some(error);
        });
    }

    async fn idle(&mut self) {
        let now = self.store.clock().now();
        let wait = match self.store.next_due(&self.shop).await {
            Ok(Some(due)) => due
                .duration_since(now)
                .unwrap_or(Duration::ZERO)
                .min(self.config.idle_poll),
            Ok(None) => self.config.idle_poll,
            Err(e) => {
                error!("could not read the next due change: {e}");
                self.config.idle_poll
            }
        };
        if wait.is_zero() {
            return;
        }
        tokio::select! {
            _ = self.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = self.shutdown.changed() => {}
        }
    }

    async fn sleep_until(&mut self, at: SystemTime) {
        let now = self.store.clock().now();
        let wait = at.duration_since(now).unwrap_or(Duration::ZERO);
        self.sleep(wait).await;
    }

    async fn sleep(&mut self, wait: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = self.shutdown.changed() => {}
        }
    }
}

/// A round's delivery counts, by [`DeliveryResult`] index.
#[derive(Debug, Default)]
struct Counted {
    results: [u64; 5],
    retried: u64,
}

impl Counted {
    fn record(&self, m: &ShopMetrics) {
        for (result, n) in [
            DeliveryResult::Upserted,
            DeliveryResult::Deleted,
            DeliveryResult::Rejected,
            DeliveryResult::Retry,
            DeliveryResult::Failed,
        ]
        .into_iter()
        .zip(self.results)
        {
            m.delivered(result, n);
        }
        m.retried(self.retried);
    }
}

fn record(outcomes: &mut [Outcome], indices: &[usize], results: Vec<ItemOutcome>) {
    let mut results = results.into_iter();
    for i in indices {
        outcomes[*i] = match results.next() {
            Some(ItemOutcome::Accepted) => Outcome::Upserted,
            Some(ItemOutcome::Rejected(reason)) => Outcome::Rejected(reason),
            Some(ItemOutcome::Missing) | None => {
                Outcome::Retry("SnapAct's answer did not mention this item".to_owned())
            }
        };
    }
}

fn retry_unsent(outcomes: Vec<Outcome>, error: &str) -> Vec<Outcome> {
    outcomes
        .into_iter()
        .map(|o| match o {
            Outcome::NotAttempted => Outcome::Retry(error.to_owned()),
            o => o,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::time::UNIX_EPOCH;

    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tokio::time::Instant;

    use super::*;
    use crate::catalog::{Change, Item};
    use crate::outbox::{SqliteStore, TokioClock};

    #[derive(Default)]
    struct Fake {
        script: Mutex<VecDeque<Result<(), SendError>>>,
        calls: Mutex<Vec<(Instant, Vec<UpsertItem>)>>,
        gate: Mutex<Option<Arc<Notify>>>,
        entered: Notify,
    }

    #[derive(Clone, Default)]
    struct FakeSink(Arc<Fake>);

    impl FakeSink {
        fn script(&self, steps: Vec<Result<(), SendError>>) {
            self.0.script.lock().expect("lock").extend(steps);
        }
        fn calls(&self) -> Vec<(Instant, Vec<UpsertItem>)> {
            self.0.calls.lock().expect("lock").clone()
        }
        async fn wait_calls(&self, n: usize) {
            while self.calls().len() < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    impl CatalogSink for FakeSink {
        async fn upsert(&self, items: &[UpsertItem]) -> Result<Vec<ItemOutcome>, SendError> {
            self.0
                .calls
                .lock()
                .expect("lock")
                .push((Instant::now(), items.to_vec()));
            let gate = self.0.gate.lock().expect("lock").take();
            if let Some(gate) = gate {
                self.0.entered.notify_one();
                gate.notified().await;
            }
            let step = self.0.script.lock().expect("lock").pop_front();
            match step {
                Some(Err(e)) => Err(e),
                _ => Ok(items.iter().map(|_| ItemOutcome::Accepted).collect()),
            }
        }

        async fn delete(&self, _external_ref: &str) -> Result<(), SendError> {
            Ok(())
        }
    }

    fn item(r: &str, name: &str) -> Item {
        Item::sample(r, name)
    }

    fn store() -> Arc<SqliteStore> {
        let clock = Arc::new(TokioClock::starting_at(
            UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        ));
        Arc::new(SqliteStore::open_in_memory(clock).expect("store"))
    }

    fn config(seed: u64) -> RelayConfig {
        RelayConfig {
            batch_size: 100,
            backoff: Backoff {
                base: Duration::from_secs(1),
                cap: Duration::from_secs(4),
            },
            max_age: Duration::from_secs(3600),
            idle_poll: Duration::from_millis(100),
            seed: Some(seed),
        }
    }

    async fn pending(store: &SqliteStore, shop: &str) -> u64 {
        store.status(Some(shop)).await.expect("status")[0].pending
    }

    fn gaps(calls: &[(Instant, Vec<UpsertItem>)]) -> Vec<Duration> {
        calls.windows(2).map(|w| w[1].0 - w[0].0).collect()
    }

    /// Sleeps land on tokio's millisecond ticks, so a gap may exceed the
    /// scheduled delay by up to a tick (never fall short).
    fn assert_gap(gap: Duration, expected: Duration) {
        assert!(
            gap >= expected && gap <= expected + Duration::from_millis(2),
            "gap {gap:?}, expected {expected:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_back_off_with_full_jitter() {
        let store = store();
        let sink = FakeSink::default();
        let transient = || Err(SendError::Transient("HTTP 503".into()));
        sink.script(vec![transient(), transient(), transient(), transient()]);
        store
            .enqueue(
                "s",
                vec![Change::Upsert {
                    item: item("A", "a"),
                }],
            )
            .await
            .expect("enqueue");
        let relay = spawn("s", store.clone(), sink.clone(), config(42));
        sink.wait_calls(5).await;
        // The same seed gives the relay's delays: attempts 0, 1, 2, 3.
        let backoff = config(42).backoff;
        let mut rng = StdRng::seed_from_u64(42);
        let expected: Vec<_> = (0..4).map(|n| backoff.delay(n, &mut rng)).collect();
        let gaps = gaps(&sink.calls());
        for (n, (gap, exp)) in gaps.iter().zip(&expected).enumerate() {
            assert!(*exp <= backoff.ceiling(n as u32));
            assert_gap(*gap, *exp);
        }
        while pending(&store, "s").await > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let status = &store.status(Some("s")).await.expect("status")[0];
        assert_eq!(status.acknowledged, 1);
        assert_eq!(status.delivered.failed_requests, 4);
        relay.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn deliveries_retries_and_failed_requests_are_counted_per_change() {
        let store = store();
        let sink = FakeSink::default();
        sink.script(vec![
            Err(SendError::Transient("HTTP 503".into())),
            Err(SendError::RateLimited {
                retry_after: Duration::from_secs(2),
            }),
        ]);
        store
            .enqueue(
                "s",
                vec![
                    Change::Upsert {
                        item: item("A", "a"),
                    },
                    Change::Upsert {
                        item: item("B", "b"),
                    },
                ],
            )
            .await
            .expect("enqueue");
        let metrics = crate::metrics::HostMetrics::new();
        let shop = metrics.shop("s", "demo");
        let relay = spawn_with_metrics(
            "s",
            store.clone(),
            sink.clone(),
            config(3),
            Some(Arc::clone(&shop)),
        );
        while pending(&store, "s").await > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        relay.shutdown().await;
        let text = metrics.render(&[], None);
        let value = |sample: &str| -> Option<u64> {
            text.lines()
                .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        };
        let of = |name: &str, extra: &str| format!("{name}{{shop=\"s\",adapter=\"demo\"{extra}}}");
        // Two changes: failed twice together, then stored.
        assert_eq!(
            value(&of("snapact_deliveries_total", ",result=\"retry\"")),
            Some(4),
            "{text}"
        );
        assert_eq!(
            value(&of("snapact_deliveries_total", ",result=\"upserted\"")),
            Some(2),
            "{text}"
        );
        assert_eq!(
            value(&of("snapact_deliveries_total", ",result=\"failed\"")),
            Some(0),
            "{text}"
        );
        assert_eq!(
            value(&of("snapact_delivery_retries_total", "")),
            Some(4),
            "{text}"
        );
        assert_eq!(
            value(&of(
                "snapact_delivery_request_failures_total",
                ",reason=\"transient\""
            )),
            Some(1),
            "{text}"
        );
        assert_eq!(
            value(&of(
                "snapact_delivery_request_failures_total",
                ",reason=\"rate_limited\""
            )),
            Some(1),
            "{text}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_waits_at_least_retry_after() {
        let store = store();
        let sink = FakeSink::default();
        sink.script(vec![Err(SendError::RateLimited {
            retry_after: Duration::from_secs(7),
        })]);
        store
            .enqueue(
                "s",
                vec![Change::Upsert {
                    item: item("A", "a"),
                }],
            )
            .await
            .expect("enqueue");
        let relay = spawn("s", store.clone(), sink.clone(), config(1));
        sink.wait_calls(2).await;
        assert_gap(gaps(&sink.calls())[0], Duration::from_secs(7));
        relay.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_key_pauses_the_shop_until_resumed() {
        let store = store();
        let sink = FakeSink::default();
        sink.script(vec![Err(SendError::Unauthorized { status: 401 })]);
        store
            .enqueue(
                "lagos",
                vec![Change::Upsert {
                    item: item("A", "a"),
                }],
            )
            .await
            .expect("enqueue");
        let relay = spawn("lagos", store.clone(), sink.clone(), config(1));
        sink.wait_calls(1).await;
        let mut state = relay.watch_state();
        state
            .wait_for(|s| s.paused.is_some())
            .await
            .expect("relay alive");
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(sink.calls().len(), 1, "a paused shop sends nothing");
        let status = &store.status(Some("lagos")).await.expect("status")[0];
        let reason = status.paused.as_deref().expect("paused in the store");
        assert!(reason.contains("snapact_key"), "{reason}");
        assert!(reason.contains("\"lagos\""), "{reason}");
        assert_eq!(status.pending, 1, "nothing is lost while paused");
        relay.resume();
        sink.wait_calls(2).await;
        while pending(&store, "lagos").await > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let status = &store.status(Some("lagos")).await.expect("status")[0];
        assert_eq!(status.paused, None);
        assert_eq!(relay.state().paused, None);
        relay.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn changes_older_than_max_age_are_parked() {
        let store = store();
        let sink = FakeSink::default();
        sink.script(
            (0..100)
                .map(|_| Err(SendError::Transient("timed out".into())))
                .collect(),
        );
        store
            .enqueue(
                "s",
                vec![Change::Upsert {
                    item: item("A", "a"),
                }],
            )
            .await
            .expect("enqueue");
        let mut cfg = config(3);
        cfg.max_age = Duration::from_secs(10);
        let relay = spawn("s", store.clone(), sink.clone(), cfg);
        while pending(&store, "s").await > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let parked = store.parked(Some("s")).await.expect("parked");
        assert_eq!(parked.len(), 1);
        assert!(
            parked[0].reason.contains("maximum age of 10s"),
            "{}",
            parked[0].reason
        );
        assert!(
            parked[0].reason.contains("timed out"),
            "{}",
            parked[0].reason
        );
        // Parked at the first failure after 10 s, not before.
        let calls = sink.calls();
        let last = calls.last().expect("calls").0 - calls[0].0;
        assert!(last > Duration::from_secs(10), "{last:?}");
        relay.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_arriving_while_its_batch_is_in_flight_is_delivered_after() {
        let store = store();
        let sink = FakeSink::default();
        let gate = Arc::new(Notify::new());
        *sink.0.gate.lock().expect("lock") = Some(gate.clone());
        store
            .enqueue(
                "s",
                vec![Change::Upsert {
                    item: item("A", "old"),
                }],
            )
            .await
            .expect("enqueue");
        let relay = spawn("s", store.clone(), sink.clone(), config(1));
        sink.0.entered.notified().await;
        let report = store
            .enqueue(
                "s",
                vec![Change::Upsert {
                    item: item("A", "new"),
                }],
            )
            .await
            .expect("enqueue");
        assert_eq!(report.coalesced, 1);
        gate.notify_one();
        relay.notify();
        sink.wait_calls(2).await;
        while pending(&store, "s").await > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let names: Vec<_> = sink
            .calls()
            .iter()
            .map(|(_, items)| items[0].item.name.clone())
            .collect();
        assert_eq!(names, ["old", "new"]);
        relay.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_batch_is_retried_item_by_item() {
        let store = store();
        let sink = FakeSink::default();
        sink.script(vec![
            Err(SendError::Permanent("HTTP 400: bad batch".into())),
            Ok(()),
            Err(SendError::Permanent("HTTP 422: bad item".into())),
        ]);
        store
            .enqueue(
                "s",
                vec![
                    Change::Upsert {
                        item: item("A", "a"),
                    },
                    Change::Upsert {
                        item: item("B", "b"),
                    },
                ],
            )
            .await
            .expect("enqueue");
        let relay = spawn("s", store.clone(), sink.clone(), config(1));
        while pending(&store, "s").await > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let parked = store.parked(Some("s")).await.expect("parked");
        assert_eq!(parked.len(), 1);
        assert_eq!(parked[0].external_ref, "B");
        assert_eq!(parked[0].reason, "HTTP 422: bad item");
        let status = &store.status(Some("s")).await.expect("status")[0];
        assert_eq!(status.acknowledged, 1);
        relay.shutdown().await;
    }
}
