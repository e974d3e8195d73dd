//! SnapAct webhook events (DESIGN §7): the envelope
//! `{"id","type","created_at","data":{...}}` and the `data` of the events
//! the host acts on. Like the rest of this module, where SnapAct does not
//! publish a field we name our assumption here, once:
//!
//! - `order.paid`: `data.order` = `{"id", "created_at", "currency",
//!   "lines": [{"external_ref", "name", "quantity", "unit_price_minor"}],
//!   "subtotal_minor", "total_minor", "fulfillment": "pickup"|"delivery",
//!   "note"?}`. Buyer details SnapAct may add are never read, so they never
//!   reach an adapter.
//! - `order.status.updated`: `data` = `{"order_id", "status"}` with status
//!   `accepted`, `preparing`, `ready`, `completed`, `cancelled`, `refunded`.
//! - `catalog.item.upserted` / `catalog.item.deleted`: `data.external_ref`
//!   (recorded for reconciliation).
//!
//! Unknown fields are ignored, so SnapAct can add fields without breaking
//! hosts in the field.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::Money;
use crate::runtime::{Fulfillment, Order, OrderLine, OrderStatus};

/// `order.paid`.
pub const ORDER_PAID: &str = "order.paid";
/// `order.status.updated`.
pub const ORDER_STATUS_UPDATED: &str = "order.status.updated";
/// `catalog.item.upserted`.
pub const CATALOG_ITEM_UPSERTED: &str = "catalog.item.upserted";
/// `catalog.item.deleted`.
pub const CATALOG_ITEM_DELETED: &str = "catalog.item.deleted";

/// The envelope of every event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Event id, also in `X-SnapAct-Event-Id`.
    pub id: String,
    /// Event type, also in `X-SnapAct-Event-Type`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// RFC 3339.
    #[serde(default)]
    pub created_at: String,
    /// Type-specific.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// A line of a paid order, as SnapAct sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireOrderLine {
    /// The item's `external_ref`.
    pub external_ref: String,
    /// Item name at the time of the order.
    pub name: String,
    /// Units.
    pub quantity: i64,
    /// Price of one unit, minor units of the order's currency.
    pub unit_price_minor: i64,
}

/// A paid order, as SnapAct sends it (without buyer details).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireOrder {
    /// SnapAct's order id.
    pub id: String,
    /// RFC 3339.
    pub created_at: String,
    /// ISO 4217.
    pub currency: String,
    /// Lines.
    pub lines: Vec<WireOrderLine>,
    /// Sum of the lines, minor units.
    pub subtotal_minor: i64,
    /// What the buyer paid, minor units.
    pub total_minor: i64,
    /// `pickup` or `delivery`.
    pub fulfillment: Fulfillment,
    /// The buyer's note to the shop.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Deserialize)]
struct OrderPaidData {
    order: WireOrder,
}

/// `order.status.updated` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdated {
    /// SnapAct's order id.
    pub order_id: String,
    /// The new status.
    pub status: OrderStatus,
}

#[derive(Deserialize)]
struct CatalogData {
    external_ref: String,
}

/// What an event asks of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Create the order in the POS.
    OrderPaid(WireOrder),
    /// Tell the adapter.
    StatusUpdated(StatusUpdated),
    /// SnapAct changed an item (reconciliation record only).
    CatalogItem {
        /// Which item.
        external_ref: String,
        /// `true` for `catalog.item.deleted`.
        deleted: bool,
    },
    /// A type this host does not know: stored and logged.
    Unknown,
}

/// Why an event body cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SnapAct event body is not valid: {0}")]
pub struct EventError(pub String);

impl Envelope {
    /// Parse the raw body SnapAct signed.
    pub fn parse(body: &[u8]) -> Result<Envelope, EventError> {
        let env: Envelope = serde_json::from_slice(body).map_err(|e| EventError(e.to_string()))?;
        if env.id.trim().is_empty() {
            return Err(EventError("`id` is empty".into()));
        }
        Ok(env)
    }

    /// The typed meaning of the event.
    pub fn event(&self) -> Result<Event, EventError> {
        fn data(what: &str) -> impl FnOnce(serde_json::Error) -> EventError + '_ {
            move |e| EventError(format!("{what} `data`: {e}"))
        }
        Ok(match self.event_type.as_str() {
            ORDER_PAID => {
                let d: OrderPaidData =
                    serde_json::from_value(self.data.clone()).map_err(data(ORDER_PAID))?;
                d.order.check()?;
                Event::OrderPaid(d.order)
            }
            ORDER_STATUS_UPDATED => Event::StatusUpdated(
                serde_json::from_value(self.data.clone()).map_err(data(ORDER_STATUS_UPDATED))?,
            ),
            t @ (CATALOG_ITEM_UPSERTED | CATALOG_ITEM_DELETED) => {
                let d: CatalogData = serde_json::from_value(self.data.clone()).map_err(data(t))?;
                Event::CatalogItem {
                    external_ref: d.external_ref,
                    deleted: t == CATALOG_ITEM_DELETED,
                }
            }
            _ => Event::Unknown,
        })
    }
}

impl WireOrder {
    fn check(&self) -> Result<(), EventError> {
        let bad = |m: String| Err(EventError(format!("order {}: {m}", self.id)));
        if self.id.trim().is_empty() {
            return Err(EventError("order `id` is empty".into()));
        }
        if self.lines.is_empty() {
            return bad("it has no lines".into());
        }
        for (i, line) in self.lines.iter().enumerate() {
            if line.quantity <= 0 {
                return bad(format!("lines[{i}].quantity must be positive"));
            }
            if line.unit_price_minor < 0 {
                return bad(format!("lines[{i}].unit_price_minor must not be negative"));
            }
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return bad(format!(
                "currency {:?} is not an ISO 4217 code",
                self.currency
            ));
        }
        Ok(())
    }

