//! Native testing helpers: render changes exactly as `snapact-host adapter
//! map` prints them, so a mapping module can be tested with `cargo test`
//! against the same golden `NAME.expected.json` files the host checks.

use crate::{Availability, Change, Item, StockTarget};
use serde_json::{Map, Value, json};

/// The wire spelling of an availability (`"in-stock"`).
pub fn availability_str(a: Availability) -> &'static str {
    match a {
        Availability::InStock => "in-stock",
        Availability::LowStock => "low-stock",
        Availability::OutOfStock => "out-of-stock",
        Availability::OnRequest => "on-request",
        Availability::ScheduledOnly => "scheduled-only",
    }
}

/// Changes as the JSON array `adapter map` prints.
pub fn changes_to_json(changes: &[Change]) -> Value {
    Value::Array(changes.iter().map(change_to_json).collect())
}

/// One change as `adapter map` prints it.
pub fn change_to_json(change: &Change) -> Value {
    match change {
        Change::Upsert(item) => json!({"op": "upsert", "item": item_to_json(item)}),
        Change::Stock(s) => {
            let mut m = Map::new();
            m.insert("op".into(), "stock".into());
            match &s.target {
                StockTarget::ExternalRef(r) => m.insert("external_ref".into(), r.clone().into()),
                StockTarget::StockKey(k) => m.insert("stock_key".into(), k.clone().into()),
            };
            m.insert("quantity".into(), s.quantity.into());
            m.insert(
                "availability".into(),
                availability_str(s.availability).into(),
            );
            if let Some(v) = &s.source_version {
                m.insert("source_version".into(), v.clone().into());
            }
            Value::Object(m)
        }
        Change::Delete(d) => {
            let mut m = Map::new();
            m.insert("op".into(), "delete".into());
            m.insert("external_ref".into(), d.external_ref.clone().into());
            if let Some(v) = &d.source_version {
                m.insert("source_version".into(), v.clone().into());
            }
            Value::Object(m)
        }
    }
}

/// One item with SnapAct's wire field names; absent optional fields are omitted.
pub fn item_to_json(item: &Item) -> Value {
    let mut m = Map::new();
    m.insert("external_ref".into(), item.external_ref.clone().into());
    m.insert("name".into(), item.name.clone().into());
    m.insert(
        "price_minor".into(),
        item.price.as_ref().map(|p| p.amount_minor).into(),
    );
    m.insert(
        "currency".into(),
        item.price.as_ref().map(|p| p.currency.clone()).into(),
    );
    m.insert("quantity".into(), item.quantity.into());
    m.insert(
        "availability".into(),
        availability_str(item.availability).into(),
    );
    let optional = [
        ("sku", &item.sku),
        ("barcode", &item.barcode),
        ("category", &item.category),
        ("description", &item.description),
        ("image_url", &item.image_url),
        ("parent_ref", &item.parent_ref),
        ("stock_key", &item.stock_key),
        ("source_version", &item.source_version),
    ];
    for (key, value) in optional {
        if let Some(v) = value {
            m.insert(key.into(), v.clone().into());
        }
    }
    Value::Object(m)
}
