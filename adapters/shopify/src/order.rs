//! SnapAct orders as paid Shopify orders (Admin REST `orders.json`).
//!
//! Shopify REST has no idempotency header for orders, so the adapter makes
//! the order findable instead: it sets `source_identifier` to the host's
//! idempotency key and `processed_at` to SnapAct's order time (whole
//! seconds, UTC). Before creating, it lists this app's orders processed at
//! exactly that second (`attribution_app_id=current`) and returns the one
//! carrying the key, so a retry after a lost response never creates a
//! second order.

use serde_json::{Value, json};
use snapact_adapter_sdk::http::{Method, Request};
use snapact_adapter_sdk::json::{self, Node};
use snapact_adapter_sdk::money;
use snapact_adapter_sdk::{
    AdapterError, Fulfillment, Order, PosOrderRef, UpstreamError, invalid_input,
};

use crate::timestamp;

/// The tag every order from SnapAct carries in Shopify.
pub const TAG: &str = "SnapAct";

/// SnapAct's order time as Shopify stores `processed_at`: UTC, whole seconds.
pub fn processed_at(order: &Order) -> Result<String, AdapterError> {
    timestamp::normalize(&order.created_at).ok_or_else(|| {
        invalid_input(
            "$.created_at",
            format!(
                "order created_at {:?} is not an RFC 3339 timestamp",
                order.created_at
            ),
        )
    })
}

/// `GET orders.json` for orders this app created at the order's second.
pub fn lookup_request(api_version: &str, order: &Order) -> Result<Request, AdapterError> {
    let at = processed_at(order)?;
    Ok(Request {
        method: Method::Get,
        path: format!("/admin/api/{api_version}/orders.json"),
        query: vec![
            ("status".into(), "any".into()),
            ("attribution_app_id".into(), "current".into()),
            ("processed_at_min".into(), at.clone()),
            ("processed_at_max".into(), at),
            ("fields".into(), "id,name,source_identifier".into()),
            ("limit".into(), "250".into()),
        ],
        headers: vec![("accept".into(), "application/json".into())],
        body: Vec::new(),
    })
}

/// The order among a lookup's results that carries `idempotency_key`.
pub fn find_existing(
    body: &[u8],
    idempotency_key: &str,
) -> Result<Option<PosOrderRef>, AdapterError> {
    let doc = json::parse(body).map_err(|_| unreadable("orders.json", "not JSON"))?;
    let root = Node::root(&doc);
    let orders = root
        .req("orders")
        .and_then(|n| n.array())
        .map_err(|e| unreadable("orders.json", &e.message))?;
    for o in orders {
        if o.opt_str("source_identifier").ok().flatten() == Some(idempotency_key) {
            return order_ref(&o, "orders.json").map(Some);
        }
    }
    Ok(None)
}

/// `POST orders.json` creating the paid order.
pub fn create_request(api_version: &str, order: &Order) -> Result<Request, AdapterError> {
    let body = create_body(order)?;
    Ok(Request {
        method: Method::Post,
        path: format!("/admin/api/{api_version}/orders.json"),
        query: Vec::new(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("accept".into(), "application/json".into()),
        ],
        body: body.to_string().into_bytes(),
    })
}