    /// The order as adapters see it, with the idempotency key for `shop`.
    pub fn to_order(&self, shop: &str) -> Order {
        let money = |amount_minor: i64| Money {
            amount_minor,
            currency: self.currency.clone(),
        };
        Order {
            order_id: self.id.clone(),
            idempotency_key: idempotency_key(shop, &self.id),
            created_at: self.created_at.clone(),
            lines: self
                .lines
                .iter()
                .map(|l| OrderLine {
                    external_ref: l.external_ref.clone(),
                    name: l.name.clone(),
                    quantity: l.quantity,
                    unit_price: money(l.unit_price_minor),
                })
                .collect(),
            subtotal: money(self.subtotal_minor),
            total: money(self.total_minor),
            fulfillment: self.fulfillment,
            note: self.note.clone(),
        }
    }
}

/// The key the POS deduplicates order creation with: derived only from the
/// shop and SnapAct's order id, so every retry, redelivery and restart
/// sends the same one. 40 ASCII characters, within every vendor's limit
/// (Square allows 192).
pub fn idempotency_key(shop: &str, order_id: &str) -> String {
    let digest = Sha256::digest(format!("{shop}\n{order_id}").as_bytes());
    format!("snapact-{}", &hex::encode(digest)[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const PAID: &str = r#"{"id":"evt_1","type":"order.paid","created_at":"2026-11-27T10:00:00Z",
        "data":{"order":{"id":"ord_1","created_at":"2026-11-27T09:59:58Z","currency":"NGN",
        "lines":[{"external_ref":"VAR1","name":"Jollof Rice","quantity":2,"unit_price_minor":350000}],
        "subtotal_minor":700000,"total_minor":700000,"fulfillment":"pickup","note":"no pepper",
        "buyer":{"name":"Ada","phone":"+2348000000000"}}}}"#;

    #[test]
    fn order_paid_maps_to_an_order_without_buyer_details() {
        let env = Envelope::parse(PAID.as_bytes()).expect("test setup");
        let Event::OrderPaid(order) = env.event().expect("test setup") else {
            panic!("not order.paid")
        };
        let o = order.to_order("lagos-main");
        assert_eq!(o.order_id, "ord_1");
        assert_eq!(o.lines[0].unit_price.amount_minor, 350000);
        assert_eq!(o.total.currency, "NGN");
        assert_eq!(o.note.as_deref(), Some("no pepper"));
        assert!(!format!("{o:?}").contains("Ada"));
    }

    #[test]
    fn idempotency_key_is_stable_and_per_shop() {
        let a = idempotency_key("lagos-main", "ord_1");
        assert_eq!(a, idempotency_key("lagos-main", "ord_1"));
        assert_ne!(a, idempotency_key("abuja", "ord_1"));
        assert_ne!(a, idempotency_key("lagos-main", "ord_2"));
        assert_eq!(a.len(), 40);
        assert!(a.starts_with("snapact-"));
    }

    #[test]
    fn bad_orders_say_what_is_wrong() {
        let no_lines = PAID.replace(
            r#""lines":[{"external_ref":"VAR1","name":"Jollof Rice","quantity":2,"unit_price_minor":350000}]"#,
            r#""lines":[]"#,
        );
        let err = Envelope::parse(no_lines.as_bytes())
            .expect("test setup")
            .event()
            .expect_err("must fail");
        assert!(err.to_string().contains("no lines"), "{err}");
        let zero = PAID.replace(r#""quantity":2"#, r#""quantity":0"#);
        let err = Envelope::parse(zero.as_bytes())
            .expect("test setup")
            .event()
            .expect_err("must fail");
        assert!(err.to_string().contains("lines[0].quantity"), "{err}");
        let missing = PAID.replace(r#""total_minor":700000,"#, "");
        let err = Envelope::parse(missing.as_bytes())
            .expect("test setup")
            .event()
            .expect_err("must fail");
        assert!(err.to_string().contains("total_minor"), "{err}");
        assert!(Envelope::parse(b"{\"id\":\"\",\"type\":\"x\"}").is_err());
        assert!(Envelope::parse(b"not json").is_err());
    }

    #[test]
    fn other_events() {
        let status = r#"{"id":"evt_2","type":"order.status.updated","data":{"order_id":"ord_1","status":"ready"}}"#;
        assert_eq!(
            Envelope::parse(status.as_bytes())
                .expect("test setup")
                .event()
                .expect("test setup"),
            Event::StatusUpdated(StatusUpdated {
                order_id: "ord_1".into(),
                status: OrderStatus::Ready
            })
        );
        let deleted =
            r#"{"id":"evt_3","type":"catalog.item.deleted","data":{"external_ref":"VAR1"}}"#;
        assert_eq!(
            Envelope::parse(deleted.as_bytes())
                .expect("test setup")
                .event()
                .expect("test setup"),
            Event::CatalogItem {
                external_ref: "VAR1".into(),
                deleted: true
            }
        );
        let unknown = r#"{"id":"evt_4","type":"shop.opened","data":{}}"#;
        assert_eq!(
            Envelope::parse(unknown.as_bytes())
                .expect("test setup")
                .event()
                .expect("test setup"),
            Event::Unknown
        );
    }
}
