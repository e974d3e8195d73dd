//! `push-order` as a Loyverse receipt: request bodies and response reading,
//! pure.
//!
//! Loyverse's `POST /v1.0/receipts` has no idempotency key. The receipt
//! carries the SnapAct order id in its `order` field (and in the first line
//! of `note`), and before creating one the adapter lists the store's receipts
//! created since the day before the order (`GET /v1.0/receipts?store_id=
//! &created_at_min=`) and returns the one already carrying that id. A retry
//! after a lost response therefore finds the first receipt instead of
//! creating a second sale.

use snapact_adapter_sdk::json::{Node, Value};
use snapact_adapter_sdk::money;
use snapact_adapter_sdk::{AdapterError, Order, PosOrderRef, invalid_input};
use std::str::FromStr;

/// `POST /v1.0/receipts`, `GET /v1.0/receipts`.
pub const RECEIPTS_PATH: &str = "/v1.0/receipts";
/// Receipts per lookup page (Loyverse's maximum).
pub const LOOKUP_LIMIT: &str = "250";
/// Lookup pages at most (62,500 receipts in two days is no small shop).
pub const MAX_LOOKUP_PAGES: usize = 250;

/// The first line of the receipt note, naming the SnapAct order.
pub fn note_marker(order_id: &str) -> String {
    format!("SnapAct order {order_id}")
}

/// The receipt to create for `order` at `store_id`, paid with
/// `payment_type_id`. Prices are the SnapAct unit prices (what the buyer
/// paid); the payment is the sum of the lines.
pub fn receipt_body(
    order: &Order,
    store_id: &str,
    payment_type_id: &str,
    currency: &str,
) -> Result<Value, AdapterError> {
    if order.lines.is_empty() {
        return Err(invalid_input("order.lines", "order has no lines"));
    }
    let mut lines = Vec::with_capacity(order.lines.len());
    let mut paid: i64 = 0;
    for (i, line) in order.lines.iter().enumerate() {
        let at = |field: &str| format!("order.lines[{i}].{field}");
        if line.unit_price.currency != currency {
            return Err(invalid_input(
                at("unit_price.currency"),
                format!(
                    "line is in {}, but the shop's Loyverse currency is {currency}",
                    line.unit_price.currency
                ),
            ));
        }
        if line.quantity <= 0 {
            return Err(invalid_input(at("quantity"), "quantity must be at least 1"));
        }
        let line_total = line
            .unit_price
            .amount_minor
            .checked_mul(line.quantity)
            .ok_or_else(|| invalid_input(at("quantity"), "line total is too large"))?;
        paid = paid
            .checked_add(line_total)
            .ok_or_else(|| invalid_input("order.lines", "order total is too large"))?;
        lines.push(serde_json::json!({
            "variant_id": line.external_ref,
            "quantity": line.quantity,
            "price": amount(line.unit_price.amount_minor, currency, &at("unit_price"))?,
        }));
    }
    let mut note = note_marker(&order.order_id);
    if order.total.amount_minor != paid && order.total.currency == currency {
        let total = money::to_decimal(order.total.amount_minor, currency)
            .map_err(|e| invalid_input("order.total", e.to_string()))?;
        note.push_str(&format!(
            "\nSnapAct total paid (fees, discounts): {total} {currency}"
        ));
    }
    if let Some(extra) = order
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        note.push('\n');
        note.push_str(extra);
    }
    Ok(serde_json::json!({
        "store_id": store_id,
        "order": order.order_id,
        "receipt_date": order.created_at,
        "note": note,
        "line_items": lines,
        "payments": [{
            "payment_type_id": payment_type_id,
            "money_amount": amount(paid, currency, "order.lines")?,
        }],
    }))
}

/// Minor units as the JSON number Loyverse expects, exactly (`1500.50`).
fn amount(minor: i64, currency: &str, path: &str) -> Result<Value, AdapterError> {
    let text =
        money::to_decimal(minor, currency).map_err(|e| invalid_input(path, e.to_string()))?;
    serde_json::Number::from_str(&text)
        .map(Value::Number)
        .map_err(|e| invalid_input(path, format!("amount {text} is not a JSON number: {e}")))
}

/// The lookup query for receipts that may already carry the order.
pub fn lookup_query(
    store_id: &str,
    order_created_at: &str,
    page: Option<&str>,
) -> Result<Vec<(String, String)>, AdapterError> {
    let since = day_before(order_created_at).ok_or_else(|| {
        invalid_input(
            "order.created_at",
            format!("{order_created_at:?} is not an RFC 3339 time"),
        )
    })?;
    let mut query = vec![
        ("store_id".to_string(), store_id.to_string()),
        (
            "created_at_min".to_string(),
            format!("{since}T00:00:00.000Z"),
        ),
        ("limit".to_string(), LOOKUP_LIMIT.to_string()),
    ];
    if let Some(page) = page {
        query.push(("cursor".to_string(), page.to_string()));
    }
    Ok(query)
}

/// The receipt in a `GET /v1.0/receipts` page that carries `order_id`.
pub fn find_existing(doc: &Value, order_id: &str) -> Result<Option<PosOrderRef>, AdapterError> {
    let marker = note_marker(order_id);
    for receipt in Node::root(doc).req("receipts")?.array()? {
        let by_order = receipt.opt_str("order").ok().flatten() == Some(order_id);
        let by_note = receipt
            .opt_str("note")
            .ok()
            .flatten()
            .and_then(|n| n.lines().next())
            .is_some_and(|first| first.trim() == marker);
        if by_order || by_note {
            return receipt_ref(&receipt).map(Some);
        }
    }
    Ok(None)
}

