//! The durable outbox between adapters and SnapAct (DESIGN §8).
//!
//! Changes are written with [`Store::enqueue`] (one transaction for many
//! changes, durable when it returns), coalesced per `(shop, external_ref)`
//! and compared with what SnapAct already acknowledged, so SnapAct only ever
//! sees the newest state of an item, once. One [`Relay`] per shop leases the
//! due changes, delivers them through a [`CatalogSink`](crate::snapact::CatalogSink)
//! and records the outcome in one transaction. A `kill -9` at any moment
//! loses nothing: a change leaves the outbox only in the transaction that
//! records SnapAct's acknowledgement, and re-sending an upsert is harmless.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use snapact_host::outbox::{relay, RelayConfig, SqliteStore, Store};
//! use snapact_host::snapact::{ConnectClient, ConnectConfig};
//! let store = Arc::new(SqliteStore::open("snapact-host.db")?);
//! let client = ConnectClient::new(&ConnectConfig::new("http://127.0.0.1:8787"), "key".into())?;
//! let relay = relay::spawn("lagos-main", store.clone(), client, RelayConfig::default());
//! store.enqueue("lagos-main", vec![]).await?;
//! relay.notify();
//! relay.shutdown().await;
//! # Ok(()) }
//! ```

pub mod backoff;
pub mod group;
pub mod inbox;
pub mod relay;
pub mod sqlite;
pub mod store;

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

pub use backoff::Backoff;
pub use group::GroupCommit;
pub use inbox::{
    Disposition, EventResult, InboxCounts, InboxEvent, InboxStore, NewEvent, OrderProgress,
    ParkedEvent,
};
pub use relay::{
    DeliveryEvent, DuplicateRelay, Relay, RelayConfig, RelayHandle, RelayState, Relays,
};
pub use sqlite::{ShopGauges, SqliteStore};
pub use store::{
    DrainOutcome, EnqueueReport, Lease, LeasedChange, LeasedOp, Outcome, ParkedChange,
    ParkedSelection, RetryReport, ShopStatus, Store, StoreError, wait_drained,
};

/// Wall-clock time as the outbox records it. Injected so tests can run with
/// paused tokio time.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Wall time derived from tokio's clock, so `tokio::time::pause()` and
/// `advance()` move it. For tests; production uses [`SystemClock`].
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    wall: SystemTime,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// Starts at `wall` now.
    pub fn starting_at(wall: SystemTime) -> Self {
        TokioClock {
            wall,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.wall + self.start.elapsed()
    }
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// Orders two source versions: numerically when both are integers (so "10"
/// is newer than "9"), else as strings (RFC 3339 timestamps in one format
/// sort correctly).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    match (a.trim().parse::<i128>(), b.trim().parse::<i128>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically_when_they_can() {
        assert_eq!(compare_versions("10", "9"), Ordering::Greater);
        assert_eq!(compare_versions("9", "10"), Ordering::Less);
        assert_eq!(compare_versions("7", "7"), Ordering::Equal);
        assert_eq!(
            compare_versions("2026-01-02T00:00:00Z", "2026-01-01T23:59:59Z"),
            Ordering::Greater
        );
        // Mixed: plain string order, deterministic.
        assert_eq!(compare_versions("b", "10"), Ordering::Greater);
    }
}
