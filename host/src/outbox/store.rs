//! The storage contract of the outbox. [`SqliteStore`](super::SqliteStore) is
//! the embedded implementation; a PostgreSQL one (leases with
//! `FOR UPDATE SKIP LOCKED`) can implement the same trait for several host
//! replicas.

use std::future::Future;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::Clock;
use crate::catalog::{Change, Item};
use crate::snapact::UpsertItem;

/// What [`Store::enqueue`] did with a batch of changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EnqueueReport {
    /// New pending changes.
    pub queued: usize,
    /// Changes that replaced a pending change for the same item.
    pub coalesced: usize,
    /// Changes identical to what SnapAct already has.
    pub skipped_identical: usize,
    /// Changes older (by `source_version`) than the state already known.
    pub skipped_older: usize,
    /// Stock changes kept until their item arrives in full.
    pub stock_waiting: usize,
    /// Earlier waiting stock changes applied to an item that arrived.
    pub stock_applied: usize,
}

/// One change leased for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedChange {
    /// Row id (arrival order).
    pub id: i64,
    /// The item's key.
    pub external_ref: String,
    /// The row's content revision at lease time: a change coalesced into the
    /// row while the batch is in flight bumps it, and the acknowledgement
    /// then leaves the newer content pending.
    pub revision: i64,
    /// What to do.
    pub op: LeasedOp,
    /// Earlier failed deliveries.
    pub attempts: u32,
    /// When the row first became pending.
    pub first_enqueued_at: SystemTime,
    /// Version of the stock state merged into the item (host bookkeeping
    /// for ordering later stock changes).
    pub stock_version: Option<String>,
}

/// The operation of a leased change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "leases are short-lived vectors of at most a batch; a box per change buys nothing"
)]
pub enum LeasedOp {
    /// Upsert this state.
    Upsert(UpsertItem),
    /// Delete the item.
    Delete,
}

/// Changes of one shop leased for one delivery attempt, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The shop.
    pub shop: String,
    /// The changes.
    pub changes: Vec<LeasedChange>,
}

/// The result of delivering one leased change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// SnapAct stored the upsert.
    Upserted,
    /// SnapAct deleted the item (or did not have it).
    Deleted,
    /// SnapAct refused it; park with this reason.
    Rejected(String),
    /// Try again at the `retry_at` given to [`Store::complete`].
    Retry(String),
    /// Not sent (the shop was paused mid-lease); stays due as it was.
    NotAttempted,
}

/// A change SnapAct refused or that aged out, kept for the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParkedChange {
    /// Id for `retry_parked`.
    pub id: i64,
    /// The shop.
    pub shop: String,
    /// The item's key.
    pub external_ref: String,
    /// `"upsert"` or `"delete"`.
    pub op: String,
    /// Why it was parked.
    pub reason: String,
    /// Failed deliveries before parking.
    pub attempts: u32,
    /// When it first became pending.
    #[serde(serialize_with = "ser_time")]
    pub first_enqueued_at: SystemTime,
    /// When it was parked.
    #[serde(serialize_with = "ser_time")]
    pub parked_at: SystemTime,
    /// The refused item (upserts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Item>,
}

/// Which parked changes to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParkedSelection {
    /// All of the shop's.
    All,
    /// These ids.
    Ids(Vec<i64>),
}

/// What [`Store::retry_parked`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetryReport {
    /// Put back into the outbox.
    pub requeued: usize,
    /// Dropped: a newer change for the same item is pending or acknowledged.
    pub superseded: usize,
    /// Ids that are not parked changes of this shop.
    pub not_found: Vec<i64>,
}

/// One shop's sync state, for `outbox status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShopStatus {
    /// The shop.
    pub shop: String,
    /// Changes waiting for delivery.
    pub pending: u64,
    /// Stock changes for items never seen in full.
    pub pending_stock: u64,
    /// Changes SnapAct refused or that aged out.
    pub parked: u64,
    /// Items SnapAct has acknowledged.
    pub acknowledged: u64,
    /// When the oldest pending change arrived.
    #[serde(serialize_with = "ser_opt_time")]
    pub oldest_pending_since: Option<SystemTime>,
    /// Its age now.
    pub oldest_pending_age_secs: Option<u64>,
    /// Earliest scheduled retry of a pending change.
    #[serde(serialize_with = "ser_opt_time")]
    pub next_attempt_at: Option<SystemTime>,
    /// Why delivery is paused (wrong or revoked key), if it is.
    pub paused: Option<String>,
    /// Last acknowledged delivery.
    #[serde(serialize_with = "ser_opt_time")]
    pub last_success_at: Option<SystemTime>,
    /// Last failed request.
    #[serde(serialize_with = "ser_opt_time")]
    pub last_failure_at: Option<SystemTime>,
    /// What that failure was.
    pub last_error: Option<String>,
    /// Audit counters since the store was created.
    pub delivered: DeliveryCounts,
}

/// Audit counters per shop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryCounts {
    /// Upsert batches acknowledged.
    pub batches: u64,
    /// Items acknowledged.
    pub upserted: u64,
    /// Deletes acknowledged.
    pub deleted: u64,
    /// Items refused by SnapAct.
    pub rejected: u64,
    /// Requests that failed (5xx, 429, network, 401).
    pub failed_requests: u64,
}

