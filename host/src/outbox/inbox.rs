//! The inbox: SnapAct webhook events, written durably (keyed by event id)
//! before the host answers 2xx, then processed by the shop's order worker
//! ([`crate::orders`]). A redelivered event finds its id and is not
//! processed again.

use std::future::Future;
use std::time::SystemTime;

use serde::Serialize;

use super::StoreError;
use super::store::{ser_opt_time, ser_time};
use crate::runtime::PosOrderRef;

/// What the host does with a new event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The order worker processes it (`order.paid`, `order.status.updated`).
    Process,
    /// Kept for reconciliation only (`catalog.item.*`).
    Recorded,
    /// A type this host does not know: kept and logged.
    Ignored,
}

impl Disposition {
    pub(crate) fn state(self) -> &'static str {
        match self {
            Disposition::Process => "pending",
            Disposition::Recorded => "recorded",
            Disposition::Ignored => "ignored",
        }
    }
}

/// An event as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// `X-SnapAct-Event-Id`.
    pub event_id: String,
    /// The envelope's type.
    pub event_type: String,
    /// The order it is about, when it is about one.
    pub order_id: Option<String>,
    /// The raw body SnapAct signed.
    pub body: Vec<u8>,
    /// What to do with it.
    pub disposition: Disposition,
}

/// An event due for processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEvent {
    /// The event id.
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// The raw body.
    pub body: Vec<u8>,
    /// Earlier failed attempts.
    pub attempts: u32,
    /// When it arrived.
    pub received_at: SystemTime,
}

/// How processing an event ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventResult {
    /// Done; for `order.paid`, the POS's reference of the order created.
    Done {
        /// `(SnapAct order id, POS reference)` to remember.
        pushed: Option<(String, PosOrderRef)>,
    },
    /// Failed for now: try again at `at`.
    Retry {
        /// Why, for `outbox status` and the log.
        error: String,
        /// When.
        at: SystemTime,
    },
    /// Not yet: another event must be processed first (no attempt counted).
    Wait {
        /// When to look again.
        at: SystemTime,
    },
    /// Failed for good: keep it, with the reason, for the operator.
    Park(String),
}

/// Where a paid order stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderProgress {
    /// Created in the POS.
    Pushed(PosOrderRef),
    /// Its `order.paid` is in the inbox, not yet pushed.
    Pending,
    /// Parked: it will not be pushed unless the operator retries it.
    Parked,
    /// This host never received its `order.paid`.
    Unknown,
}

/// An event that failed for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParkedEvent {
    /// The shop.
    pub shop: String,
    /// The event id (`outbox retry --event ID`).
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// The order it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Why it was parked.
    pub reason: String,
    /// Failed attempts.
    pub attempts: u32,
    /// When it arrived.
    #[serde(serialize_with = "ser_time")]
    pub received_at: SystemTime,
    /// When it was parked.
    #[serde(serialize_with = "ser_opt_time")]
    pub parked_at: Option<SystemTime>,
}

/// Counts of a shop's inbox, for `outbox status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InboxCounts {
    /// Waiting to be processed.
    pub pending: u64,
    /// Failed for good.
    pub parked: u64,
    /// Processed.
    pub done: u64,
    /// Orders created in the POS.
    pub orders_pushed: u64,
}

/// Inbox storage; implemented by [`SqliteStore`](super::SqliteStore).
pub trait InboxStore: Send + Sync + 'static {
    /// Writes the event durably unless its id is already there. `true`: new.
    fn record_event(
        &self,
        shop: &str,
        event: NewEvent,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Up to `limit` events of the shop due now, in arrival order.
    fn due_events(
        &self,
        shop: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<InboxEvent>, StoreError>> + Send;

    /// When the shop's next pending event is due, if one is pending.
    fn next_event_due(
        &self,
        shop: &str,
    ) -> impl Future<Output = Result<Option<SystemTime>, StoreError>> + Send;

    /// Records how processing ended, in one transaction with the order
    /// reference it produced.
    fn finish_event(
        &self,
        shop: &str,
        event_id: &str,
        result: EventResult,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Where the shop's order `order_id` stands.
    fn order_progress(
        &self,
        shop: &str,
        order_id: &str,
    ) -> impl Future<Output = Result<OrderProgress, StoreError>> + Send;

    /// Parked events of one shop or all, oldest first.
    fn parked_events(
        &self,
        shop: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ParkedEvent>, StoreError>> + Send;

    /// Makes parked events of `shop` (one, or all) pending again; returns
    /// how many.
    fn retry_parked_events(
        &self,
        shop: &str,
        event_id: Option<&str>,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// The shop's inbox counts.
    fn inbox_counts(
        &self,
        shop: &str,
    ) -> impl Future<Output = Result<InboxCounts, StoreError>> + Send;
}
