//! Golden fixtures (`tests/fixtures/loyverse/NAME.input.json` ->
//! `NAME.expected.json`, settings from `NAME.settings.json`) and the mapping
//! behaviours a shop relies on, run natively.
//!
//! `LOYVERSE_BLESS=1 cargo test -p snapact-adapter-loyverse --test golden`
//! rewrites the expected files; every value in them was then checked by hand.

use snapact_adapter_loyverse::mapping::{map_records, read_records};
use snapact_adapter_loyverse::settings::Settings;
use snapact_adapter_sdk::json::{self, Value};
use snapact_adapter_sdk::testing::changes_to_json;
use snapact_adapter_sdk::{AdapterError, Mapped};
use std::collections::HashMap;
use std::path::PathBuf;

const LEKKI: &str = "3f8a2c1e-5b7d-4e9a-8c6f-1d2e3f4a5b6c";
const IKEJA: &str = "7c6b5a49-3e2d-4f1a-9b8c-0d1e2f3a4b5c";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/loyverse")
}

fn settings_from(map: &HashMap<String, String>) -> Settings {
    Settings::from_lookup(|k| map.get(k).cloned()).expect("fixture settings are valid")
}

fn settings(pairs: &[(&str, &str)]) -> Settings {
    settings_from(
        &pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn lekki() -> Settings {
    settings(&[
        ("store_id", LEKKI),
        ("currency", "NGN"),
        ("low_stock_threshold", "5"),
    ])
}

fn map(payload: &str, settings: &Settings) -> Result<Mapped, AdapterError> {
    let doc = json::parse(payload.as_bytes())?;
    Ok(map_records(&read_records(&doc)?, settings))
}

fn golden_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixture dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".input.json").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_golden_pair_maps_exactly() {
    let names = golden_names();
    assert!(names.len() >= 7, "fixtures missing: {names:?}");
    let bless = std::env::var_os("LOYVERSE_BLESS").is_some();
    for name in names {
        let dir = fixtures();
        let input = std::fs::read_to_string(dir.join(format!("{name}.input.json"))).expect("input");
        let raw_settings =
            std::fs::read_to_string(dir.join(format!("{name}.settings.json"))).expect("settings");
        let settings_map: HashMap<String, String> =
            serde_json::from_str(&raw_settings).expect("flat settings object of strings");
        let mapped = map(&input, &settings_from(&settings_map))
            .unwrap_or_else(|e| panic!("{name}: whole payload refused: {e:?}"));
        let actual = changes_to_json(&mapped.changes);
        let expected_path = dir.join(format!("{name}.expected.json"));
        if bless {
            let text = serde_json::to_string_pretty(&actual).expect("render") + "\n";
            std::fs::write(&expected_path, text).expect("write expected");
            continue;
        }
        let expected: Value = json::parse(&std::fs::read(&expected_path).expect("expected file"))
            .expect("expected is JSON");
        assert_eq!(
            actual, expected,
            "{name}: changes differ from {expected_path:?}"
        );
        if name != "bad_records" {
            assert!(mapped.rejected.is_empty(), "{name}: {:?}", mapped.rejected);
        }
    }
}

#[test]
fn bad_records_are_rejected_one_by_one_with_paths() {
    let input = std::fs::read_to_string(fixtures().join("bad_records.input.json")).expect("input");
    let mapped = map(&input, &lekki()).expect("payload readable");
    let got: Vec<(Option<String>, Option<String>, String)> = mapped
        .rejected
        .iter()
        .map(|r| (r.record_id.clone(), r.path.clone(), r.message.clone()))
        .collect();
    let expect = [
        (
            Some("11111111-aaaa-4aaa-8aaa-000000000020"),
            "$.inventory_levels[0].in_stock",
            "\"lots\" is not a plain decimal",
        ),
        (
            None,
            "$.inventory_levels[1].variant_id",
            "missing required field `variant_id`",
        ),
        (None, "$.items[0].id", "missing required field `id`"),
        (
            Some("11111111-aaaa-4aaa-8aaa-000000000021"),
            "$.items[2].variants[0].stores[0].price",
            "\"1,500\" is not a decimal amount",
        ),
        (
            Some("11111111-aaaa-4aaa-8aaa-000000000022"),
            "$.items[3].variants[0].default_price",
            "more than 2 decimal places",
        ),
        (
            Some("22222222-bbbb-4bbb-8bbb-000000000024"),
            "$.items[4].variants[0].variant_id",
            "missing required field `variant_id`",
        ),
        (
            Some("22222222-bbbb-4bbb-8bbb-000000000025"),
            "$.items[5].track_stock",
            "expected true or false",
        ),
    ];
    assert_eq!(got.len(), expect.len(), "{got:#?}");
    for ((id, path, message), (want_id, want_path, want_text)) in got.iter().zip(expect) {
        assert_eq!(id.as_deref(), want_id, "{got:#?}");
        assert_eq!(path.as_deref(), Some(want_path), "{got:#?}");
        assert!(
            message.contains(want_text),
            "{message:?} lacks {want_text:?}"
        );
    }
    // The good records still go through.
    let json = changes_to_json(&mapped.changes);
    assert_eq!(json.as_array().map(Vec::len), Some(2), "{json:#}");
    assert_eq!(json[0]["item"]["name"], "Puff Puff (6 pcs)");
    assert_eq!(json[1]["op"], "stock");
}

#[test]
fn unparseable_payload_is_invalid_input_at_the_root() {
    for bad in ["{\"items\": [", "[1,2]", "42", "{\"cursor\":null}"] {
        match map(bad, &lekki()) {
            Err(AdapterError::InvalidInput(d)) => assert_eq!(d.path.as_deref(), Some("$"), "{bad}"),
            other => panic!("{bad}: expected invalid input at $, got {other:?}"),
        }
    }
    match map("{\"items\": {}}", &lekki()) {
        Err(AdapterError::InvalidInput(d)) => assert_eq!(d.path.as_deref(), Some("$.items")),
        other => panic!("expected invalid input at $.items, got {other:?}"),
    }
    match map(
        "{\"type\":\"items.update\",\"merchant_id\":\"m\"}",
        &lekki(),
    ) {
        Err(AdapterError::InvalidInput(d)) => assert_eq!(d.path.as_deref(), Some("$.items")),
        other => panic!("expected invalid input at $.items, got {other:?}"),
    }
    match map("{\"type\":\"customers.update\",\"customers\":[]}", &lekki()) {
        Err(AdapterError::Unsupported(m)) => assert!(m.contains("customers.update"), "{m}"),
        other => panic!("expected unsupported, got {other:?}"),
    }
}

fn one_variant(stores: &str, extra_item: &str, extra_variant: &str) -> String {
    format!(
        r#"{{"items":[{{"id":"I1","item_name":"Garri (1 paint)","track_stock":true{extra_item},
        "updated_at":"2024-01-01T00:00:00.000Z","variants":[{{"variant_id":"V1",
        "default_pricing_type":"FIXED","default_price":2000{extra_variant},"stores":{stores}}}]}}],
        "inventory_levels":[
          {{"variant_id":"V1","store_id":"{LEKKI}","in_stock":9.99,"updated_at":"2024-01-02T00:00:00.000Z"}},
          {{"variant_id":"V1","store_id":"{IKEJA}","in_stock":500,"updated_at":"2024-01-03T00:00:00.000Z"}}]}}"#
    )
}

