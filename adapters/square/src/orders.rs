//! A paid SnapAct order into Square: CreateOrder, then an EXTERNAL payment
//! for the amount the buyer paid on SnapAct.
//!
//! Both calls carry idempotency keys derived from the host's key for the
//! SnapAct order, so a retry (or a webhook delivered three times) returns
//! Square's existing order and payment instead of creating new ones.

use sha2::{Digest, Sha256};
use snapact_adapter_sdk::json::{Node, Value};
use snapact_adapter_sdk::{
    AdapterError, Fulfillment, Order, PosOrderRef, UpstreamError, invalid_input, money,
};

use crate::client::{self, Square};

/// CreateOrder.
pub const ORDERS_PATH: &str = "/v2/orders";
/// CreatePayment.
pub const PAYMENTS_PATH: &str = "/v2/payments";

/// Square's limits on the fields this adapter fills.
const ORDER_KEY_MAX: usize = 192;
const REFERENCE_ID_MAX: usize = 40;
const METADATA_VALUE_MAX: usize = 255;

/// CreateOrder's `idempotency_key`: the host's key when it fits Square's
/// 192 characters, else a digest of it.
pub fn order_idempotency_key(key: &str) -> String {
    if !key.is_empty() && key.len() <= ORDER_KEY_MAX {
        key.to_string()
    } else {
        format!("snapact-{}", hex_digest("square-order", key, 64))
    }
}

/// CreatePayment's `idempotency_key` (at most 45 characters): derived from
/// the order's key, distinct from it, stable across retries.
pub fn payment_idempotency_key(key: &str) -> String {
    format!("snapact-pay-{}", hex_digest("square-payment", key, 32))
}

fn hex_digest(domain: &str, text: &str, hex_len: usize) -> String {
    let digest = Sha256::digest(format!("{domain}:{text}").as_bytes());
    digest
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .take(hex_len)
        .map(|n| char::from_digit(u32::from(n), 16).unwrap_or('0'))
        .collect()
}

