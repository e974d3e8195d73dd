//! The mapping, natively: the golden fixtures in `fixtures/` (the same
//! files `snapact-host adapter test` checks against the built component),
//! then the rules one by one.

use super::*;
use snapact_adapter_sdk::testing::changes_to_json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn read_json(path: &Path) -> Value {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    json::parse(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e:?}", path.display()))
}

fn settings_of(name: &str) -> Settings {
    let path = fixtures().join(format!("{name}.settings.json"));
    let map: BTreeMap<String, String> = if path.is_file() {
        match read_json(&path) {
            Value::Object(o) => o
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect(),
            other => panic!("{} must be a flat object, got {other}", path.display()),
        }
    } else {
        BTreeMap::new()
    };
    Settings::from_lookup(|k| map.get(k).cloned()).expect("fixture settings are valid")
}

fn settings(currency: Option<&str>, threshold: Option<i64>) -> Settings {
    Settings {
        currency: currency.map(str::to_string),
        low_stock_threshold: threshold,
    }
}

fn map_one(product: &str, settings: &Settings) -> Mapped {
    let feed = format!("{{\"products\": [{product}]}}");
    map_payload(feed.as_bytes(), settings).expect("a feed")
}

fn item(product: &str) -> Item {
    let mapped = map_one(product, &settings(Some("NGN"), Some(5)));
    assert!(mapped.rejected.is_empty(), "{:?}", mapped.rejected);
    match mapped.changes.into_iter().next() {
        Some(Change::Upsert(item)) => item,
        other => panic!("expected one upsert, got {other:?}"),
    }
}

fn rejection(product: &str) -> (Option<String>, Option<String>) {
    let mapped = map_one(product, &settings(Some("NGN"), Some(5)));
    assert!(mapped.changes.is_empty(), "{:?}", mapped.changes);
    let r = mapped.rejected.into_iter().next().expect("one rejection");
    assert!(!r.message.is_empty());
    (r.record_id, r.path)
}

#[test]
fn golden_fixtures_map_to_their_expected_output() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures/ exists")
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".input.json")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(
        names.len() >= 3,
        "expected at least 3 fixtures, found {names:?}"
    );
    for name in names {
        let input = std::fs::read(fixtures().join(format!("{name}.input.json"))).expect("input");
        let expected = read_json(&fixtures().join(format!("{name}.expected.json")));
        let result = map_payload(&input, &settings_of(&name));
        if let Some(error) = expected.get("error") {
            match result {
                Err(AdapterError::InvalidInput(d)) => {
                    assert_eq!(error["kind"], "invalid-input", "{name}");
                    assert_eq!(d.path.as_deref(), error["path"].as_str(), "{name}");
                }
                other => panic!("{name}: expected {error}, got {other:?}"),
            }
            continue;
        }
        let mapped = result.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let (changes, rejected) = match &expected {
            Value::Array(_) => (expected.clone(), Vec::new()),
            _ => (
                expected["changes"].clone(),
                expected["rejected"].as_array().cloned().unwrap_or_default(),
            ),
        };
        assert_eq!(changes_to_json(&mapped.changes), changes, "{name}: changes");
        let got: Vec<(Option<String>, Option<String>)> = mapped
            .rejected
            .iter()
            .map(|r| (r.record_id.clone(), r.path.clone()))
            .collect();
        let want: Vec<(Option<String>, Option<String>)> = rejected
            .iter()
            .map(|r| {
                (
                    r["record_id"].as_str().map(str::to_string),
                    r["path"].as_str().map(str::to_string),
                )
            })
            .collect();
        assert_eq!(got, want, "{name}: rejections");
    }
}

