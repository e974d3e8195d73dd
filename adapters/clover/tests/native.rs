//! Native tests of the Clover mapping against the golden fixtures in
//! `tests/fixtures/clover/` (the same files the host's `adapter test` runs
//! through the Wasm component), plus the webhook, poll and order halves that
//! need a POS: those run here with fakes in place of `pos-http`.
//!
//! Regenerate the expected files after a deliberate mapping change with
//! `SNAPACT_BLESS=1 cargo test -p snapact-adapter-clover --test native`,
//! then check every changed value by hand.

use serde_json::{Value, json};
use snapact_adapter_clover::config::Settings;
use snapact_adapter_clover::records::{self, Payload};
use snapact_adapter_clover::{order, poll, webhook};
use snapact_adapter_sdk::json::{self as sjson, Node};
use snapact_adapter_sdk::testing::changes_to_json;
use snapact_adapter_sdk::{
    AdapterError, Availability, Change, Fulfillment, Mapped, Money, Order, OrderLine, Rejection,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/clover")
}

fn read(name: &str) -> Vec<u8> {
    let path = fixtures().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn read_json(name: &str) -> Value {
    serde_json::from_slice(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn settings_from(map: BTreeMap<String, String>) -> Settings {
    Settings::from_lookup(|k| map.get(k).cloned()).expect("fixture settings are valid")
}

fn settings_for(name: &str) -> Settings {
    let Value::Object(obj) = read_json(&format!("{name}.settings.json")) else {
        panic!("{name}.settings.json is not a flat object");
    };
    settings_from(
        obj.into_iter()
            .map(|(k, v)| (k, v.as_str().expect("settings are strings").to_string()))
            .collect(),
    )
}

fn settings(pairs: &[(&str, &str)]) -> Settings {
    settings_from(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// What `map-records` does, without a POS: a notification whose items must
/// be fetched fails, so golden notifications carry only deletions.
fn map_offline(payload: &[u8], settings: &Settings) -> Result<Mapped, AdapterError> {
    let doc = sjson::parse(payload)?;
    match records::read(&doc, settings)? {
        Payload::Records(mapped) => Ok(mapped),
        Payload::Verification(_) => Ok(Mapped::empty()),
        Payload::Notification(plan) => webhook::resolve(plan, settings, |id| {
            Err(AdapterError::Unsupported(format!(
                "golden fixtures cannot fetch item {id}"
            )))
        }),
    }
}

fn rejections_to_json(rejected: &[Rejection]) -> Value {
    Value::Array(
        rejected
            .iter()
            .map(|r| json!({"record_id": r.record_id, "path": r.path, "message": r.message}))
            .collect(),
    )
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

fn check_or_bless(file: &str, actual: &Value) {
    let path = fixtures().join(file);
    let pretty = serde_json::to_string_pretty(actual).expect("json") + "\n";
    if std::env::var_os("SNAPACT_BLESS").is_some() {
        std::fs::write(&path, pretty).expect("write expected");
        return;
    }
    let expected: Value = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{file} is missing ({e}); bless it")),
    )
    .expect("expected json");
    assert_eq!(actual, &expected, "{file} differs from the mapping");
}

#[test]
fn every_golden_pair_matches() {
    let names = golden_names();
    assert!(names.len() >= 8, "fixtures went missing: {names:?}");
    for name in &names {
        let settings = settings_for(name);
        let mapped = map_offline(&read(&format!("{name}.input.json")), &settings)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        check_or_bless(
            &format!("{name}.expected.json"),
            &changes_to_json(&mapped.changes),
        );
        let rejected_file = format!("{name}.rejected.json");
        if mapped.rejected.is_empty() {
            assert!(
                !fixtures().join(&rejected_file).exists(),
                "{name}: no rejections, but {rejected_file} exists"
            );
        } else {
            check_or_bless(&rejected_file, &rejections_to_json(&mapped.rejected));
        }
    }
}

fn upsert<'a>(mapped: &'a Mapped, id: &str) -> &'a snapact_adapter_sdk::Item {
    mapped
        .changes
        .iter()
        .find_map(|c| match c {
            Change::Upsert(i) if i.external_ref == id => Some(i),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no upsert for {id}"))
}

fn items_list() -> Mapped {
    map_offline(&read("items_list.input.json"), &settings_for("items_list")).expect("maps")
}

#[test]
fn fractional_stock_rounds_down_and_never_uses_stock_count() {
    let mapped = items_list();
    // quantity 160.5, stockCount 161: 160 on the shelf.
    assert_eq!(upsert(&mapped, "3Z29BX6C013XC").quantity, Some(160));

    let one = map_offline(
        &read("item_stock_decimal.input.json"),
        &settings_for("item_stock_decimal"),
    )
    .expect("maps");
    let [Change::Stock(stock)] = one.changes.as_slice() else {
        panic!("expected one stock change: {:?}", one.changes);
    };
    assert_eq!(stock.quantity, Some(160));

    let list = map_offline(
        &read("item_stocks_list.input.json"),
        &settings_for("item_stocks_list"),
    )
    .expect("maps");
    let quantities: Vec<(Option<i64>, Availability)> = list
        .changes
        .iter()
        .map(|c| match c {
            Change::Stock(s) => (s.quantity, s.availability),
            other => panic!("expected stock, got {other:?}"),
        })
        .collect();
    assert_eq!(
        quantities,
        vec![
            (Some(127), Availability::InStock),
            (Some(4), Availability::LowStock),
            // 0.75 left (stockCount says 1): nothing whole to sell.
            (Some(0), Availability::OutOfStock),
            // oversold to -2: nothing on the shelf, not a negative promise.
            (Some(0), Availability::OutOfStock),
        ]
    );
}

#[test]
fn variable_price_is_on_request_without_a_price() {
    let mapped = items_list();
    let fish = upsert(&mapped, "B7K2M9X4WQ1PE");
    assert!(fish.price.is_none());
    assert_eq!(fish.availability, Availability::OnRequest);
    assert_eq!(fish.quantity, None);
}

#[test]
fn hidden_or_unavailable_items_stay_listed_as_out_of_stock() {
    let mapped = items_list();
    let staff = upsert(&mapped, "HDN4A2B6C8D0E");
    assert_eq!(staff.availability, Availability::OutOfStock);
    assert_eq!(staff.quantity, Some(12));
    let muffin = upsert(&mapped, "UNAV9X8Y7Z6W5");
    assert_eq!(muffin.availability, Availability::OutOfStock);
    // Hidden wins over variable pricing too.
    let doc = json!({"id":"HIDDENVAR0001","name":"Catch of the day","priceType":"VARIABLE","hidden":true});
    let m = map_offline(doc.to_string().as_bytes(), &settings_for("items_list")).expect("maps");
    assert_eq!(
        upsert(&m, "HIDDENVAR0001").availability,
        Availability::OutOfStock
    );
}

#[test]
fn buyer_price_adds_the_items_own_tax_exactly() {
    let mapped = items_list();
    let price = |id: &str| {
        upsert(&mapped, id)
            .price
            .as_ref()
            .map(|p| (p.amount_minor, p.currency.as_str()))
    };
    // 12.00 + 8.875% (default rate) = 12.00 + 1.065 -> 13.07
    assert_eq!(price("9J1F7WW503CZW"), Some((1307, "USD")));
    // own rates 6% + 2.875%: 20.00 + 1.775 -> 21.78
    assert_eq!(price("TSHIRTRED0M01"), Some((2178, "USD")));
    // non-revenue gift card: untaxed
    assert_eq!(price("GIFTCARD25USD"), Some((2500, "USD")));
    // defaultTaxRates false, no own rates: untaxed
    assert_eq!(price("NOTAX0BOTTLE1"), Some((199, "USD")));

    let vat = map_offline(
        &read("items_ngn_vat_included.input.json"),
        &settings_for("items_ngn_vat_included"),
    )
    .expect("maps");
    let jollof = upsert(&vat, "NGJOLLOF0RICE");
    let naira = jollof
        .price
        .as_ref()
        .map(|p| (p.amount_minor, p.currency.as_str()));
    assert_eq!(naira, Some((350_000, "NGN")));
    assert_eq!(jollof.availability, Availability::LowStock);
    let suya = upsert(&vat, "NGSUYA0PERKG0");
    assert_eq!(suya.quantity, Some(2));
    assert_eq!(suya.description.as_deref(), Some("Price per kg"));
}

#[test]
fn bad_records_are_rejected_one_by_one_with_paths() {
    let mapped = map_offline(
        &read("bad_records.input.json"),
        &settings_for("bad_records"),
    )
    .expect("a payload with bad records still maps");
    assert_eq!(mapped.changes.len(), 1, "{:?}", mapped.changes);
    assert_eq!(upsert(&mapped, "GOODITEM00001").name, "Espresso");
    let got: Vec<(Option<&str>, Option<&str>)> = mapped
        .rejected
        .iter()
        .map(|r| (r.record_id.as_deref(), r.path.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some("NOPRICE000001"), Some("$.elements[1].price")),
            (Some("BADTYPE000001"), Some("$.elements[2].priceType")),
            (
                Some("BADSTOCK00001"),
                Some("$.elements[3].itemStock.quantity")
            ),
            (None, Some("$.elements[4].id")),
            (Some("NEGPRICE00001"), Some("$.elements[5].price")),
            (
                Some("STOCKCOUNT001"),
                Some("$.elements[6].itemStock.quantity")
            ),
            (Some("NONAME0000001"), Some("$.elements[7].name")),
        ]
    );
    assert!(mapped.rejected[1].message.contains("BY_WEIGHT"));
    assert!(mapped.rejected[5].message.contains("stockCount"));
}

#[test]
fn unreadable_payloads_are_invalid_input_at_the_root() {
    let s = settings_for("items_list");
    for bad in [
        &b"{\"elements\": ["[..],
        b"not json",
        b"42",
        b"{\"something\":1}",
    ] {
        match map_offline(bad, &s) {
            Err(AdapterError::InvalidInput(d)) => assert_eq!(d.path.as_deref(), Some("$")),
            other => panic!(
                "{:?}: expected invalid input at $, got {other:?}",
                String::from_utf8_lossy(bad)
            ),
        }
    }
    match map_offline(br#"{"elements": {"id": "X"}}"#, &s) {
        Err(AdapterError::InvalidInput(d)) => assert_eq!(d.path.as_deref(), Some("$.elements")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ten_thousand_items_map_without_error() {
    let elements: Vec<Value> = (0..10_000)
        .map(|i| {
            json!({
                "id": format!("ITEM{i:09}"),
                "name": format!("Item {i}"),
                "price": 100 + i,
                "priceType": if i % 10 == 0 { "VARIABLE" } else { "FIXED" },
                "hidden": i % 97 == 0,
                "modifiedTime": 1_700_000_000_000_i64 + i,
                "itemStock": {"item": {"id": format!("ITEM{i:09}")}, "quantity": format!("{}.5", i % 50).parse::<f64>().ok()},
                "categories": {"elements": [{"name": "Bulk"}]},
            })
        })
        .collect();
    let payload = serde_json::to_vec(&json!({ "elements": elements })).expect("json");
    let mapped = map_offline(&payload, &settings_for("items_list")).expect("maps");
    assert_eq!(mapped.changes.len(), 10_000);
    assert!(mapped.rejected.is_empty(), "{:?}", mapped.rejected.first());
    let last = upsert(&mapped, "ITEM000009999");
    // 9999 % 50 = 49 -> 49.5 on the shelf -> 49
    assert_eq!(last.quantity, Some(49));
}

#[test]
fn webhook_fetches_updated_items_and_deletes_vanished_ones() {
    let s = settings_for("items_list");
    let doc = read_json("webhook_item_update.notification.json");
    let plan = webhook::plan(&Node::root(&doc), s.merchant_id().expect("mid")).expect("plan");
    assert_eq!(plan.ignored, 1, "the category event is not an item");
    let item = read_json("webhook_item_update.item.json");
    let mut fetched = Vec::new();
    let mapped = webhook::resolve(plan, &s, |id| {
        fetched.push(id.to_string());
        Ok(match id {
            "9J1F7WW503CZW" => Some(item.clone()),
            _ => None,
        })
    })
    .expect("resolves");
    // CREATE then UPDATE of the same item: fetched once.
    assert_eq!(fetched, vec!["9J1F7WW503CZW", "GONE0BEFORE01"]);
    assert_eq!(
        changes_to_json(&mapped.changes),
        json!([
            {"op": "upsert", "item": {
                "external_ref": "9J1F7WW503CZW", "name": "Caesar Salad",
                // 12.50 + 8.875% = 12.50 + 1.109375 -> 13.61
                "price_minor": 1361, "currency": "USD", "quantity": 9,
                "availability": "in-stock", "category": "Salads",
                "source_version": "1611609499000"}},
            {"op": "delete", "external_ref": "GONE0BEFORE01", "source_version": "1611609500000"}
        ])
    );
}

#[test]
fn webhook_ignores_other_merchants_and_rejects_bad_events() {
    let body = json!({"appId": "A", "merchants": {
        "VKVJT2ZRRRSC1": [
            {"objectId": "I:../../orders", "type": "UPDATE", "ts": 1},
            {"objectId": "ITEMWITHOUTPREFIX", "type": "UPDATE"},
            {"objectId": "I:ABC123", "type": "PATCH"},
            {"objectId": "I:ABC124", "type": "DELETE"}
        ],
        "SOMEONEELSE01": [{"objectId": "I:XYZ", "type": "DELETE"}]
    }});
    let plan = webhook::plan(&Node::root(&body), "VKVJT2ZRRRSC1").expect("plan");
    assert_eq!(plan.ignored, 1);
    let paths: Vec<_> = plan.rejected.iter().map(|r| r.path.as_deref()).collect();
    assert_eq!(
        paths,
        vec![
            Some("$.merchants.VKVJT2ZRRRSC1[0].objectId"),
            Some("$.merchants.VKVJT2ZRRRSC1[1].objectId"),
            Some("$.merchants.VKVJT2ZRRRSC1[2].type"),
        ]
    );
    assert_eq!(plan.rejected[2].record_id.as_deref(), Some("ABC123"));
    assert_eq!(
        plan.steps,
        vec![webhook::Step::Delete {
            id: "ABC124".into(),
            version: None
        }]
    );
}

#[test]
fn verification_body_yields_its_code_and_nothing_else() {
    let doc = read_json("webhook_verification.input.json");
    let code = webhook::verification_code(&Node::root(&doc)).expect("readable");
    assert_eq!(
        code.as_deref(),
        Some("ce7643c1-83ea-4218-abe6-da876c9c7a0a")
    );
    let forged = json!({"verificationCode": "x\nERROR forged log line"});
    assert!(matches!(
        webhook::verification_code(&Node::root(&forged)),
        Err(AdapterError::InvalidInput(_))
    ));
}

#[test]
fn auth_header_is_required_whatever_its_case() {
    let headers = vec![(
        "X-Clover-Auth".to_string(),
        " 0307e264-b33a-4913-88aa-37b10014a0b8 ".to_string(),
    )];
    assert_eq!(
        webhook::auth_header(&headers).expect("present"),
        "0307e264-b33a-4913-88aa-37b10014a0b8"
    );
    match webhook::auth_header(&[("content-type".into(), "application/json".into())]) {
        Err(AdapterError::Unauthenticated(m)) => assert!(m.contains("X-Clover-Auth")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn poll_requests_pages_by_modified_time_and_keyset_cursor() {
    let s = settings_for("items_list");
    let start = poll::Cursor::parse(None).expect("start");
    let (path, query) = poll::request("VKVJT2ZRRRSC1", start);
    assert_eq!(path, "/v3/merchants/VKVJT2ZRRRSC1/items");
    assert_eq!(
        query,
        vec![
            (
                "expand".to_string(),
                "itemStock,categories,taxRates".to_string()
            ),
            ("filter".to_string(), "modifiedTime>=0".to_string()),
            ("orderBy".to_string(), "modifiedTime ASC".to_string()),
            ("limit".to_string(), "100".to_string()),
            ("offset".to_string(), "0".to_string()),
        ]
    );

    // A full page whose last two items share a millisecond.
    let page: Vec<Value> = (0..100)
        .map(|i| json!({"id": format!("P{i:04}"), "name": "x", "price": 1, "modifiedTime": 1000 + i.min(98)}))
        .collect();
    let body = serde_json::to_vec(&json!({"elements": page})).expect("json");
    let first = poll::page(&body, start, &s).expect("page");
    assert!(first.more);
    assert_eq!(first.changes.len(), 100);
    assert_eq!(first.cursor.as_deref(), Some("v1:1098:2"));
    let next = poll::Cursor::parse(first.cursor.as_deref()).expect("ours");
    let (_, query) = poll::request("VKVJT2ZRRRSC1", next);
    assert!(query.contains(&("filter".into(), "modifiedTime>=1098".into())));
    assert!(query.contains(&("offset".into(), "2".into())));

    // A short page ends the cycle at the newest time seen, offset 0.
    let body = serde_json::to_vec(&json!({"elements": [
        {"id": "LAST1", "name": "x", "price": 1, "modifiedTime": 1500}
    ]}))
    .expect("json");
    let last = poll::page(&body, next, &s).expect("page");
    assert!(!last.more);
    assert_eq!(last.cursor.as_deref(), Some("v1:1500:0"));

    // An empty page keeps the cursor where it was.
    let empty = poll::page(br#"{"elements":[]}"#, next, &s).expect("page");
    assert_eq!(empty.cursor.as_deref(), Some("v1:1098:0"));
    assert!(!empty.more);

    // A full page inside one millisecond steps over it.
    let same: Vec<Value> = (0..100)
        .map(|i| json!({"id": format!("S{i:04}"), "name": "x", "price": 1, "modifiedTime": 1098}))
        .collect();
    let body = serde_json::to_vec(&json!({"elements": same})).expect("json");
    let stepped = poll::page(&body, next, &s).expect("page");
    assert_eq!(stepped.cursor.as_deref(), Some("v1:1098:102"));
}

#[test]
fn poll_refuses_foreign_cursors_and_bad_bodies() {
    for bad in ["", "v2:1:0", "v1:x:0", "v1:1", "v1:1:2:3", "v1:-5:0"] {
        match poll::Cursor::parse(Some(bad)) {
            Err(AdapterError::InvalidInput(d)) => assert_eq!(d.path.as_deref(), Some("cursor")),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let s = settings_for("items_list");
    match poll::page(b"<html>", poll::Cursor::START, &s) {
        Err(AdapterError::Upstream(u)) => assert!(u.message.contains("unexpected body")),
        other => panic!("{other:?}"),
    }
}

fn sample_order(quantity: i64) -> Order {
    let usd = |amount_minor| Money {
        amount_minor,
        currency: "USD".into(),
    };
    Order {
        order_id: "ord_7Hq2K".into(),
        idempotency_key: "idem-ord_7Hq2K".into(),
        created_at: "2026-11-27T10:00:00Z".into(),
        lines: vec![
            OrderLine {
                external_ref: "9J1F7WW503CZW".into(),
                name: "Caesar Salad".into(),
                quantity,
                unit_price: usd(1307),
            },
            OrderLine {
                external_ref: "NOTAX0BOTTLE1".into(),
                name: "Bottled Water".into(),
                quantity: 1,
                unit_price: usd(199),
            },
        ],
        subtotal: usd(1307 * quantity + 199),
        total: usd(1307 * quantity + 199),
        fulfillment: Fulfillment::Pickup,
        note: Some("No croutons".into()),
    }
}

#[test]
fn order_becomes_one_atomic_order_with_a_line_per_unit() {
    let order = sample_order(2);
    let tax_added = settings(&[
        ("currency", "USD"),
        ("prices_include_tax", "false"),
        ("tax_rate_percent", "8.875"),
        ("order_type_id", "ONLINEPICKUP1"),
    ]);
    order::validate(&order, &tax_added).expect("valid");
    assert_eq!(
        order::atomic_body(&order, &tax_added),
        json!({"orderCart": {
            "lineItems": [
                {"item": {"id": "9J1F7WW503CZW"}},
                {"item": {"id": "9J1F7WW503CZW"}},
                {"item": {"id": "NOTAX0BOTTLE1"}}
            ],
            "title": "SnapAct ord_7Hq2K",
            "note": "SnapAct order ord_7Hq2K (pickup): No croutons",
            "orderType": {"id": "ONLINEPICKUP1"}
        }})
    );
    let vat = settings(&[("currency", "USD"), ("prices_include_tax", "true")]);
    let body = order::atomic_body(&order, &vat);
    assert_eq!(
        body["orderCart"]["lineItems"][0],
        json!({"item": {"id": "9J1F7WW503CZW"}, "price": 1307})
    );
    assert_eq!(
        order::payment_body(&order, "TENDERSNAPACT"),
        json!({"amount": 2813, "tender": {"id": "TENDERSNAPACT"}, "result": "SUCCESS",
               "note": "Paid on SnapAct, order ord_7Hq2K"})
    );
    assert_eq!(
        order::lookup_query(&order),
        vec![
            ("filter".to_string(), "title=SnapAct ord_7Hq2K".to_string()),
            ("expand".to_string(), "payments".to_string()),
            ("limit".to_string(), "10".to_string()),
        ]
    );
}

#[test]
fn orders_that_cannot_be_pushed_say_which_field() {
    let s = settings(&[("currency", "USD"), ("prices_include_tax", "true")]);
    let path_of = |o: &Order| match order::validate(o, &s) {
        Err(AdapterError::InvalidInput(d)) => d.path,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        path_of(&sample_order(501)).as_deref(),
        Some("order.lines[0].quantity")
    );
    assert_eq!(
        path_of(&sample_order(0)).as_deref(),
        Some("order.lines[0].quantity")
    );
    let mut o = sample_order(1);
    o.order_id = "a&filter=x".into();
    assert_eq!(path_of(&o).as_deref(), Some("order.order_id"));
    let mut o = sample_order(1);
    o.lines[1].external_ref = "../items".into();
    assert_eq!(path_of(&o).as_deref(), Some("order.lines[1].external_ref"));
    let mut o = sample_order(1);
    o.total.currency = "NGN".into();
    assert_eq!(path_of(&o).as_deref(), Some("order.total.currency"));
}

#[test]
fn a_retry_finds_the_order_and_its_payment() {
    let order = sample_order(1);
    let none = order::find_existing(br#"{"elements":[]}"#, &order, "TENDERSNAPACT").expect("ok");
    assert_eq!(none, None);
    let unpaid = br#"{"elements":[
        {"id":"OTHERORDER001","title":"SnapAct ord_7Hq2K-2","payments":{"elements":[]}},
        {"id":"CLOVERORDER01","title":"SnapAct ord_7Hq2K","state":"open","payments":{"elements":[]}}
    ]}"#;
    assert_eq!(
        order::find_existing(unpaid, &order, "TENDERSNAPACT").expect("ok"),
        Some(order::Existing {
            id: "CLOVERORDER01".into(),
            paid: false
        })
    );
    let paid = br#"{"elements":[
        {"id":"CLOVERORDER01","title":"SnapAct ord_7Hq2K","payments":{"elements":[
            {"id":"PAYCASH000001","amount":100,"tender":{"id":"CASHTENDER001"},"result":"SUCCESS"},
            {"id":"PAYSNAP000001","amount":1506,"tender":{"id":"TENDERSNAPACT"},"result":"SUCCESS"}
        ]}}
    ]}"#;
    assert_eq!(
        order::find_existing(paid, &order, "TENDERSNAPACT").expect("ok"),
        Some(order::Existing {
            id: "CLOVERORDER01".into(),
            paid: true
        })
    );
    assert_eq!(
        order::created_order(br#"{"id":"NEWORDER00001","total":1506,"state":"open"}"#)
            .expect("created")
            .id,
        "NEWORDER00001"
    );
    assert!(matches!(
        order::created_order(br#"{"id":"../../x"}"#),
        Err(AdapterError::Upstream(_))
    ));
}

#[test]
fn mapping_is_deterministic() {
    let s = settings_for("items_list");
    let payload = read("items_list.input.json");
    let a = changes_to_json(&map_offline(&payload, &s).expect("maps").changes);
    let b = changes_to_json(&map_offline(&payload, &s).expect("maps").changes);
    assert_eq!(a, b);
}

#[test]
fn the_last_event_per_item_decides() {
    let body = json!({"appId": "A", "merchants": {"M1": [
        {"objectId": "I:A1", "type": "UPDATE", "ts": 1},
        {"objectId": "I:B2", "type": "CREATE", "ts": 2},
        {"objectId": "I:A1", "type": "DELETE", "ts": 3}
    ]}});
    let plan = webhook::plan(&Node::root(&body), "M1").expect("plan");
    assert_eq!(
        plan.steps,
        vec![
            webhook::Step::Fetch {
                id: "B2".into(),
                version: Some("2".into())
            },
            webhook::Step::Delete {
                id: "A1".into(),
                version: Some("3".into())
            },
        ]
    );
}