/// The `{"order": {...}}` body for `order`.
pub fn create_body(order: &Order) -> Result<Value, AdapterError> {
    let currency = order.total.currency.as_str();
    let decimal = |minor: i64, path: String| {
        money::to_decimal(minor, currency).map_err(|e| invalid_input(path, e.to_string()))
    };
    if order.lines.is_empty() {
        return Err(invalid_input("$.lines", "an order needs at least one line"));
    }
    let mut line_items = Vec::with_capacity(order.lines.len());
    for (i, line) in order.lines.iter().enumerate() {
        let path = format!("$.lines[{i}]");
        let variant_id = variant_id(&line.external_ref)
            .ok_or_else(|| {
                invalid_input(
                    format!("{path}.external_ref"),
                    format!(
                        "{:?} is not a Shopify variant id: this adapter maps items with the numeric variant id as external_ref",
                        line.external_ref
                    ),
                )
            })?;
        if line.quantity <= 0 {
            return Err(invalid_input(
                format!("{path}.quantity"),
                format!("quantity must be at least 1, got {}", line.quantity),
            ));
        }
        if line.unit_price.currency != currency {
            return Err(invalid_input(
                format!("{path}.unit_price.currency"),
                format!(
                    "line currency {} differs from the order currency {currency}",
                    line.unit_price.currency
                ),
            ));
        }
        line_items.push(json!({
            "variant_id": variant_id,
            "quantity": line.quantity,
            "price": decimal(line.unit_price.amount_minor, format!("{path}.unit_price"))?,
            "title": line.name,
        }));
    }
    let total = decimal(order.total.amount_minor, "$.total".into())?;
    let fulfillment = match order.fulfillment {
        Fulfillment::Pickup => "pickup",
        Fulfillment::Delivery => "delivery",
    };
    let mut note = format!("SnapAct order {}", order.order_id);
    if let Some(extra) = order
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        note.push_str(": ");
        note.push_str(extra);
    }
    Ok(json!({
        "order": {
            "line_items": line_items,
            "currency": currency,
            "financial_status": "paid",
            // SnapAct's prices are what the buyer paid, tax included.
            "taxes_included": true,
            "transactions": [{
                "kind": "sale",
                "status": "success",
                "amount": total,
                "gateway": TAG,
            }],
            "processed_at": processed_at(order)?,
            "source_identifier": order.idempotency_key,
            "tags": format!("{TAG}, snapact-{fulfillment}"),
            "note": note,
            "note_attributes": [
                {"name": "snapact_order_id", "value": order.order_id},
                {"name": "snapact_fulfillment", "value": fulfillment},
            ],
            "inventory_behaviour": "decrement_obeying_policy",
            "send_receipt": false,
            "send_fulfillment_receipt": false,
        }
    }))
}

/// The created order from `POST orders.json`'s answer.
pub fn read_created(body: &[u8]) -> Result<PosOrderRef, AdapterError> {
    let doc = json::parse(body).map_err(|_| unreadable("orders.json", "not JSON"))?;
    let root = Node::root(&doc);
    let order = root
        .req("order")
        .map_err(|e| unreadable("orders.json", &e.message))?;
    order_ref(&order, "orders.json")
}

fn order_ref(o: &Node, what: &str) -> Result<PosOrderRef, AdapterError> {
    let id = o
        .req("id")
        .and_then(|n| n.id_string())
        .map_err(|e| unreadable(what, &e.message))?;
    let number = o.opt_str("name").ok().flatten().map(str::to_string);
    Ok(PosOrderRef { id, number })
}

/// A variant id as an exact JSON integer (never through a float).
fn variant_id(external_ref: &str) -> Option<Value> {
    let digits = external_ref.trim();
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?;
    serde_json::from_str::<Value>(digits).ok()
}