#[test]
fn prices_and_stock_come_from_the_shops_store_only() {
    let stores = format!(
        r#"[{{"store_id":"{IKEJA}","pricing_type":"FIXED","price":1800,"available_for_sale":true}},
           {{"store_id":"{LEKKI}","pricing_type":"FIXED","price":2100.5,"available_for_sale":true}}]"#
    );
    let mapped = map(&one_variant(&stores, "", ""), &lekki()).expect("maps");
    let json = changes_to_json(&mapped.changes);
    assert_eq!(json.as_array().map(Vec::len), Some(1), "{json:#}");
    let item = &json[0]["item"];
    assert_eq!(item["price_minor"], 210050);
    assert_eq!(item["currency"], "NGN");
    // 9.99 on the shelf at Lekki: 9 whole units, Ikeja's 500 never counts.
    assert_eq!(item["quantity"], 9);
    assert_eq!(item["availability"], "in-stock");
    assert_eq!(item["source_version"], "2024-01-02T00:00:00.000Z");

    let ikeja = settings(&[("store_id", IKEJA), ("currency", "NGN")]);
    let json = changes_to_json(
        &map(&one_variant(&stores, "", ""), &ikeja)
            .expect("maps")
            .changes,
    );
    assert_eq!(json[0]["item"]["price_minor"], 180000);
    assert_eq!(json[0]["item"]["quantity"], 500);
}

