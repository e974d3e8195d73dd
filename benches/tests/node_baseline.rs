//! The Node.js baseline (`benches/node-baseline/square-sync.mjs`) maps
//! Square catalogs the way the host's Square adapter does, for the fields
//! the benchmark's catalog has: otherwise `vs_node` would compare different
//! work. Checked with `--dry-run` against the golden fixture and against
//! `square_catalog_expected`, which is written from the adapter's
//! documented mapping. Needs `node` (20+) on the PATH, as the JavaScript
//! adapters' builds do.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use snapact_benches::{square_catalog, workspace_root};
use snapact_tests::catalogs::square_catalog_expected;

fn script() -> PathBuf {
    workspace_root().join("benches/node-baseline/square-sync.mjs")
}

fn dry_run(file: &Path, currency: &str) -> Output {
    Command::new("node")
        .arg(script())
        .arg("--file")
        .arg(file)
        .args(["--currency", currency, "--dry-run"])
        .output()
        .expect("run `node` (Node.js 20 or newer must be on the PATH)")
}

/// The items the script would send, without `verified_at` (checked to be
/// an RFC 3339 UTC time and removed).
fn items(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "the script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("the dry run prints JSON");
    let mut items = v.as_array().expect("a JSON array of items").clone();
    for item in &mut items {
        let obj = item.as_object_mut().expect("each item is an object");
        let at = obj.remove("verified_at").expect("verified_at is set");
        let at = at.as_str().expect("verified_at is a string");
        assert!(
            at.len() == 24 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
            "verified_at {at:?} is not an RFC 3339 UTC time"
        );
    }
    items
}

#[test]
fn maps_the_golden_fixture_like_the_adapter() {
    let fixtures = workspace_root().join("tests/fixtures/square");
    let out = dry_run(&fixtures.join("search_catalog_objects.input.json"), "USD");
    let expected: Value = serde_json::from_slice(
        &std::fs::read(fixtures.join("search_catalog_objects.expected.json"))
            .expect("read the expected changes"),
    )
    .expect("expected changes are JSON");
    let expected: Vec<Value> = expected
        .as_array()
        .expect("an array of changes")
        .iter()
        .map(|c| {
            assert_eq!(c["op"], "upsert", "the fixture only has upserts");
            c["item"].clone()
        })
        .collect();
    assert_eq!(items(&out), expected);
}

#[test]
fn maps_the_benchmark_catalog_like_the_adapter() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    // Two variations per item: names become "Item (Variation)".
    for variations in [1, 2] {
        let file = dir.path().join(format!("catalog-{variations}.json"));
        std::fs::write(&file, square_catalog(120, variations)).expect("write the catalog");
        let got = items(&dry_run(&file, "NGN"));
        assert_eq!(got, square_catalog_expected(120, variations));
    }
}

#[test]
fn refuses_prices_that_are_not_whole_minor_units_or_in_another_currency() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("bad.json");
    let variation = |id: &str, amount: Value, currency: &str| {
        serde_json::json!({
            "type": "ITEM_VARIATION", "id": id, "version": 1,
            "item_variation_data": {
                "pricing_type": "FIXED_PRICING",
                "price_money": { "amount": amount, "currency": currency }
            }
        })
    };
    let catalog = serde_json::json!({ "objects": [
        { "type": "ITEM", "id": "I1", "version": 1, "item_data": { "name": "Rice",
          "variations": [variation("FLOAT", serde_json::json!(1250.5), "NGN")] } },
        { "type": "ITEM", "id": "I2", "version": 1, "item_data": { "name": "Beans",
          "variations": [variation("USD", serde_json::json!(500), "USD")] } },
        { "type": "ITEM", "id": "I3", "version": 1, "item_data": { "name": "Garri",
          "variations": [variation("GOOD", serde_json::json!(90_000), "NGN")] } },
    ]});
    std::fs::write(&file, catalog.to_string()).expect("write the catalog");
    let out = dry_run(&file, "NGN");
    let got = items(&out);
    assert_eq!(got.len(), 1, "only the good variation is sent: {got:?}");
    assert_eq!(got[0]["external_ref"], "GOOD");
    assert_eq!(got[0]["price_minor"], 90_000);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped FLOAT: price_money.amount 1250.5 is not a whole number"),
        "{stderr}"
    );
    assert!(
        stderr.contains("skipped USD: price in USD, but the shop sells in NGN"),
        "{stderr}"
    );
}
