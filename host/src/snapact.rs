//! SnapAct Connect: the client the relay delivers through, and the wire types
//! (DESIGN §7). This module is the only place that knows SnapAct's JSON.
//!
//! The relay talks to SnapAct through the small [`CatalogSink`] trait so its
//! retry and parking logic can be tested against a fake; [`ConnectClient`] is
//! the real implementation.
//!
//! ```no_run
//! # async fn demo() -> Result<(), snapact_host::snapact::ClientError> {
//! use snapact_host::snapact::{ConnectClient, ConnectConfig};
//! let client = ConnectClient::new(
//!     &ConnectConfig::new("http://127.0.0.1:8787"),
//!     secrecy::SecretString::from("sandbox-key"),
//! )?;
//! client.delete("V1").await.ok();
//! # Ok(()) }
//! ```

pub mod client;
pub mod events;
pub mod signing;
pub mod wire;

use std::future::Future;
use std::time::{Duration, SystemTime};

pub use client::{ClientError, ConnectClient, ConnectConfig};

use crate::catalog::Item;

/// An item to upsert, with the moment the host verified its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertItem {
    /// The full item.
    pub item: Item,
    /// When the host saw this state at the POS (sent as `verified_at`).
    pub verified_at: SystemTime,
}

/// SnapAct's verdict on one item of a delivered batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Stored by SnapAct.
    Accepted,
    /// Refused by SnapAct, with its reason; retrying cannot help.
    Rejected(String),
    /// SnapAct's answer did not mention the item; deliver it again.
    Missing,
}

/// Why a request to SnapAct did not produce an answer about its items.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// 401/403: the shop's Connect API key is wrong or revoked.
    #[error("SnapAct refused the Connect API key (HTTP {status}); it is wrong or revoked")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
    },
    /// 429: wait at least this long before the next request.
    #[error("SnapAct rate limited the shop; retry after {}s", retry_after.as_secs_f64())]
    RateLimited {
        /// From `Retry-After`, or [`wire::DEFAULT_RETRY_AFTER`].
        retry_after: Duration,
    },
    /// 5xx, timeout, refused or dropped connection: the same request may succeed later.
    #[error("SnapAct is unreachable or failing: {0}")]
    Transient(String),
    /// Any other 4xx, or a 2xx whose body is not SnapAct's answer: the same
    /// request will fail again.
    #[error("SnapAct refused the request: {0}")]
    Permanent(String),
}

/// Where the relay delivers a shop's changes. Implemented by [`ConnectClient`]
/// and by fakes in tests.
pub trait CatalogSink: Send + Sync + 'static {
    /// Upserts a batch (at most [`CatalogSink::batch_size`] items); the outcomes
    /// are in the order of `items`.
    fn upsert(
        &self,
        items: &[UpsertItem],
    ) -> impl Future<Output = Result<Vec<ItemOutcome>, SendError>> + Send;

    /// Deletes one item; an item SnapAct does not have counts as deleted.
    fn delete(&self, external_ref: &str) -> impl Future<Output = Result<(), SendError>> + Send;

    /// The largest batch [`CatalogSink::upsert`] accepts.
    fn batch_size(&self) -> usize {
        wire::DEFAULT_BATCH_SIZE
    }
}