#[test]
fn prices_are_exact_in_the_currencys_minor_unit() {
    let price = |p: &str, c: &str| {
        item(&format!(
            r#"{{"id":"A","name":"A","price":"{p}","currency":"{c}"}}"#
        ))
        .price
        .map(|m| (m.amount_minor, m.currency))
    };
    assert_eq!(price("0.29", "USD"), Some((29, "USD".into())));
    assert_eq!(price("1500", "NGN"), Some((150_000, "NGN".into())));
    assert_eq!(price("1200", "JPY"), Some((1200, "JPY".into())));
    assert_eq!(price("1.234", "KWD"), Some((1234, "KWD".into())));
    assert_eq!(price("12.500", "usd"), Some((1250, "USD".into())));
    for bad in [
        r#""1.999""#,
        r#""-1.00""#,
        r#""12,50""#,
        r#""""#,
        "12.5",
        "true",
    ] {
        let (id, path) = rejection(&format!(
            r#"{{"id":"A","name":"A","price":{bad},"currency":"USD"}}"#
        ));
        assert_eq!(id.as_deref(), Some("A"), "{bad}");
        assert_eq!(path.as_deref(), Some("$.products[0].price"), "{bad}");
    }
}

#[test]
fn availability_follows_quantity_and_the_threshold() {
    let availability = |q: &str| {
        item(&format!(
            r#"{{"id":1,"name":"A","price":"1","quantity":{q}}}"#
        ))
        .availability
    };
    assert_eq!(availability("null"), Availability::InStock);
    assert_eq!(availability("0"), Availability::OutOfStock);
    assert_eq!(availability("-3"), Availability::OutOfStock);
    assert_eq!(availability("5"), Availability::LowStock);
    assert_eq!(availability("\"6\""), Availability::InStock);
    let no_price = item(r#"{"id":1,"name":"A","quantity":9}"#);
    assert!(no_price.price.is_none());
    assert_eq!(no_price.availability, Availability::OnRequest);
    assert_eq!(
        item(r#"{"id":1,"name":"A","price":"1","quantity":-3}"#).quantity,
        Some(0)
    );
}

#[test]
fn ids_are_kept_exactly() {
    assert_eq!(
        item(r#"{"id":18446744073709551615,"name":"A"}"#).external_ref,
        "18446744073709551615"
    );
    for bad in ["1.5", "\"\"", "null", "[]"] {
        let (id, path) = rejection(&format!(r#"{{"id":{bad},"name":"A"}}"#));
        assert_eq!(
            (id, path.as_deref()),
            (None, Some("$.products[0].id")),
            "{bad}"
        );
    }
}

#[test]
fn a_product_without_currency_needs_the_setting() {
    let mapped = map_one(
        r#"{"id":"A","name":"A","price":"1"}"#,
        &settings(None, None),
    );
    assert_eq!(
        mapped.rejected[0].path.as_deref(),
        Some("$.products[0].currency")
    );
}

#[test]
fn what_is_not_a_feed_fails_as_a_whole_with_a_path() {
    let path = |payload: &[u8]| match map_payload(payload, &Settings::default()) {
        Err(AdapterError::InvalidInput(d)) => d.path,
        other => panic!("expected invalid-input, got {other:?}"),
    };
    assert_eq!(path(b"{\"products\": [").as_deref(), Some("$"));
    assert_eq!(path(b"[]").as_deref(), Some("$"));
    assert_eq!(path(b"{}").as_deref(), Some("$.products"));
    assert_eq!(path(b"{\"products\": {}}").as_deref(), Some("$.products"));
    assert_eq!(path(b"\xff").as_deref(), Some("$"));
    let bom = map_payload(b"\xEF\xBB\xBF{\"products\": []}", &Settings::default());
    assert!(bom.is_ok_and(|m| m.changes.is_empty()));
}

#[test]
fn malformed_settings_are_not_configured() {
    let lookup = |k: &'static str, v: &'static str| {
        Settings::from_lookup(move |key| (key == k).then(|| v.to_string()))
    };
    assert!(
        matches!(lookup("currency", "naira"), Err(AdapterError::NotConfigured(m)) if m.contains("currency"))
    );
    assert!(
        matches!(lookup("low_stock_threshold", "few"), Err(AdapterError::NotConfigured(m)) if m.contains("low_stock_threshold"))
    );
    assert_eq!(
        lookup("currency", " ngn ").ok().and_then(|s| s.currency),
        Some("NGN".into())
    );
}
