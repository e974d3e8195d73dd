use std::collections::HashMap;

use serde_json::{Value, json};
use snapact_adapter_sdk::testing::changes_to_json;
use snapact_adapter_sdk::{AdapterError, Mapped};

use super::*;

const SHOP: &str = "LSHOP0000001";
const OTHER: &str = "LOTHER000002";

fn shop() -> MappingSettings {
    MappingSettings {
        location_id: Some(SHOP.into()),
        currency: Some("NGN".into()),
        low_stock_threshold: Some(5),
        tax_mode: TaxMode::AddAdditive,
    }
}

fn map(doc: &Value, settings: &MappingSettings) -> Mapped {
    map_payload(doc.to_string().as_bytes(), settings).expect("payload is readable")
}

fn variation(id: &str, item: &str, name: &str, amount: i64) -> Value {
    json!({
        "type": "ITEM_VARIATION", "id": id, "version": 2,
        "item_variation_data": {
            "item_id": item, "name": name, "pricing_type": "FIXED_PRICING",
            "price_money": {"amount": amount, "currency": "NGN"}
        }
    })
}

fn item(id: &str, name: &str, variations: Vec<Value>) -> Value {
    json!({"type": "ITEM", "id": id, "version": 1, "item_data": {"name": name, "variations": variations}})
}

fn items(mapped: &Mapped) -> Vec<Value> {
    changes_to_json(&mapped.changes)
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn one_item_per_variation_keyed_by_variation_id() {
    let doc = json!([item(
        "I1",
        "Zobo Drink",
        vec![
            variation("V1", "I1", "50cl", 50_000),
            variation("V2", "I1", "1L", 90_000)
        ]
    )]);
    let mapped = map(&doc, &shop());
    assert!(mapped.rejected.is_empty(), "{:?}", mapped.rejected);
    let out = items(&mapped);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["item"]["external_ref"], "V1");
    assert_eq!(out[0]["item"]["parent_ref"], "I1");
    assert_eq!(out[0]["item"]["name"], "Zobo Drink (50cl)");
    assert_eq!(out[1]["item"]["name"], "Zobo Drink (1L)");
    assert_eq!(out[1]["item"]["price_minor"], 90_000);
    assert_eq!(out[1]["item"]["currency"], "NGN");
    // The newer of item and variation version wins.
    assert_eq!(out[1]["item"]["source_version"], "2");
}

#[test]
fn a_deleted_variation_does_not_count_for_the_name() {
    let mut gone = variation("V2", "I1", "1L", 90_000);
    gone["is_deleted"] = json!(true);
    let doc = json!([item(
        "I1",
        "Zobo Drink",
        vec![variation("V1", "I1", "50cl", 50_000), gone]
    )]);
    let out = items(&map(&doc, &shop()));
    assert_eq!(out[0]["item"]["name"], "Zobo Drink");
    assert_eq!(
        out[1],
        json!({"op": "delete", "external_ref": "V2", "source_version": "2"})
    );
}

#[test]
fn variable_pricing_is_on_request_without_price() {
    let mut v = variation("V1", "I1", "Per kg", 0);
    v["item_variation_data"] =
        json!({"item_id": "I1", "name": "Per kg", "pricing_type": "VARIABLE_PRICING"});
    let out = items(&map(&json!([item("I1", "Catfish", vec![v])]), &shop()));
    assert_eq!(out[0]["item"]["price_minor"], Value::Null);
    assert_eq!(out[0]["item"]["currency"], Value::Null);
    assert_eq!(out[0]["item"]["availability"], "on-request");
}

