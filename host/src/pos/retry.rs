//! When a POS request is sent again. Only idempotent methods (GET, PUT,
//! DELETE) are retried, and only for failures a retry can cure: no
//! connection, no answer in time, 429, 502, 503, 504. POST and PATCH are
//! sent once, whatever happens: a retried order could be created twice; the
//! adapter sees the failure and decides.
//!
//! A `Retry-After` the POS sends is honoured exactly; when it asks for more
//! than [`RetryPolicy::max_retry_after`], or more than the caller's deadline
//! leaves, the answer goes back to the adapter as it is (its status and
//! `Retry-After` tell the caller when to come back) instead of waiting.

use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::{PosError, PosMethod, PosResponse};
use crate::outbox::Backoff;
use crate::snapact::wire::parse_retry_after;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: never retry).
    pub max_attempts: u32,
    /// Full-jitter backoff between attempts without a `Retry-After`.
    pub backoff: Backoff,
    /// The longest `Retry-After` waited for.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, backoff up to 200 ms then 400 ms, `Retry-After` up to 10 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            backoff: Backoff {
                base: Duration::from_millis(200),
                cap: Duration::from_secs(2),
            },
            max_retry_after: Duration::from_secs(10),
        }
    }
}

/// Why an attempt is repeated, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Status(u16),
    Timeout,
    Connection,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Status(s) => write!(f, "HTTP {s}"),
            Reason::Timeout => f.write_str("timeout"),
            Reason::Connection => f.write_str("connection failure"),
        }
    }
}

/// What to do after attempt number `attempt` (1-based) ended in `outcome`:
/// `None` to hand it back, or the wait before the next attempt.
pub(crate) fn next_wait(
    policy: &RetryPolicy,
    method: PosMethod,
    attempt: u32,
    outcome: &Result<PosResponse, PosError>,
) -> Option<(Duration, Reason)> {
    if !method.is_idempotent() || attempt >= policy.max_attempts {
        return None;
    }
    let backoff = || policy.backoff.delay(attempt - 1, &mut rand::rng());
    match outcome {
        Ok(resp) if matches!(resp.status, 429 | 502 | 503 | 504) => {
            let reason = Reason::Status(resp.status);
            match retry_after(resp) {
                Some(wait) if wait > policy.max_retry_after => None,
                Some(wait) => Some((wait, reason)),
                None => Some((backoff(), reason)),
            }
        }
        Ok(_) => None,
        Err(PosError::Timeout) => Some((backoff(), Reason::Timeout)),
        Err(PosError::Connection(_)) => Some((backoff(), Reason::Connection)),
        Err(PosError::ResponseTooLarge(_) | PosError::RateLimited | PosError::Refused(_)) => None,
    }
}

fn retry_after(resp: &PosResponse) -> Option<Duration> {
    resp.headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, value)| parse_retry_after(value, SystemTime::now()))
}

