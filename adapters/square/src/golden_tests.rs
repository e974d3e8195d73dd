//! Golden fixtures: every `tests/fixtures/square/NAME.input.json`, mapped
//! with `NAME.settings.json`, must give exactly `NAME.expected.json` (the
//! `adapter map` form) and, when present, the rejections in
//! `NAME.rejected.json` (none otherwise).
//!
//! `SQUARE_BLESS=1 cargo test -p snapact-adapter-square golden` rewrites the
//! expected files; check every value by hand before committing them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use snapact_adapter_sdk::Rejection;
use snapact_adapter_sdk::testing::changes_to_json;

use crate::{MappingSettings, map_payload};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/square")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The settings of a fixture (a flat JSON object of strings).
pub fn fixture_settings(path: &Path) -> MappingSettings {
    let map: HashMap<String, String> = match read_json(path) {
        Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or(v.to_string())))
            .collect(),
        other => panic!("{} must be a flat object, got {other}", path.display()),
    };
    MappingSettings::from_lookup(|k| map.get(k).cloned())
        .unwrap_or_else(|e| panic!("{}: bad settings: {e:?}", path.display()))
}

fn rejections_to_json(rejected: &[Rejection]) -> Value {
    Value::Array(
        rejected
            .iter()
            .map(|r| json!({"record_id": r.record_id, "path": r.path, "message": r.message}))
            .collect(),
    )
}

fn write_pretty(path: &Path, value: &Value) {
    let mut text = serde_json::to_string_pretty(value).expect("serialisable");
    text.push('\n');
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

#[test]
fn golden_fixtures_map_exactly() {
    let bless = std::env::var_os("SQUARE_BLESS").is_some();
    let dir = fixtures_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".input.json"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    for required in [
        "catalog_object",
        "retrieve_catalog_object",
        "search_catalog_objects",
        "batch_retrieve_catalog_objects",
        "search_catalog_items",
        "batch_retrieve_inventory_counts",
        "inventory_count_updated",
        "catalog_version_updated",
        "deleted_objects",
        "bad_variation",
        "location_rules",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "fixture {required} is missing"
        );
    }
    let mut failures = Vec::new();
    for name in &names {
        let input = std::fs::read(dir.join(format!("{name}.input.json"))).expect("input");
        let settings = fixture_settings(&dir.join(format!("{name}.settings.json")));
        let mapped = map_payload(&input, &settings)
            .unwrap_or_else(|e| panic!("{name}: the payload was refused: {e:?}"));
        let changes = changes_to_json(&mapped.changes);
        let rejected = rejections_to_json(&mapped.rejected);
        let expected_path = dir.join(format!("{name}.expected.json"));
        let rejected_path = dir.join(format!("{name}.rejected.json"));
        if bless {
            write_pretty(&expected_path, &changes);
            if mapped.rejected.is_empty() {
                let _ = std::fs::remove_file(&rejected_path);
            } else {
                write_pretty(&rejected_path, &rejected);
            }
            continue;
        }
        if read_json(&expected_path) != changes {
            failures.push(format!(
                "{name}: changes differ\n  expected: {}\n  actual:   {changes}",
                read_json(&expected_path)
            ));
        }
        let expected_rejected = if rejected_path.exists() {
            read_json(&rejected_path)
        } else {
            json!([])
        };
        if expected_rejected != rejected {
            failures.push(format!(
                "{name}: rejections differ\n  expected: {expected_rejected}\n  actual:   {rejected}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The README's demo catalog (synthetic, Lagos, NGN) maps without a
/// rejection, and its inventory keeps only the Yaba location's IN_STOCK.
#[test]
fn sample_catalog_and_inventory_map_cleanly() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample");
    let settings = MappingSettings::from_lookup(|k| match k {
        "location_id" => Some("LYABA7Q2NG0Z1".into()),
        "currency" => Some("NGN".into()),
        "low_stock_threshold" => Some("5".into()),
        _ => None,
    })
    .expect("settings");
    let catalog = std::fs::read(sample.join("catalog.json")).expect("catalog");
    let mapped = map_payload(&catalog, &settings).expect("catalog maps");
    assert!(mapped.rejected.is_empty(), "{:?}", mapped.rejected);
    let changes = changes_to_json(&mapped.changes);
    let changes = changes.as_array().expect("array");
    assert_eq!(changes.len(), 31);
    assert!(changes.iter().all(|c| c["op"] == "upsert"));
    let by_name = |name: &str| {
        changes
            .iter()
            .find(|c| c["item"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} is missing"))["item"]
            .clone()
    };
    // VAT is INCLUSIVE: the shelf price is the buyer price.
    assert_eq!(
        by_name("Indomie Instant Noodles (70g)")["price_minor"],
        35_000
    );
    assert_eq!(by_name("Ijebu Garri")["availability"], "on-request");
    assert_eq!(
        by_name("Coca-Cola (1L PET)")["availability"],
        "out-of-stock"
    );
    // The Ikeja override does not apply to the Yaba shop.
    assert_eq!(by_name("Milo (900g tin)")["price_minor"], 980_000);

    let inventory = std::fs::read(sample.join("inventory.json")).expect("inventory");
    let mapped = map_payload(&inventory, &settings).expect("inventory maps");
    assert!(mapped.rejected.is_empty(), "{:?}", mapped.rejected);
    let stock = changes_to_json(&mapped.changes);
    let stock = stock.as_array().expect("array");
    assert_eq!(stock.len(), 29);
    assert!(stock.iter().all(|c| c["op"] == "stock"));
    assert!(stock.iter().any(|c| c["quantity"] == 7));
    assert!(
        stock
            .iter()
            .all(|c| c["quantity"] != 250 && c["quantity"] != 130)
    );
}
