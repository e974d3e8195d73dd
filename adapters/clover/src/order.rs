//! SnapAct orders as Clover orders: one atomic order, then one payment with
//! the shop's SnapAct tender, found again by title on every retry.
//!
//! 1. `GET /v3/merchants/{mId}/orders?filter=title=SnapAct <id>&expand=payments`:
//!    Clover has no idempotency key for orders, so the SnapAct order id in
//!    the title is the key. An order found here is never created again.
//! 2. `POST /v3/merchants/{mId}/atomic_order/orders` with the `orderCart`,
//!    unless step 1 found the order.
//! 3. `POST /v3/merchants/{mId}/orders/{orderId}/payments` with
//!    `{"amount": total, "tender": {"id": tender_id}, "result": "SUCCESS"}`,
//!    unless step 1 found a payment with that tender on the order. A crash
//!    between 2 and 3 is finished by the retry: it finds the unpaid order.

use crate::config::{Settings, TaxMode, clover_id_ok};
use crate::upstream::from_clover;
use serde_json::{Value, json};
use snapact_adapter_sdk::json::{self, Node};
use snapact_adapter_sdk::{AdapterError, Fulfillment, Order, PosOrderRef, invalid_input};

/// Clover line items are single units; an order of more units than this is
/// refused rather than sent as a huge cart.
pub const MAX_UNITS: i64 = 500;

/// Longest note Clover keeps on an order.
const MAX_NOTE_CHARS: usize = 255;

/// The title that marks an order as SnapAct's, and finds it again.
pub fn title(order: &Order) -> String {
    format!("SnapAct {}", order.order_id)
}

/// Check an order before anything is sent.
pub fn validate(order: &Order, settings: &Settings) -> Result<(), AdapterError> {
    if order.order_id.is_empty()
        || order.order_id.len() > 64
        || !order
            .order_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid_input(
            "order.order_id",
            "order id must be 1-64 letters, digits, '-' or '_' (it becomes the Clover order title that finds the order again)",
        ));
    }
    if order.lines.is_empty() {
        return Err(invalid_input("order.lines", "order has no lines"));
    }
    for (field, money) in [
        ("order.total", &order.total),
        ("order.subtotal", &order.subtotal),
    ] {
        if money.currency != settings.currency {
            return Err(invalid_input(
                format!("{field}.currency"),
                format!(
                    "order is in {} but the shop's Clover currency is {}",
                    money.currency, settings.currency
                ),
            ));
        }
    }
    if order.total.amount_minor < 0 {
        return Err(invalid_input(
            "order.total.amount_minor",
            "order total is negative",
        ));
    }
    let mut units: i64 = 0;
    for (i, line) in order.lines.iter().enumerate() {
        if !clover_id_ok(&line.external_ref) {
            return Err(invalid_input(
                format!("order.lines[{i}].external_ref"),
                format!(
                    "{:?} is not a Clover item id (letters and digits only)",
                    line.external_ref
                ),
            ));
        }
        if line.quantity <= 0 {
            return Err(invalid_input(
                format!("order.lines[{i}].quantity"),
                format!("quantity {} is not a positive whole number", line.quantity),
            ));
        }
        if line.unit_price.currency != settings.currency {
            return Err(invalid_input(
                format!("order.lines[{i}].unit_price.currency"),
                format!(
                    "line is in {} but the shop's Clover currency is {}",
                    line.unit_price.currency, settings.currency
                ),
            ));
        }
        units = units.saturating_add(line.quantity);
        if units > MAX_UNITS {
            return Err(invalid_input(
                format!("order.lines[{i}].quantity"),
                format!(
                    "order has more than {MAX_UNITS} units; Clover line items are single units, split the order"
                ),
            ));
        }
    }
    Ok(())
}

/// Query of the lookup that finds an order pushed before.
pub fn lookup_query(order: &Order) -> Vec<(String, String)> {
    vec![
        ("filter".into(), format!("title={}", title(order))),
        ("expand".into(), "payments".into()),
        ("limit".into(), "10".into()),
    ]
}