/// Run `attempt` (given its 1-based number) until it succeeds, fails in a
/// way no retry cures, runs out of attempts, or the next wait would end
/// after `deadline`. `on_retry` is told each wait before it starts.
pub(crate) async fn run<F, Fut>(
    policy: &RetryPolicy,
    method: PosMethod,
    deadline: Option<Instant>,
    mut attempt: F,
    mut on_retry: impl FnMut(u32, Duration, Reason),
) -> Result<PosResponse, PosError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<PosResponse, PosError>>,
{
    let mut n = 1;
    loop {
        let outcome = attempt(n).await;
        let Some((wait, reason)) = next_wait(policy, method, n, &outcome) else {
            return outcome;
        };
        if deadline.is_some_and(|d| Instant::now() + wait >= d) {
            return outcome;
        }
        on_retry(n, wait, reason);
        tokio::time::sleep(wait).await;
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn answer(status: u16, retry_after: Option<&str>) -> Result<PosResponse, PosError> {
        Ok(PosResponse {
            status,
            headers: retry_after
                .map(|v| vec![("retry-after".to_string(), v.to_string())])
                .unwrap_or_default(),
            body: Vec::new(),
        })
    }

    /// Run against a scripted POS; returns the outcome and when (since the
    /// start) each attempt began.
    async fn scripted(
        policy: &RetryPolicy,
        method: PosMethod,
        deadline: Option<Duration>,
        script: Vec<Result<PosResponse, PosError>>,
    ) -> (Result<PosResponse, PosError>, Vec<Duration>) {
        let start = Instant::now();
        let script = Mutex::new(script.into_iter());
        let began = Mutex::new(Vec::new());
        let outcome = run(
            policy,
            method,
            deadline.map(|d| start + d),
            |_| {
                began.lock().expect("lock").push(start.elapsed());
                let next = script.lock().expect("lock").next();
                async move { next.unwrap_or_else(|| answer(200, None)) }
            },
            |_, _, _| {},
        )
        .await;
        (outcome, began.into_inner().expect("lock"))
    }

    fn status(outcome: &Result<PosResponse, PosError>) -> u16 {
        outcome.as_ref().map(|r| r.status).expect("an answer")
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            backoff: Backoff {
                base: Duration::from_millis(100),
                cap: Duration::from_millis(100),
            },
            ..RetryPolicy::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_exactly() {
        let (outcome, began) = scripted(
            &quick(),
            PosMethod::Get,
            None,
            vec![answer(429, Some("7")), answer(503, Some("2"))],
        )
        .await;
        assert_eq!(status(&outcome), 200);
        assert_eq!(began.len(), 3);
        assert!(began[1] >= Duration::from_secs(7), "{began:?}");
        assert!(began[1] < Duration::from_millis(7_010), "{began:?}");
        let second_wait = began[2] - began[1];
        assert!(second_wait >= Duration::from_secs(2), "{began:?}");
        assert!(second_wait < Duration::from_millis(2_010), "{began:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_beyond_the_cap_or_the_deadline_is_handed_back() {
        let policy = RetryPolicy {
            max_retry_after: Duration::from_secs(10),
            ..quick()
        };
        let (outcome, began) =
            scripted(&policy, PosMethod::Get, None, vec![answer(429, Some("11"))]).await;
        assert_eq!(status(&outcome), 429);
        assert_eq!(began.len(), 1, "no retry past the cap");
        let (outcome, began) = scripted(
            &policy,
            PosMethod::Get,
            Some(Duration::from_secs(5)),
            vec![answer(429, Some("6"))],
        )
        .await;
        assert_eq!(status(&outcome), 429);
        assert_eq!(began, [Duration::ZERO], "no waiting past the deadline");
    }

    #[tokio::test(start_paused = true)]
    async fn post_and_patch_are_sent_once() {
        for method in [PosMethod::Post, PosMethod::Patch] {
            for first in [
                answer(503, None),
                answer(429, Some("1")),
                Err(PosError::Timeout),
                Err(PosError::Connection("reset".into())),
            ] {
                let expected = first.clone();
                let (outcome, began) = scripted(&quick(), method, None, vec![first]).await;
                assert_eq!(outcome, expected, "{method:?}");
                assert_eq!(began.len(), 1, "{method:?} was retried");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn idempotent_methods_retry_transient_failures_up_to_the_limit() {
        for method in [PosMethod::Get, PosMethod::Put, PosMethod::Delete] {
            let (outcome, began) = scripted(
                &quick(),
                method,
                None,
                vec![
                    Err(PosError::Connection("refused".into())),
                    Err(PosError::Timeout),
                    answer(502, None),
                    answer(200, None),
                ],
            )
            .await;
            assert_eq!(
                status(&outcome),
                502,
                "{method:?}: 3 attempts, then the last answer"
            );
            assert_eq!(began.len(), 3, "{method:?}");
        }
        for final_answer in [answer(404, None), answer(500, None), answer(200, None)] {
            let expected = final_answer.clone();
            let (outcome, began) =
                scripted(&quick(), PosMethod::Get, None, vec![final_answer]).await;
            assert_eq!(outcome, expected);
            assert_eq!(began.len(), 1, "not a transient failure");
        }
        for failure in [PosError::ResponseTooLarge(10), PosError::RateLimited] {
            let (outcome, began) =
                scripted(&quick(), PosMethod::Get, None, vec![Err(failure.clone())]).await;
            assert_eq!(outcome, Err(failure));
            assert_eq!(began.len(), 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_without_retry_after_stays_within_the_schedule() {
        let (_, began) = scripted(
            &quick(),
            PosMethod::Get,
            None,
            vec![answer(503, None), answer(503, None)],
        )
        .await;
        assert_eq!(began.len(), 3);
        for pair in began.windows(2) {
            assert!(pair[1] - pair[0] <= Duration::from_millis(105), "{began:?}");
        }
    }
}