fn unreadable(what: &str, why: &str) -> AdapterError {
    AdapterError::Upstream(UpstreamError {
        message: format!("unexpected Shopify response from {what}: {why}"),
        status: None,
        retryable: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapact_adapter_sdk::{Money, OrderLine};

    fn order() -> Order {
        Order {
            order_id: "ord_8KX2".into(),
            idempotency_key: "snapact-ord_8KX2".into(),
            created_at: "2026-11-27T06:01:02.345+01:00".into(),
            lines: vec![
                OrderLine {
                    external_ref: "18446744073709551615".into(),
                    name: "IPod Nano - 8GB (Pink)".into(),
                    quantity: 2,
                    unit_price: Money {
                        amount_minor: 19900,
                        currency: "USD".into(),
                    },
                },
                OrderLine {
                    external_ref: "49148385".into(),
                    name: "IPod Nano - 8GB (Red)".into(),
                    quantity: 1,
                    unit_price: Money {
                        amount_minor: 5,
                        currency: "USD".into(),
                    },
                },
            ],
            subtotal: Money {
                amount_minor: 39805,
                currency: "USD".into(),
            },
            total: Money {
                amount_minor: 39805,
                currency: "USD".into(),
            },
            fulfillment: Fulfillment::Pickup,
            note: Some("Gate 2".into()),
        }
    }

    #[test]
    fn builds_a_paid_order_findable_by_its_key() {
        let req = create_request("2026-07", &order()).expect("request");
        assert_eq!(req.path, "/admin/api/2026-07/orders.json");
        assert!(matches!(req.method, Method::Post));
        let text = String::from_utf8(req.body.clone()).expect("utf8");
        // The id above 2^53 is an exact JSON integer.
        assert!(
            text.contains("\"variant_id\":18446744073709551615"),
            "{text}"
        );
        let body: Value = serde_json::from_slice(&req.body).expect("json");
        let o = &body["order"];
        assert_eq!(o["financial_status"], "paid");
        assert_eq!(o["currency"], "USD");
        assert_eq!(o["source_identifier"], "snapact-ord_8KX2");
        assert_eq!(o["processed_at"], "2026-11-27T05:01:02Z");
        assert_eq!(o["tags"], "SnapAct, snapact-pickup");
        assert_eq!(o["note"], "SnapAct order ord_8KX2: Gate 2");
        assert_eq!(o["line_items"][0]["price"], "199.00");
        assert_eq!(o["line_items"][0]["quantity"], 2);
        assert_eq!(o["line_items"][1]["price"], "0.05");
        assert_eq!(o["line_items"][1]["variant_id"].to_string(), "49148385");
        assert_eq!(o["transactions"][0]["amount"], "398.05");
        assert_eq!(o["transactions"][0]["kind"], "sale");
        assert_eq!(o["note_attributes"][0]["value"], "ord_8KX2");
    }

    #[test]
    fn the_lookup_asks_for_this_apps_orders_at_that_second() {
        let req = lookup_request("2026-07", &order()).expect("request");
        let q: Vec<(&str, &str)> = req
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            q,
            vec![
                ("status", "any"),
                ("attribution_app_id", "current"),
                ("processed_at_min", "2026-11-27T05:01:02Z"),
                ("processed_at_max", "2026-11-27T05:01:02Z"),
                ("fields", "id,name,source_identifier"),
                ("limit", "250"),
            ]
        );
        let found = br##"{"orders":[{"id":450789469,"name":"#1001","source_identifier":"other"},
            {"id":820982911946154508,"name":"#1002","source_identifier":"snapact-ord_8KX2"}]}"##;
        let existing = find_existing(found, "snapact-ord_8KX2")
            .expect("ok")
            .expect("found");
        assert_eq!(existing.id, "820982911946154508");
        assert_eq!(existing.number.as_deref(), Some("#1002"));
        assert!(
            find_existing(br#"{"orders":[]}"#, "k")
                .expect("ok")
                .is_none()
        );
        assert!(matches!(
            find_existing(b"<html>", "k"),
            Err(AdapterError::Upstream(e)) if !e.retryable
        ));
    }

    #[test]
    fn reads_the_created_order() {
        // Shape of the documented 201 answer to POST orders.json.
        let body = br##"{"order":{"id":1073459963,"name":"#1002","order_number":1002,"financial_status":"paid"}}"##;
        let created = read_created(body).expect("ok");
        assert_eq!(created.id, "1073459963");
        assert_eq!(created.number.as_deref(), Some("#1002"));
    }

    #[test]
    fn refuses_orders_it_cannot_place_and_says_where() {
        let mut o = order();
        o.lines[1].external_ref = "gid://shopify/ProductVariant/1".into();
        let e = create_body(&o).expect_err("bad ref");
        assert!(
            matches!(&e, AdapterError::InvalidInput(d) if d.path.as_deref() == Some("$.lines[1].external_ref")),
            "{e:?}"
        );
        let mut o = order();
        o.lines[0].quantity = 0;
        assert!(matches!(create_body(&o),
            Err(AdapterError::InvalidInput(d)) if d.path.as_deref() == Some("$.lines[0].quantity")));
        let mut o = order();
        o.lines[0].unit_price.currency = "NGN".into();
        assert!(matches!(create_body(&o),
            Err(AdapterError::InvalidInput(d)) if d.path.as_deref() == Some("$.lines[0].unit_price.currency")));
        let mut o = order();
        o.created_at = "now".into();
        assert!(matches!(create_body(&o),
            Err(AdapterError::InvalidInput(d)) if d.path.as_deref() == Some("$.created_at")));
        let mut o = order();
        o.lines.clear();
        assert!(matches!(create_body(&o),
            Err(AdapterError::InvalidInput(d)) if d.path.as_deref() == Some("$.lines")));
    }
}