/// The receipt Loyverse answered `POST /v1.0/receipts` with.
pub fn created(doc: &Value) -> Result<PosOrderRef, AdapterError> {
    receipt_ref(&Node::root(doc))
}

fn receipt_ref(receipt: &Node<'_>) -> Result<PosOrderRef, AdapterError> {
    let number = receipt.req("receipt_number")?.id_string()?;
    Ok(PosOrderRef {
        id: number.clone(),
        number: Some(number),
    })
}

/// `YYYY-MM-DD` of the day before an RFC 3339 time's date: receipts are
/// created after the order was paid, and a day covers any clock skew and
/// time zone offset.
fn day_before(rfc3339: &str) -> Option<String> {
    let date = rfc3339.get(..10)?;
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let (y, m, d) = if d > 1 {
        (y, m, d - 1)
    } else if m > 1 {
        (y, m - 1, days_in_month(y, m - 1))
    } else {
        (y - 1, 12, 31)
    };
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapact_adapter_sdk::{Fulfillment, Money, OrderLine};

    fn ngn(amount_minor: i64) -> Money {
        Money {
            amount_minor,
            currency: "NGN".into(),
        }
    }

    fn order() -> Order {
        Order {
            order_id: "ord_7Hq2".into(),
            idempotency_key: "idem-ord_7Hq2".into(),
            created_at: "2024-03-01T10:15:00Z".into(),
            lines: vec![
                OrderLine {
                    external_ref: "06ef4f7a-6a2d-4b43-bc8c-6f1e4b5c8a01".into(),
                    name: "Jollof rice (Large)".into(),
                    quantity: 2,
                    unit_price: ngn(250_050),
                },
                OrderLine {
                    external_ref: "8b1f0a32-2f34-4b8e-9f7e-2c5d9a1b3c02".into(),
                    name: "Zobo".into(),
                    quantity: 1,
                    unit_price: ngn(50_000),
                },
            ],
            subtotal: ngn(550_100),
            total: ngn(600_100),
            fulfillment: Fulfillment::Pickup,
            note: Some("No pepper".into()),
        }
    }

    #[test]
    fn builds_the_receipt_with_exact_amounts() {
        let body = receipt_body(&order(), "S1", "P1", "NGN").expect("body");
        assert_eq!(
            body.to_string(),
            serde_json::json!({
                "store_id": "S1",
                "order": "ord_7Hq2",
                "receipt_date": "2024-03-01T10:15:00Z",
                "note": "SnapAct order ord_7Hq2\nSnapAct total paid (fees, discounts): 6001.00 NGN\nNo pepper",
                "line_items": [
                    {"variant_id": "06ef4f7a-6a2d-4b43-bc8c-6f1e4b5c8a01", "quantity": 2, "price": serde_json::Number::from_str("2500.50").expect("n")},
                    {"variant_id": "8b1f0a32-2f34-4b8e-9f7e-2c5d9a1b3c02", "quantity": 1, "price": serde_json::Number::from_str("500.00").expect("n")},
                ],
                "payments": [{"payment_type_id": "P1", "money_amount": serde_json::Number::from_str("5501.00").expect("n")}],
            })
            .to_string()
        );
        assert!(body.to_string().contains("\"price\":2500.50"), "{body}");
    }

    #[test]
    fn refuses_an_order_in_another_currency() {
        let mut o = order();
        o.lines[1].unit_price.currency = "USD".into();
        match receipt_body(&o, "S1", "P1", "NGN") {
            Err(AdapterError::InvalidInput(d)) => {
                assert_eq!(
                    d.path.as_deref(),
                    Some("order.lines[1].unit_price.currency")
                );
            }
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn finds_a_receipt_already_made_for_the_order() {
        let page = snapact_adapter_sdk::json::parse(
            br#"{"receipts":[
                {"receipt_number":"1-1001","order":"other","note":null},
                {"receipt_number":"1-1002","order":null,"note":"SnapAct order ord_7Hq2\nNo pepper"}
            ],"cursor":null}"#,
        )
        .expect("json");
        let found = find_existing(&page, "ord_7Hq2")
            .expect("ok")
            .expect("found by note");
        assert_eq!(
            (found.id.as_str(), found.number.as_deref()),
            ("1-1002", Some("1-1002"))
        );
        assert!(find_existing(&page, "ord_other").expect("ok").is_none());
        // A marker must match the whole first line, not a prefix.
        assert!(find_existing(&page, "ord_7H").expect("ok").is_none());
        let by_order = find_existing(&page, "other")
            .expect("ok")
            .expect("found by order");
        assert_eq!(by_order.id, "1-1001");
    }

    #[test]
    fn looks_back_from_the_day_before_the_order() {
        assert_eq!(
            day_before("2024-03-01T10:15:00Z").as_deref(),
            Some("2024-02-29")
        );
        assert_eq!(
            day_before("2023-03-01T00:00:00Z").as_deref(),
            Some("2023-02-28")
        );
        assert_eq!(
            day_before("2024-01-01T00:00:00+01:00").as_deref(),
            Some("2023-12-31")
        );
        assert_eq!(
            day_before("2024-05-16T00:00:00Z").as_deref(),
            Some("2024-05-15")
        );
        assert_eq!(day_before("yesterday"), None);
        assert_eq!(day_before("2024-02-30T00:00:00Z"), None);
        let q = lookup_query("S1", "2024-03-01T10:15:00Z", Some("c2")).expect("query");
        assert_eq!(q[1].1, "2024-02-29T00:00:00.000Z");
        assert_eq!(q[3], ("cursor".to_string(), "c2".to_string()));
    }
}
