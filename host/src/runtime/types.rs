//! Host mirrors of the WIT records the runtime passes in and out, other than
//! the catalog ones (those live in [`crate::catalog`]). Plain data, with serde
//! so other modules can store them.

use crate::catalog::{Change, Money, Rejection};
use serde::{Deserialize, Serialize};

/// A webhook the POS sent, as the host received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// The public URL the POS posted to (some vendors sign it).
    pub url: String,
    /// Headers, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The request's content type.
    pub content_type: String,
    /// The raw body.
    pub body: Vec<u8>,
}

/// What a webhook means for the shop's catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookOutcome {
    /// Changes to deliver.
    pub changes: Vec<Change>,
    /// Records that could not be mapped.
    pub rejected: Vec<Rejection>,
    /// The webhook only said "something changed": poll now.
    pub request_poll: bool,
}

/// One page of a poll.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollPage {
    /// Changes to deliver.
    pub changes: Vec<Change>,
    /// Records that could not be mapped.
    pub rejected: Vec<Rejection>,
    /// Store this once the page's changes are durable; pass it to the next poll.
    pub cursor: Option<String>,
    /// Poll again now with `cursor`.
    pub more: bool,
}

/// How the buyer receives an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fulfillment {
    /// The buyer collects it.
    Pickup,
    /// It is delivered.
    Delivery,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The item's `external_ref`.
    pub external_ref: String,
    /// Item name.
    pub name: String,
    /// Units ordered.
    pub quantity: i64,
    /// Price of one unit as paid.
    pub unit_price: Money,
}

/// A paid SnapAct order, without buyer personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// SnapAct's order id.
    pub order_id: String,
    /// Stable across retries; the adapter passes it to the POS.
    pub idempotency_key: String,
    /// RFC 3339.
    pub created_at: String,
    /// Lines.
    pub lines: Vec<OrderLine>,
    /// Sum of the lines.
    pub subtotal: Money,
    /// What the buyer paid.
    pub total: Money,
    /// Pickup or delivery.
    pub fulfillment: Fulfillment,
    /// Buyer's note to the shop.
    pub note: Option<String>,
}

/// The POS's record of an order an adapter created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PosOrderRef {
    /// POS order id.
    pub id: String,
    /// Human-facing number.
    pub number: Option<String>,
}

/// An order's status on SnapAct after payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted by the shop.
    Accepted,
    /// Being prepared.
    Preparing,
    /// Ready for pickup or delivery.
    Ready,
    /// Done.
    Completed,
    /// Cancelled.
    Cancelled,
    /// Refunded.
    Refunded,
}

/// An order moved to a new status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatusUpdate {
    /// SnapAct's order id.
    pub order_id: String,
    /// What `push_order` returned, when it succeeded.
    pub pos_order: Option<PosOrderRef>,
    /// The new status.
    pub status: OrderStatus,
    /// Stable across retries.
    pub idempotency_key: String,
}