/// An order found by the lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    /// Clover order id.
    pub id: String,
    /// Whether it already has a payment with the SnapAct tender.
    pub paid: bool,
}

/// The order the lookup found, if any. The title is compared here too, so a
/// filter Clover applied loosely can never pick someone else's order.
pub fn find_existing(
    body: &[u8],
    order: &Order,
    tender_id: &str,
) -> Result<Option<Existing>, AdapterError> {
    let doc = json::parse(body).map_err(from_clover)?;
    let root = Node::root(&doc);
    let want = title(order);
    let elements = root
        .opt_array("elements")
        .map_err(|d| from_clover(d.into()))?;
    for element in &elements {
        if element.opt_str("title").ok().flatten() != Some(want.as_str()) {
            continue;
        }
        let id = clover_order_id(element)?;
        let payments = match element.get("payments") {
            Some(p) if p.value.is_array() => p.array(),
            Some(p) => p.opt_array("elements"),
            None => Ok(Vec::new()),
        }
        .map_err(|d| from_clover(d.into()))?;
        let paid = payments.iter().any(|p| {
            let tender = p
                .get("tender")
                .and_then(|t| t.get("id"))
                .and_then(|n| n.id_string().ok());
            let failed = p.opt_str("result").ok().flatten() == Some("FAIL");
            tender.as_deref() == Some(tender_id) && !failed
        });
        return Ok(Some(Existing { id, paid }));
    }
    Ok(None)
}

/// The `POST .../atomic_order/orders` body. One line item per unit, as
/// Clover's register records them. Where Clover prices include tax the
/// line carries the price the buyer paid; where Clover adds tax, the line
/// carries only the item, so Clover prices and taxes it from its inventory
/// and the tax is not added twice.
pub fn atomic_body(order: &Order, settings: &Settings) -> Value {
    let mut line_items = Vec::new();
    for line in &order.lines {
        for _ in 0..line.quantity {
            let mut item = json!({ "item": { "id": line.external_ref } });
            if settings.tax == TaxMode::Included {
                item["price"] = json!(line.unit_price.amount_minor);
            }
            line_items.push(item);
        }
    }
    let fulfillment = match order.fulfillment {
        Fulfillment::Pickup => "pickup",
        Fulfillment::Delivery => "delivery",
    };
    let mut note = format!("SnapAct order {} ({fulfillment})", order.order_id);
    if let Some(buyer_note) = order
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        note.push_str(": ");
        note.push_str(buyer_note);
    }
    let note: String = note.chars().take(MAX_NOTE_CHARS).collect();
    let mut cart = json!({
        "lineItems": line_items,
        "title": title(order),
        "note": note,
    });
    if let Some(order_type) = &settings.order_type_id {
        cart["orderType"] = json!({ "id": order_type });
    }
    json!({ "orderCart": cart })
}

/// The Clover order the atomic endpoint created.
pub fn created_order(body: &[u8]) -> Result<PosOrderRef, AdapterError> {
    let doc = json::parse(body).map_err(from_clover)?;
    let id = clover_order_id(&Node::root(&doc))?;
    Ok(PosOrderRef { id, number: None })
}

/// An order id from Clover, checked before it goes into a request path.
fn clover_order_id(node: &Node) -> Result<String, AdapterError> {
    let id_node = node.req("id").map_err(|d| from_clover(d.into()))?;
    let id = id_node.id_string().map_err(|d| from_clover(d.into()))?;
    if clover_id_ok(&id) {
        Ok(id)
    } else {
        Err(from_clover(
            id_node
                .error(format!("order id {id:?} is not a Clover id"))
                .into(),
        ))
    }
}

/// The `POST .../orders/{orderId}/payments` body that records what the
/// buyer paid through SnapAct, with the shop's SnapAct tender.
pub fn payment_body(order: &Order, tender_id: &str) -> Value {
    json!({
        "amount": order.total.amount_minor,
        "tender": { "id": tender_id },
        "result": "SUCCESS",
        "note": format!("Paid on SnapAct, order {}", order.order_id),
    })
}