#[test]
fn stock_merges_into_tracked_variations_only() {
    let mut tracked = variation("V1", "I1", "A", 1000);
    tracked["item_variation_data"]["track_inventory"] = json!(true);
    let mut low = variation("V2", "I1", "B", 1000);
    low["item_variation_data"]["track_inventory"] = json!(true);
    let mut none_counted = variation("V3", "I1", "C", 1000);
    none_counted["item_variation_data"]["track_inventory"] = json!(true);
    let untracked = variation("V4", "I1", "D", 1000);
    let doc = json!([item(
        "I1",
        "Garri",
        vec![tracked, low, none_counted, untracked]
    )]);
    let text = doc.to_string();
    let parsed = json::parse(text.as_bytes()).expect("json");
    let root = Node::root(&parsed);
    let catalog = Catalog {
        objects: root.array().expect("array"),
        related: Vec::new(),
    };
    let stock: HashMap<String, i64> = [
        ("V1".to_string(), 40),
        ("V2".to_string(), 5),
        ("V4".to_string(), 9),
    ]
    .into();
    let out = changes_to_json(&map_catalog(&catalog, &shop(), Some(&stock)).changes);
    let got: Vec<(Value, Value)> = out
        .as_array()
        .expect("array")
        .iter()
        .map(|c| {
            (
                c["item"]["quantity"].clone(),
                c["item"]["availability"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (json!(40), json!("in-stock")),
            (json!(5), json!("low-stock")),
            // Tracked but Square has no count: nothing on the shelf.
            (json!(0), json!("out-of-stock")),
            // Not tracked: Square sells it regardless of counts.
            (Value::Null, json!("in-stock")),
        ]
    );
    assert_eq!(live_variation_ids(&catalog), vec!["V1", "V2", "V3", "V4"]);
}

#[test]
fn fractional_inventory_rounds_down_and_other_locations_are_ignored() {
    let doc = json!({"counts": [
        {"catalog_object_id": "V1", "catalog_object_type": "ITEM_VARIATION", "location_id": SHOP, "quantity": "2.99999", "state": "IN_STOCK", "calculated_at": "2026-01-01T10:00:00.5Z"},
        {"catalog_object_id": "V1", "catalog_object_type": "ITEM_VARIATION", "location_id": OTHER, "quantity": "50", "state": "IN_STOCK"},
        {"catalog_object_id": "V2", "catalog_object_type": "ITEM_VARIATION", "location_id": SHOP, "quantity": "0.4", "state": "IN_STOCK"},
        {"catalog_object_id": "V3", "catalog_object_type": "ITEM_VARIATION", "location_id": SHOP, "quantity": "7", "state": "WASTE"}
    ]});
    let out = items(&map(&doc, &shop()));
    assert_eq!(
        out,
        vec![
            json!({"op": "stock", "external_ref": "V1", "quantity": 2, "availability": "low-stock", "source_version": "2026-01-01T10:00:00.500000000Z"}),
            json!({"op": "stock", "external_ref": "V2", "quantity": 0, "availability": "out-of-stock"}),
        ]
    );
    let no_location = map_payload(doc.to_string().as_bytes(), &MappingSettings::default())
        .expect_err("inventory needs a location");
    assert!(matches!(no_location, AdapterError::NotConfigured(m) if m.contains("location_id")));
}

#[test]
fn presence_and_overrides_follow_the_shop_location() {
    let mut absent = variation("V1", "I1", "A", 1000);
    absent["absent_at_location_ids"] = json!([SHOP]);
    let mut elsewhere_only = variation("V2", "I1", "B", 1000);
    elsewhere_only["present_at_all_locations"] = json!(false);
    elsewhere_only["present_at_location_ids"] = json!([OTHER]);
    let mut overridden = variation("V3", "I1", "C", 1000);
    overridden["item_variation_data"]["location_overrides"] = json!([
        {"location_id": OTHER, "price_money": {"amount": 9999, "currency": "NGN"}},
        {"location_id": SHOP, "price_money": {"amount": 1200, "currency": "NGN"}}
    ]);
    let doc = json!([item(
        "I1",
        "Puff-puff",
        vec![absent, elsewhere_only, overridden]
    )]);
    let out = items(&map(&doc, &shop()));
    assert_eq!(out[0]["op"], "delete");
    assert_eq!(out[1]["op"], "delete");
    assert_eq!(out[2]["item"]["price_minor"], 1200);
    // Without a location setting there is no filtering and no override.
    let anywhere = MappingSettings {
        location_id: None,
        ..shop()
    };
    let out = items(&map(&doc, &anywhere));
    assert_eq!(out[0]["op"], "upsert");
    assert_eq!(out[1]["op"], "upsert");
    assert_eq!(out[2]["item"]["price_minor"], 1000);
}

#[test]
fn additive_taxes_are_added_and_inclusive_ones_are_not() {
    let mut it = item("I1", "Suya", vec![variation("V1", "I1", "Beef", 250_000)]);
    it["item_data"]["tax_ids"] = json!(["VAT", "INC", "OFF", "ELSEWHERE"]);
    let tax = |id: &str, data: Value| json!({"type": "TAX", "id": id, "tax_data": data});
    let mut elsewhere = tax(
        "ELSEWHERE",
        json!({"percentage": "50", "inclusion_type": "ADDITIVE"}),
    );
    elsewhere["present_at_all_locations"] = json!(false);
    elsewhere["present_at_location_ids"] = json!([OTHER]);
    let doc = json!({
        "object": it,
        "related_objects": [
            tax("VAT", json!({"percentage": "7.5", "inclusion_type": "ADDITIVE", "enabled": true})),
            tax("INC", json!({"percentage": "10", "inclusion_type": "INCLUSIVE"})),
            tax("OFF", json!({"percentage": "10", "enabled": false})),
            elsewhere
        ]
    });
    let out = items(&map(&doc, &shop()));
    assert_eq!(out[0]["item"]["price_minor"], 268_750);
    let ignore = MappingSettings {
        tax_mode: TaxMode::Ignore,
        ..shop()
    };
    assert_eq!(
        items(&map(&doc, &ignore))[0]["item"]["price_minor"],
        250_000
    );
    let mut untaxed = doc.clone();
    untaxed["object"]["item_data"]["is_taxable"] = json!(false);
    assert_eq!(
        items(&map(&untaxed, &shop()))[0]["item"]["price_minor"],
        250_000
    );
}

#[test]
fn bad_variations_are_rejected_with_paths_and_the_rest_go_on() {
    let mut no_id = variation("X", "I1", "no id", 100);
    no_id.as_object_mut().expect("object").remove("id");
    let mut usd = variation("V2", "I1", "usd", 100);
    usd["item_variation_data"]["price_money"]["currency"] = json!("USD");
    let mut fake = variation("V3", "I1", "fake", 100);
    fake["item_variation_data"]["price_money"]["currency"] = json!("XYZ");
    let mut no_price = variation("V4", "I1", "no price", 100);
    no_price["item_variation_data"]
        .as_object_mut()
        .expect("object")
        .remove("price_money");
    let mut negative = variation("V5", "I1", "negative", -1);
    negative["item_variation_data"]["price_money"]["amount"] = json!(-1);
    let good = variation("V6", "I1", "good", 100);
    let mut taxed = item("I2", "Taxed", vec![variation("V7", "I2", "t", 100)]);
    taxed["item_data"]["tax_ids"] = json!(["MISSING"]);
    let lone = variation("V8", "NOT_HERE", "lone", 100);
    let doc = json!({"objects": [
        item("I1", "Mixed", vec![no_id, usd, fake, no_price, negative, good]),
        taxed,
        lone,
        {"type": "ITEM", "id": "I3", "item_data": {"variations": [variation("V9", "I3", "x", 1)]}}
    ]});
    let mapped = map(&doc, &shop());
    assert_eq!(items(&mapped).len(), 1);
    assert_eq!(items(&mapped)[0]["item"]["external_ref"], "V6");
    let got: Vec<(Option<&str>, Option<&str>)> = mapped
        .rejected
        .iter()
        .map(|r| (r.record_id.as_deref(), r.path.as_deref()))
        .collect();
    let v = "$.objects[0].item_data.variations";
    assert_eq!(
        got,
        vec![
            (None, Some(format!("{v}[0].id").as_str())),
            (
                Some("V2"),
                Some(format!("{v}[1].item_variation_data.price_money.currency").as_str())
            ),
            (
                Some("V3"),
                Some(format!("{v}[2].item_variation_data.price_money.currency").as_str())
            ),
            (
                Some("V4"),
                Some(format!("{v}[3].item_variation_data.price_money").as_str())
            ),
            (
                Some("V5"),
                Some(format!("{v}[4].item_variation_data.price_money.amount").as_str())
            ),
            (Some("V7"), Some("$.objects[1].item_data.tax_ids[0]")),
            (Some("V8"), Some("$.objects[2].item_variation_data.item_id")),
            (Some("I3"), Some("$.objects[3].item_data.name")),
        ]
    );
    let messages: Vec<&str> = mapped.rejected.iter().map(|r| r.message.as_str()).collect();
    assert!(
        messages[1].contains("shop's `currency` setting is NGN"),
        "{}",
        messages[1]
    );
    assert!(messages[2].contains("not an ISO 4217"), "{}", messages[2]);
    assert!(messages[3].contains("no price_money"), "{}", messages[3]);
    assert!(
        messages[5].contains("include_related_objects"),
        "{}",
        messages[5]
    );
    assert!(
        messages[6].contains("parent item NOT_HERE"),
        "{}",
        messages[6]
    );
}

#[test]
fn a_variation_retrieved_alone_takes_its_name_from_the_related_item() {
    let doc = json!({
        "object": variation("V1", "I1", "Large", 700),
        "related_objects": [item("I1", "Chin Chin", vec![variation("V1", "I1", "Large", 700)])]
    });
    let out = items(&map(&doc, &shop()));
    assert_eq!(out[0]["item"]["name"], "Chin Chin");
    assert_eq!(out[0]["item"]["parent_ref"], "I1");
}

#[test]
fn objects_that_are_not_items_are_ignored() {
    let doc = json!([
        {"type": "TAX", "id": "T", "tax_data": {"percentage": "5"}},
        {"type": "DISCOUNT", "id": "D", "discount_data": {}},
        {"type": "MODIFIER_LIST", "id": "M", "modifier_list_data": {}},
        {"type": "CATEGORY", "id": "C", "category_data": {"name": "x"}}
    ]);
    let mapped = map(&doc, &shop());
    assert!(mapped.changes.is_empty() && mapped.rejected.is_empty());
}

#[test]
fn unreadable_payloads_are_invalid_input_at_the_root() {
    for (payload, path) in [
        (&b"not json"[..], "$"),
        (b"\"a string\"", "$"),
        (br#"{"hello": "world"}"#, "$"),
        (br#"{"objects": 5}"#, "$.objects"),
        (
            br#"{"errors":[{"category":"AUTHENTICATION_ERROR","code":"UNAUTHORIZED","detail":"This request could not be authorized."}]}"#,
            "$.errors[0]",
        ),
    ] {
        match map_payload(payload, &shop()) {
            Err(AdapterError::InvalidInput(d)) => assert_eq!(d.path.as_deref(), Some(path)),
            other => panic!("{}: expected invalid input, got {other:?}", String::from_utf8_lossy(payload)),
        }
    }
    for empty in [&b"{}"[..], br#"{"cursor":"x"}"#, b"[]"] {
        let mapped = map_payload(empty, &shop()).expect("empty is fine");
        assert!(mapped.changes.is_empty() && mapped.rejected.is_empty());
    }
}

#[test]
fn ten_thousand_variations_map_without_error() {
    let objects: Vec<Value> = (0..1000)
        .map(|i| {
            let id = format!("ITEM{i:05}");
            let vars = (0..10)
                .map(|j| {
                    variation(
                        &format!("VAR{i:05}{j:02}"),
                        &id,
                        &format!("Size {j}"),
                        100 + j,
                    )
                })
                .collect();
            item(&id, &format!("Product {i}"), vars)
        })
        .collect();
    let mapped = map(&json!({ "objects": objects }), &shop());
    assert!(mapped.rejected.is_empty(), "{:?}", mapped.rejected.first());
    let out = items(&mapped);
    assert_eq!(out.len(), 10_000);
    assert_eq!(out[9_999]["item"]["external_ref"], "VAR0099909");
    assert_eq!(out[9_999]["item"]["name"], "Product 999 (Size 9)");
    assert_eq!(out[9_999]["item"]["price_minor"], 109);
}
