//! A shop's admission to its POS: a token bucket (requests per second with
//! a burst) and a cap on requests in flight. Every attempt, retries
//! included, passes through here: the POS sees at most what the operator
//! allowed, however many adapter calls run at once.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use super::PosError;

/// Tokens refill continuously at `rate` per second up to `burst`. A request
/// that finds none reserves the next one (the balance goes negative) and
/// waits for it, so waiting requests are served in order, at the rate.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Bucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Take a token: how long to wait for it, or `None` (and nothing
    /// taken) when that would be longer than `max_wait`.
    fn reserve(&mut self, now: Instant, max_wait: Duration) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Some(Duration::ZERO);
        }
        let wait = Duration::try_from_secs_f64((1.0 - self.tokens) / self.rate).ok()?;
        if wait > max_wait {
            return None;
        }
        self.tokens -= 1.0;
        Some(wait)
    }
}

/// One shop's rate and concurrency limits.
#[derive(Debug)]
pub(crate) struct Admission {
    bucket: Mutex<Bucket>,
    slots: Semaphore,
}

impl Admission {
    /// `rate` requests per second (> 0) with bursts of `burst`, at most
    /// `concurrency` in flight.
    pub(crate) fn new(rate: f64, burst: u32, concurrency: usize) -> Self {
        Admission {
            bucket: Mutex::new(Bucket::new(rate, burst, Instant::now())),
            slots: Semaphore::new(concurrency.max(1)),
        }
    }

    /// Wait for a token and a free slot, but not past `until`: a request
    /// that could not start by then is [`PosError::RateLimited`] at once,
    /// rather than sent too late to matter. The slot is held until the
    /// permit is dropped.
    pub(crate) async fn admit(&self, until: Instant) -> Result<SemaphorePermit<'_>, PosError> {
        let now = Instant::now();
        let wait = {
            let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
            bucket.reserve(now, until.saturating_duration_since(now))
        };
        match wait {
            None => return Err(PosError::RateLimited),
            Some(wait) if !wait.is_zero() => tokio::time::sleep(wait).await,
            Some(_) => {}
        }
        match tokio::time::timeout_at(until, self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            // Timed out, or closed (never: the semaphore is not closed).
            _ => Err(PosError::RateLimited),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// `elapsed` is `expected`, give or take the timer wheel's millisecond.
    fn about(elapsed: Duration, expected: Duration) -> bool {
        elapsed >= expected && elapsed <= expected + ms(5)
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_the_rate_applies() {
        let admission = Admission::new(2.0, 3, 100);
        let start = Instant::now();
        let mut started = Vec::new();
        for _ in 0..6 {
            let _permit = admission
                .admit(start + Duration::from_secs(60))
                .await
                .expect("admitted");
            started.push(start.elapsed());
        }
        let expected = [0, 0, 0, 500, 1000, 1500].map(ms);
        for (got, want) in started.iter().zip(expected) {
            assert!(
                about(*got, want),
                "started at {started:?}, want {expected:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_refill_while_idle_up_to_the_burst() {
        let admission = Admission::new(1.0, 2, 100);
        let far = Instant::now() + Duration::from_secs(600);
        for _ in 0..2 {
            drop(admission.admit(far).await.expect("burst"));
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
        // 30 s idle refills 2 tokens, not 30: two go at once, the third waits.
        let start = Instant::now();
        drop(admission.admit(far).await.expect("refilled"));
        drop(admission.admit(far).await.expect("refilled"));
        assert_eq!(start.elapsed(), Duration::ZERO);
        drop(admission.admit(far).await.expect("waits"));
        assert!(about(start.elapsed(), Duration::from_secs(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_further_away_than_the_limit_is_rate_limited_at_once() {
        let admission = Admission::new(1.0, 1, 100);
        let start = Instant::now();
        let until = start + Duration::from_millis(2500);
        // Reserve the tokens due at 0 s, 1 s and 2 s without waiting for them.
        {
            let mut bucket = admission.bucket.lock().expect("lock");
            for want in [0, 1000, 2000] {
                assert_eq!(bucket.reserve(start, until - start), Some(ms(want)));
            }
        }
        // The next one is due at 3 s, after `until`.
        assert_eq!(
            admission.admit(until).await.err(),
            Some(PosError::RateLimited)
        );
        assert_eq!(start.elapsed(), Duration::ZERO, "no waiting to refuse");
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_than_the_concurrency_limit_hold_a_slot() {
        let admission = Arc::new(Admission::new(1000.0, 1000, 2));
        let far = Instant::now() + Duration::from_secs(600);
        let first = admission.admit(far).await.expect("slot 1");
        let second = admission.admit(far).await.expect("slot 2");
        // A third waits for a slot, and gives up at its limit.
        let soon = Instant::now() + Duration::from_secs(1);
        assert_eq!(
            admission.admit(soon).await.err(),
            Some(PosError::RateLimited)
        );
        drop(first);
        let third = admission.admit(far).await.expect("a slot was freed");
        drop((second, third));
    }
}