fn money_json(amount: i64, currency: &str) -> Value {
    serde_json::json!({ "amount": amount, "currency": currency })
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// The CreateOrder body. Each line is the shop's catalog variation
/// (`external_ref`) at the unit price the buyer paid; Square's automatic
/// taxes and discounts are off so Square's total is SnapAct's. Any
/// difference between the lines and the total (delivery, fees, SnapAct
/// discounts) becomes one service charge or one order discount.
pub fn create_order_body(order: &Order, location_id: &str) -> Result<Value, AdapterError> {
    let currency = order.total.currency.as_str();
    if money::exponent(currency).is_none() {
        return Err(invalid_input(
            "$.total.currency",
            format!("{currency:?} is not an ISO 4217 currency code"),
        ));
    }
    if order.lines.is_empty() {
        return Err(invalid_input("$.lines", "order has no lines"));
    }
    let mut line_items = Vec::with_capacity(order.lines.len());
    let mut lines_total: i64 = 0;
    for (i, line) in order.lines.iter().enumerate() {
        let at = |field: &str| format!("$.lines[{i}].{field}");
        if line.external_ref.trim().is_empty() {
            return Err(invalid_input(
                at("external_ref"),
                "line has no external_ref",
            ));
        }
        if line.quantity <= 0 {
            return Err(invalid_input(
                at("quantity"),
                format!("quantity {} is not positive", line.quantity),
            ));
        }
        if line.unit_price.currency != currency {
            return Err(invalid_input(
                at("unit_price.currency"),
                format!(
                    "line is in {} but the order total is in {currency}",
                    line.unit_price.currency
                ),
            ));
        }
        if line.unit_price.amount_minor < 0 {
            return Err(invalid_input(
                at("unit_price.amount_minor"),
                "unit price is negative",
            ));
        }
        lines_total = line
            .unit_price
            .amount_minor
            .checked_mul(line.quantity)
            .and_then(|l| lines_total.checked_add(l))
            .ok_or_else(|| invalid_input(at("quantity"), "order amount overflows"))?;
        line_items.push(serde_json::json!({
            "catalog_object_id": line.external_ref,
            "quantity": line.quantity.to_string(),
            "base_price_money": money_json(line.unit_price.amount_minor, currency),
        }));
    }
    let fulfillment = match order.fulfillment {
        Fulfillment::Pickup => "pickup",
        Fulfillment::Delivery => "delivery",
    };
    let mut metadata = serde_json::Map::new();
    metadata.insert(
        "snapact_order_id".into(),
        truncate(&order.order_id, METADATA_VALUE_MAX).into(),
    );
    metadata.insert("snapact_fulfillment".into(), fulfillment.into());
    if let Some(note) = order.note.as_deref().filter(|n| !n.trim().is_empty()) {
        metadata.insert(
            "snapact_note".into(),
            truncate(note, METADATA_VALUE_MAX).into(),
        );
    }
    let mut square_order = serde_json::json!({
        "location_id": location_id,
        "source": { "name": "SnapAct" },
        "line_items": line_items,
        "pricing_options": { "auto_apply_taxes": false, "auto_apply_discounts": false },
        "metadata": metadata,
    });
    if order.order_id.len() <= REFERENCE_ID_MAX {
        square_order["reference_id"] = order.order_id.clone().into();
    }
    let difference = order
        .total
        .amount_minor
        .checked_sub(lines_total)
        .ok_or_else(|| {
            invalid_input("$.total.amount_minor", "order total minus lines overflows")
        })?;
    if difference > 0 {
        square_order["service_charges"] = serde_json::json!([{
            "uid": "snapact-charges",
            "name": "SnapAct delivery and fees",
            "amount_money": money_json(difference, currency),
            "calculation_phase": "TOTAL_PHASE",
        }]);
    } else if difference < 0 {
        square_order["discounts"] = serde_json::json!([{
            "uid": "snapact-discount",
            "name": "SnapAct discount",
            "type": "FIXED_AMOUNT",
            "scope": "ORDER",
            "amount_money": money_json(-difference, currency),
        }]);
    }
    Ok(serde_json::json!({
        "idempotency_key": order_idempotency_key(&order.idempotency_key),
        "order": square_order,
    }))
}

/// The CreatePayment body recording what the buyer paid on SnapAct as an
/// EXTERNAL payment against Square order `square_order_id`.
pub fn payment_body(order: &Order, square_order_id: &str, location_id: &str) -> Value {
    let mut body = serde_json::json!({
        "idempotency_key": payment_idempotency_key(&order.idempotency_key),
        "source_id": "EXTERNAL",
        "external_details": {
            "type": "OTHER",
            "source": "SnapAct",
            "source_id": order.order_id,
        },
        "amount_money": money_json(order.total.amount_minor, &order.total.currency),
        "order_id": square_order_id,
        "location_id": location_id,
        "autocomplete": true,
        "note": truncate(&format!("Paid on SnapAct, order {}", order.order_id), 500),
    });
    if order.order_id.len() <= REFERENCE_ID_MAX {
        body["reference_id"] = order.order_id.clone().into();
    }
    body
}

/// Create the order and record its payment. Returns Square's order id and
/// the payment's receipt number.
pub fn push(
    square: &mut impl Square,
    order: &Order,
    location_id: &str,
) -> Result<PosOrderRef, AdapterError> {
    const CREATE_ORDER: &str = "CreateOrder";
    const CREATE_PAYMENT: &str = "CreatePayment";
    let raw = square.post(ORDERS_PATH, &create_order_body(order, location_id)?)?;
    let doc = client::parse_body(&raw, CREATE_ORDER)?;
    let root = Node::root(&doc);
    let (order_id, total, currency) = client::read(CREATE_ORDER, &root, |r| {
        let created = r.req("order")?;
        let total = created.req("total_money")?;
        Ok((
            created.req_str("id")?.to_string(),
            total.req("amount")?.i64()?,
            total.req_str("currency")?.to_string(),
        ))
    })?;
    if total != order.total.amount_minor || currency != order.total.currency {
        return Err(AdapterError::Upstream(UpstreamError {
            message: format!(
                "Square computed order {order_id} at {total} {currency} (minor units) but the buyer paid {} {} on SnapAct; no payment was recorded: check the order in Square",
                order.total.amount_minor, order.total.currency
            ),
            status: None,
            retryable: false,
        }));
    }
    if order.total.amount_minor == 0 {
        // Square refuses zero-amount payments; nothing is owed.
        return Ok(PosOrderRef {
            id: order_id,
            number: None,
        });
    }
    let raw = square.post(PAYMENTS_PATH, &payment_body(order, &order_id, location_id))?;
    let doc = client::parse_body(&raw, CREATE_PAYMENT)?;
    let root = Node::root(&doc);
    let (status, receipt) = client::read(CREATE_PAYMENT, &root, |r| {
        let payment = r.req("payment")?;
        Ok((
            payment.opt_str("status")?.map(str::to_string),
            payment.opt_str("receipt_number")?.map(str::to_string),
        ))
    })?;
    if let Some(status @ ("FAILED" | "CANCELED")) = status.as_deref() {
        return Err(AdapterError::Upstream(UpstreamError {
            message: format!(
                "Square recorded the SnapAct payment for order {order_id} as {status}"
            ),
            status: None,
            retryable: false,
        }));
    }
    Ok(PosOrderRef {
        id: order_id,
        number: receipt,
    })
}

#[cfg(test)]
mod tests;
