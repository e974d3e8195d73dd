//! What a Clover payload is, and the records in it mapped one by one.
//!
//! Accepted shapes: one `Item`; a list response `{"elements":[...]}` (or a bare
//! array) of items or item stocks; one `ItemStock`; a webhook notification
//! `{"appId","merchants":{...}}`; the one-time `{"verificationCode"}` body.

use crate::config::Settings;
use crate::item::{is_stock_record, map_item, map_stock};
use crate::webhook::{self, Plan};
use snapact_adapter_sdk::json::{Node, Value};
use snapact_adapter_sdk::{AdapterError, Mapped, invalid_input};

/// A payload, understood.
#[derive(Debug)]
pub enum Payload {
    /// Items and item stocks, mapped.
    Records(Mapped),
    /// Clover's webhook URL check: show the code to the operator.
    Verification(String),
    /// A thin webhook notification: what to delete and what to fetch.
    Notification(Plan),
}

/// Read a parsed payload.
pub fn read(doc: &Value, settings: &Settings) -> Result<Payload, AdapterError> {
    let root = Node::root(doc);
    if doc.is_array() {
        return Ok(Payload::Records(map_all(&root.array()?, settings)));
    }
    if !doc.is_object() {
        return Err(unknown_shape());
    }
    if let Some(code) = webhook::verification_code(&root)? {
        return Ok(Payload::Verification(code));
    }
    if root.get("merchants").is_some() {
        return Ok(Payload::Notification(webhook::plan(
            &root,
            settings.merchant_id()?,
        )?));
    }
    if let Some(list) = root.get("elements") {
        return Ok(Payload::Records(map_all(&list.array()?, settings)));
    }
    if is_stock_record(&root) {
        return Ok(Payload::Records(one(map_stock(&root, settings))));
    }
    if root.get("id").is_some() {
        return Ok(Payload::Records(one(map_item(&root, settings))));
    }
    Err(unknown_shape())
}

/// Map every record of a list, each on its own: one bad record is one
/// rejection and the others are still mapped.
pub fn map_all(records: &[Node], settings: &Settings) -> Mapped {
    let mut mapped = Mapped::empty();
    for record in records {
        let result = if is_stock_record(record) {
            map_stock(record, settings)
        } else {
            map_item(record, settings)
        };
        match result {
            Ok(change) => mapped.changes.push(change),
            Err(rejection) => mapped.rejected.push(rejection),
        }
    }
    mapped
}

fn one(result: Result<snapact_adapter_sdk::Change, snapact_adapter_sdk::Rejection>) -> Mapped {
    let mut mapped = Mapped::empty();
    match result {
        Ok(change) => mapped.changes.push(change),
        Err(rejection) => mapped.rejected.push(rejection),
    }
    mapped
}

fn unknown_shape() -> AdapterError {
    invalid_input(
        "$",
        "not a Clover payload: expected an item, a list response {\"elements\":[...]}, an item stock, or a webhook notification {\"merchants\":{...}}",
    )
}
