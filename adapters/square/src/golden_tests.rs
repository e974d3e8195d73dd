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