/// How a wait for a drained outbox ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainOutcome {
    /// Nothing of the shop is pending (parked changes may remain).
    Drained(ShopStatus),
    /// The shop is paused; waiting longer would not help.
    Paused(ShopStatus),
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("outbox database error while {what}: {error}")]
    Sqlite {
        /// The operation.
        what: &'static str,
        /// The cause: part of the message, and so not also a `source`
        /// (which `{:#}` would print a second time).
        error: rusqlite::Error,
    },
    /// A stored row could not be read back.
    #[error("outbox row {row} is unreadable: {reason}")]
    Corrupt {
        /// Which row.
        row: String,
        /// Why.
        reason: String,
    },
    /// The database was written by a newer host.
    #[error(
        "the outbox database has schema version {found}, newer than this host's {supported}; \
         upgrade snapact-host or point store.path at another file"
    )]
    SchemaTooNew {
        /// In the file.
        found: i64,
        /// Known here.
        supported: i64,
    },
    /// The blocking worker died.
    #[error("outbox worker failed: {0}")]
    Worker(String),
}

/// The outbox storage. Implementations make every write durable before the
/// returned future completes.
pub trait Store: Send + Sync + 'static {
    /// The clock timestamps come from.
    fn clock(&self) -> &dyn Clock;

    /// Writes `changes` for `shop` in one transaction: coalesced per item,
    /// identical and older changes skipped, stock merged onto the last known
    /// full item. Durable when it returns.
    fn enqueue(
        &self,
        shop: &str,
        changes: Vec<Change>,
    ) -> impl Future<Output = Result<EnqueueReport, StoreError>> + Send;

    /// Like [`Store::enqueue`], and saves the poll cursor `(name, value)` in
    /// the same transaction: a cursor never gets ahead of the changes it
    /// covers, so a crash resumes the poll where its changes stopped.
    fn enqueue_with_cursor(
        &self,
        shop: &str,
        changes: Vec<Change>,
        cursor: Option<(&str, &str)>,
    ) -> impl Future<Output = Result<EnqueueReport, StoreError>> + Send;

    /// Up to `limit` of the shop's due changes, in arrival order.
    fn lease(
        &self,
        shop: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Lease, StoreError>> + Send;

    /// When the shop's next pending change is due, if any is pending.
    fn next_due(
        &self,
        shop: &str,
    ) -> impl Future<Output = Result<Option<SystemTime>, StoreError>> + Send;

    /// Records the outcome of a lease in one transaction. `outcomes[i]` is
    /// for `lease.changes[i]`. `Retry` rows get `retry_at`, or are parked
    /// when they have been pending longer than `max_age`.
    fn complete(
        &self,
        lease: Lease,
        outcomes: Vec<Outcome>,
        retry_at: SystemTime,
        max_age: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Pauses (`Some(reason)`) or resumes (`None`) a shop's delivery.
    fn set_paused(
        &self,
        shop: &str,
        reason: Option<String>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Status of one shop, or of every shop the store knows.
    fn status(
        &self,
        shop: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ShopStatus>, StoreError>> + Send;

    /// Parked changes of one shop or all, oldest first.
    fn parked(
        &self,
        shop: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ParkedChange>, StoreError>> + Send;

    /// Puts parked changes back into the outbox, unless a newer change for
    /// the same item superseded them.
    fn retry_parked(
        &self,
        shop: &str,
        which: ParkedSelection,
    ) -> impl Future<Output = Result<RetryReport, StoreError>> + Send;

    /// A shop's poll cursor.
    fn cursor(
        &self,
        shop: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Saves a shop's poll cursor.
    fn set_cursor(
        &self,
        shop: &str,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Waits until nothing of `shop` is pending (checking every `poll`), or
/// until the shop is paused. Works across processes (`import --wait` while
/// `run` delivers), since it only reads the store.
pub async fn wait_drained<S: Store>(
    store: &S,
    shop: &str,
    poll: Duration,
) -> Result<DrainOutcome, StoreError> {
    loop {
        let status = store
            .status(Some(shop))
            .await?
            .into_iter()
            .next()
            .unwrap_or_else(|| ShopStatus::empty(shop));
        if status.pending == 0 {
            return Ok(DrainOutcome::Drained(status));
        }
        if status.paused.is_some() {
            return Ok(DrainOutcome::Paused(status));
        }
        tokio::time::sleep(poll).await;
    }
}

impl ShopStatus {
    /// A shop with nothing recorded.
    pub fn empty(shop: &str) -> Self {
        ShopStatus {
            shop: shop.to_owned(),
            pending: 0,
            pending_stock: 0,
            parked: 0,
            acknowledged: 0,
            oldest_pending_since: None,
            oldest_pending_age_secs: None,
            next_attempt_at: None,
            paused: None,
            last_success_at: None,
            last_failure_at: None,
            last_error: None,
            delivered: DeliveryCounts::default(),
        }
    }
}

pub(crate) fn ser_time<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::snapact::wire::rfc3339(*t))
}

pub(crate) fn ser_opt_time<S: serde::Serializer>(
    t: &Option<SystemTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ser_time(t, s),
        None => s.serialize_none(),
    }
}
