//! The item checks SnapAct is assumed to make (DESIGN §7), each failure a
//! reason naming the field, as the sandbox returns it per item.

use serde_json::{Map, Value};

use crate::snapact::wire::MAX_EXTERNAL_REF_LEN;

const AVAILABILITY: [&str; 5] = [
    "in-stock",
    "low-stock",
    "out-of-stock",
    "on-request",
    "scheduled-only",
];

const OPTIONAL_STRINGS: [&str; 7] = [
    "sku",
    "barcode",
    "category",
    "description",
    "image_url",
    "parent_ref",
    "source_version",
];

const REQUIRED: [&str; 6] = [
    "external_ref",
    "name",
    "price_minor",
    "quantity",
    "availability",
    "verified_at",
];

/// Checks one item of an upsert batch; `Err` is the reason SnapAct returns.
pub fn item(value: &Value) -> Result<&Map<String, Value>, String> {
    let Some(obj) = value.as_object() else {
        return Err("item: must be a JSON object".to_owned());
    };
    for key in obj.keys() {
        let known = REQUIRED.contains(&key.as_str())
            || OPTIONAL_STRINGS.contains(&key.as_str())
            || key == "currency";
        if !known {
            return Err(format!("{key}: unknown field"));
        }
    }
    for key in REQUIRED {
        if !obj.contains_key(key) {
            return Err(format!("{key}: required"));
        }
    }
    let external_ref = obj["external_ref"]
        .as_str()
        .ok_or("external_ref: must be a string")?;
    if external_ref.is_empty() {
        return Err("external_ref: must not be empty".to_owned());
    }
    if external_ref.chars().count() > MAX_EXTERNAL_REF_LEN {
        return Err(format!(
            "external_ref: longer than {MAX_EXTERNAL_REF_LEN} characters"
        ));
    }
    let name = obj["name"].as_str().ok_or("name: must be a string")?;
    if name.trim().is_empty() {
        return Err("name: must not be empty".to_owned());
    }
    let availability = obj["availability"]
        .as_str()
        .ok_or("availability: must be a string")?;
    if !AVAILABILITY.contains(&availability) {
        return Err(format!(
            "availability: {availability:?} is not one of {}",
            AVAILABILITY.join(", ")
        ));
    }
    let currency = obj.get("currency").unwrap_or(&Value::Null);
    match &obj["price_minor"] {
        Value::Null => {
            if availability != "on-request" {
                return Err(format!(
                    "price_minor: null is only allowed with availability \"on-request\" (got {availability:?})"
                ));
            }
            if !currency.is_null() && !is_currency(currency) {
                return Err("currency: must be an ISO 4217 code like \"NGN\"".to_owned());
            }
        }
        Value::Number(n) if n.as_i64().is_some_and(|p| p >= 0) => {
            if !is_currency(currency) {
                return Err(
                    "currency: required with a price, an ISO 4217 code like \"NGN\"".to_owned(),
                );
            }
        }
        other => {
            return Err(format!(
                "price_minor: must be an integer >= 0 in minor units (got {other})"
            ));
        }
    }
    match &obj["quantity"] {
        Value::Null => {}
        Value::Number(n) if n.as_i64().is_some() => {}
        other => {
            return Err(format!(
                "quantity: must be an integer or null (got {other})"
            ));
        }
    }
    let verified_at = obj["verified_at"]
        .as_str()
        .ok_or("verified_at: must be an RFC 3339 string")?;
    if !is_rfc3339(verified_at) {
        return Err(format!(
            "verified_at: {verified_at:?} is not an RFC 3339 date-time"
        ));
    }
    for key in OPTIONAL_STRINGS {
        match obj.get(key) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(other) => return Err(format!("{key}: must be a string (got {other})")),
        }
    }
    Ok(obj)
}

fn is_currency(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, ranges checked loosely.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({"external_ref":"V1","name":"Rice","price_minor":1000,"currency":"NGN",
               "quantity":3,"availability":"in-stock","verified_at":"2026-01-01T00:00:00.000Z"})
    }

    fn with(key: &str, v: Value) -> Value {
        let mut item = good();
        item[key] = v;
        item
    }

    #[test]
    fn accepts_a_valid_item() {
        assert!(item(&good()).is_ok());
        let on_request = json!({"external_ref":"V1","name":"Cake","price_minor":null,
            "quantity":null,"availability":"on-request","verified_at":"2026-01-01T01:00:00+01:00"});
        assert!(item(&on_request).is_ok());
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases = [
            (
                with("external_ref", json!("")),
                "external_ref: must not be empty",
            ),
            (
                with("external_ref", json!("x".repeat(256))),
                "external_ref: longer than 255 characters",
            ),
            (
                with("availability", json!("in_stock")),
                "availability: \"in_stock\"",
            ),
            (
                with("price_minor", json!(-1)),
                "price_minor: must be an integer >= 0",
            ),
            (
                with("price_minor", json!(1.5)),
                "price_minor: must be an integer >= 0",
            ),
            (
                with("price_minor", json!(null)),
                "price_minor: null is only allowed",
            ),
            (
                with("currency", json!("ngn")),
                "currency: required with a price",
            ),
            (
                with("quantity", json!("3")),
                "quantity: must be an integer or null",
            ),
            (
                with("verified_at", json!("yesterday")),
                "verified_at: \"yesterday\"",
            ),
            (with("colour", json!("red")), "colour: unknown field"),
            (with("sku", json!(5)), "sku: must be a string"),
        ];
        for (value, expected) in cases {
            let err = item(&value).expect_err(expected);
            assert!(
                err.starts_with(expected),
                "{err:?} should start with {expected:?}"
            );
        }
        let mut missing = good();
        missing.as_object_mut().expect("object").remove("name");
        assert_eq!(item(&missing).expect_err("missing"), "name: required");
    }
}