#[test]
fn default_price_applies_when_the_store_has_no_entry() {
    let stores = format!(r#"[{{"store_id":"{IKEJA}","pricing_type":"FIXED","price":1800}}]"#);
    let json = changes_to_json(
        &map(&one_variant(&stores, "", ""), &lekki())
            .expect("maps")
            .changes,
    );
    assert_eq!(json[0]["item"]["price_minor"], 200000);
}

#[test]
fn variable_price_is_on_request_unless_the_shelf_is_empty() {
    let stores = format!(r#"[{{"store_id":"{LEKKI}","pricing_type":"VARIABLE","price":null}}]"#);
    let json = changes_to_json(
        &map(&one_variant(&stores, "", ""), &lekki())
            .expect("maps")
            .changes,
    );
    let item = &json[0]["item"];
    assert_eq!(item["price_minor"], Value::Null);
    assert_eq!(item["currency"], Value::Null);
    assert_eq!(item["availability"], "on-request");
    assert_eq!(item["quantity"], 9);

    // A variant VARIABLE by default, with no store entry, is on request too.
    let input = one_variant("[]", "", "")
        .replace("\"default_pricing_type\":\n        \"FIXED\"", "")
        .replace(
            r#""default_pricing_type":"FIXED""#,
            r#""default_pricing_type":"VARIABLE""#,
        );
    let json = changes_to_json(&map(&input, &lekki()).expect("maps").changes);
    assert_eq!(json[0]["item"]["availability"], "on-request", "{json:#}");

    let empty = one_variant(&stores, "", "").replace("9.99", "0.5");
    let json = changes_to_json(&map(&empty, &lekki()).expect("maps").changes);
    assert_eq!(json[0]["item"]["quantity"], 0);
    assert_eq!(json[0]["item"]["availability"], "out-of-stock");
}

#[test]
fn not_for_sale_at_the_store_is_a_delete() {
    let stores = format!(
        r#"[{{"store_id":"{LEKKI}","pricing_type":"FIXED","price":2000,"available_for_sale":false}}]"#
    );
    let json = changes_to_json(
        &map(&one_variant(&stores, "", ""), &lekki())
            .expect("maps")
            .changes,
    );
    assert_eq!(json[0]["op"], "delete");
    assert_eq!(json[0]["external_ref"], "V1");
    // Its stock level is not turned into a stock update that could revive it.
    assert_eq!(json.as_array().map(Vec::len), Some(1), "{json:#}");
}

#[test]
fn untracked_and_composite_items_have_no_quantity() {
    for extra in [r#","track_stock":false"#, r#","is_composite":true"#] {
        let input = one_variant("[]", extra, "").replace(
            r#""track_stock":true,"track_stock":false"#,
            r#""track_stock":false"#,
        );
        let json = changes_to_json(&map(&input, &lekki()).expect("maps").changes);
        // One upsert and no stock update for the level that came along.
        assert_eq!(json.as_array().map(Vec::len), Some(1), "{extra}: {json:#}");
        assert_eq!(
            json[0]["item"]["quantity"],
            Value::Null,
            "{extra}: {json:#}"
        );
        assert_eq!(json[0]["item"]["availability"], "in-stock");
    }
}

#[test]
fn stock_is_rounded_down_and_never_negative() {
    let levels = |q: &str| {
        format!(
            r#"{{"inventory_levels":[{{"variant_id":"V1","store_id":"{LEKKI}","in_stock":{q},"updated_at":"2024-01-01T00:00:00.000Z"}}]}}"#
        )
    };
    for (q, want, availability) in [
        ("5.999", 5, "low-stock"),
        ("6.01", 6, "in-stock"),
        ("0.75", 0, "out-of-stock"),
        ("-3.5", 0, "out-of-stock"),
        ("\"12.000\"", 12, "in-stock"),
    ] {
        let json = changes_to_json(&map(&levels(q), &lekki()).expect("maps").changes);
        assert_eq!(json[0]["quantity"], want, "{q}");
        assert_eq!(json[0]["availability"], availability, "{q}");
    }
}

#[test]
fn ten_thousand_variants_map_without_error() {
    let mut items = Vec::new();
    let mut levels = Vec::new();
    for i in 0..2_500 {
        let variants: Vec<String> = (0..4)
            .map(|v| {
                format!(
                    r#"{{"variant_id":"V{i}-{v}","option1_value":"Size {v}","default_pricing_type":"FIXED",
                    "default_price":{i}.{v}5,"stores":[{{"store_id":"{LEKKI}","pricing_type":"FIXED","price":{i}.{v}0,"available_for_sale":true}}]}}"#
                )
            })
            .collect();
        for v in 0..4 {
            levels.push(format!(
                r#"{{"variant_id":"V{i}-{v}","store_id":"{LEKKI}","in_stock":{v}.5,"updated_at":"2024-01-01T00:00:00.000Z"}}"#
            ));
        }
        items.push(format!(
            r#"{{"id":"I{i}","item_name":"Item {i}","track_stock":true,"variants":[{}]}}"#,
            variants.join(",")
        ));
    }
    let payload = format!(
        r#"{{"items":[{}],"inventory_levels":[{}]}}"#,
        items.join(","),
        levels.join(",")
    );
    let mapped = map(&payload, &lekki()).expect("maps");
    assert!(mapped.rejected.is_empty(), "{:?}", mapped.rejected.first());
    assert_eq!(mapped.changes.len(), 10_000);
    let json = changes_to_json(&mapped.changes);
    let last = &json[9_999]["item"];
    assert_eq!(last["external_ref"], "V2499-3");
    assert_eq!(last["name"], "Item 2499 (Size 3)");
    assert_eq!(last["price_minor"], 249930);
    assert_eq!(last["quantity"], 3);
    assert_eq!(last["availability"], "low-stock");
}

#[test]
fn the_same_input_always_gives_the_same_output() {
    let input =
        std::fs::read_to_string(fixtures().join("items_with_inventory.input.json")).expect("input");
    let first = changes_to_json(&map(&input, &lekki()).expect("maps").changes);
    for _ in 0..5 {
        assert_eq!(
            changes_to_json(&map(&input, &lekki()).expect("maps").changes),
            first
        );
    }
}

#[test]
fn the_newest_level_of_a_variant_wins_within_a_batch() {
    let payload = format!(
        r#"{{"type":"inventory_levels.update","inventory_levels":[
          {{"variant_id":"V1","store_id":"{LEKKI}","in_stock":8,"updated_at":"2024-01-01T10:00:02.000Z"}},
          {{"variant_id":"V1","store_id":"{LEKKI}","in_stock":9,"updated_at":"2024-01-01T10:00:01.000Z"}}]}}"#
    );
    let json = changes_to_json(&map(&payload, &lekki()).expect("maps").changes);
    assert_eq!(json.as_array().map(Vec::len), Some(1), "{json:#}");
    assert_eq!(json[0]["quantity"], 8);
    assert_eq!(json[0]["source_version"], "2024-01-01T10:00:02.000Z");
}
