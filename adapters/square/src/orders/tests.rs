use serde_json::json;
use snapact_adapter_sdk::{AdapterError, Fulfillment, Money, Order, OrderLine};

use super::*;
use crate::fake_square::FakeSquare;

const SHOP: &str = "LSHOP0000001";

fn ngn(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "NGN".into(),
    }
}

fn order(total: i64) -> Order {
    Order {
        order_id: "ord_8f2a".into(),
        idempotency_key: "snapact-order-ord_8f2a".into(),
        created_at: "2026-03-02T10:00:00Z".into(),
        lines: vec![
            OrderLine {
                external_ref: "V1".into(),
                name: "Jollof Rice".into(),
                quantity: 2,
                unit_price: ngn(350_000),
            },
            OrderLine {
                external_ref: "V2".into(),
                name: "Zobo".into(),
                quantity: 1,
                unit_price: ngn(50_000),
            },
        ],
        subtotal: ngn(750_000),
        total: ngn(total),
        fulfillment: Fulfillment::Delivery,
        note: Some("Gate 3, call on arrival".into()),
    }
}

fn created(id: &str, total: i64) -> serde_json::Value {
    json!({"order": {"id": id, "location_id": SHOP, "state": "OPEN",
        "total_money": {"amount": total, "currency": "NGN"}}})
}

#[test]
fn order_body_lines_and_delivery_charge() {
    let body = create_order_body(&order(800_000), SHOP).expect("valid order");
    assert_eq!(
        body,
        json!({
            "idempotency_key": "snapact-order-ord_8f2a",
            "order": {
                "location_id": SHOP,
                "reference_id": "ord_8f2a",
                "source": {"name": "SnapAct"},
                "line_items": [
                    {"catalog_object_id": "V1", "quantity": "2", "base_price_money": {"amount": 350_000, "currency": "NGN"}},
                    {"catalog_object_id": "V2", "quantity": "1", "base_price_money": {"amount": 50_000, "currency": "NGN"}}
                ],
                "pricing_options": {"auto_apply_taxes": false, "auto_apply_discounts": false},
                "metadata": {"snapact_order_id": "ord_8f2a", "snapact_fulfillment": "delivery",
                             "snapact_note": "Gate 3, call on arrival"},
                "service_charges": [{"uid": "snapact-charges", "name": "SnapAct delivery and fees",
                    "amount_money": {"amount": 50_000, "currency": "NGN"}, "calculation_phase": "TOTAL_PHASE"}]
            }
        })
    );
    let discounted = create_order_body(&order(700_000), SHOP).expect("valid order");
    assert_eq!(
        discounted["order"]["discounts"],
        json!([{"uid": "snapact-discount", "name": "SnapAct discount", "type": "FIXED_AMOUNT",
                "scope": "ORDER", "amount_money": {"amount": 50_000, "currency": "NGN"}}])
    );
    let exact = create_order_body(&order(750_000), SHOP).expect("valid order");
    assert!(
        exact["order"].get("discounts").is_none()
            && exact["order"].get("service_charges").is_none()
    );
}

#[test]
fn pushes_order_then_external_payment_with_derived_keys() {
    let mut square = FakeSquare::default();
    square
        .answer(ORDERS_PATH, created("SQ_ORDER_1", 800_000))
        .answer(
            PAYMENTS_PATH,
            json!({"payment": {"id": "PAY1", "status": "COMPLETED", "receipt_number": "R2B3", "order_id": "SQ_ORDER_1"}}),
        );
    let pushed = push(&mut square, &order(800_000), SHOP).expect("pushed");
    assert_eq!(pushed.id, "SQ_ORDER_1");
    assert_eq!(pushed.number.as_deref(), Some("R2B3"));
    let payment = square.sent(PAYMENTS_PATH)[0].clone();
    let key = payment["idempotency_key"].as_str().expect("key");
    assert!(key.len() <= 45, "{key}");
    assert_eq!(key, payment_idempotency_key("snapact-order-ord_8f2a"));
    assert_ne!(key, "snapact-order-ord_8f2a");
    assert_eq!(
        payment,
        json!({
            "idempotency_key": key,
            "source_id": "EXTERNAL",
            "external_details": {"type": "OTHER", "source": "SnapAct", "source_id": "ord_8f2a"},
            "amount_money": {"amount": 800_000, "currency": "NGN"},
            "order_id": "SQ_ORDER_1",
            "location_id": SHOP,
            "autocomplete": true,
            "reference_id": "ord_8f2a",
            "note": "Paid on SnapAct, order ord_8f2a"
        })
    );
}

#[test]
fn a_total_square_disagrees_with_is_not_paid() {
    let mut square = FakeSquare::default();
    square.answer(ORDERS_PATH, created("SQ_ORDER_2", 860_000));
    match push(&mut square, &order(800_000), SHOP) {
        Err(AdapterError::Upstream(e)) => {
            assert!(!e.retryable);
            assert!(
                e.message.contains("SQ_ORDER_2") && e.message.contains("860000"),
                "{}",
                e.message
            );
        }
        other => panic!("expected upstream error, got {other:?}"),
    }
    assert!(square.sent(PAYMENTS_PATH).is_empty());
}

#[test]
fn invalid_orders_send_nothing() {
    let mut mixed = order(800_000);
    mixed.lines[1].unit_price.currency = "USD".into();
    let mut zero_qty = order(800_000);
    zero_qty.lines[0].quantity = 0;
    let mut empty = order(0);
    empty.lines.clear();
    for (bad, path) in [
        (mixed, "$.lines[1].unit_price.currency"),
        (zero_qty, "$.lines[0].quantity"),
        (empty, "$.lines"),
    ] {
        let mut square = FakeSquare::default();
        match push(&mut square, &bad, SHOP) {
            Err(AdapterError::InvalidInput(d)) => assert_eq!(d.path.as_deref(), Some(path)),
            other => panic!("expected invalid input at {path}, got {other:?}"),
        }
        assert!(square.requests.is_empty());
    }
}

#[test]
fn idempotency_keys_fit_square_limits_and_are_stable() {
    let long = "k".repeat(300);
    let order_key = order_idempotency_key(&long);
    assert!(order_key.len() <= 192 && order_key.starts_with("snapact-"));
    assert_eq!(order_key, order_idempotency_key(&long));
    assert_ne!(order_idempotency_key(&"j".repeat(300)), order_key);
    assert_eq!(order_idempotency_key("short"), "short");
    assert_eq!(payment_idempotency_key("a").len(), 44);
    assert_ne!(payment_idempotency_key("a"), payment_idempotency_key("b"));
}
