use serde_json::{Value, json};
use snapact_adapter_sdk::testing::changes_to_json;
use snapact_adapter_sdk::{AdapterError, UpstreamError};

use super::*;
use crate::fake_square::FakeSquare;

const SHOP: &str = "LSHOP0000001";

fn shop() -> MappingSettings {
    MappingSettings {
        location_id: Some(SHOP.into()),
        currency: Some("USD".into()),
        low_stock_threshold: Some(5),
        ..MappingSettings::default()
    }
}

fn tracked_item(item: &str, var: &str, name: &str) -> Value {
    json!({
        "type": "ITEM", "id": item, "version": 10,
        "item_data": {"name": name, "variations": [{
            "type": "ITEM_VARIATION", "id": var, "version": 10,
            "item_variation_data": {"item_id": item, "name": "Regular", "pricing_type": "FIXED_PRICING",
                "price_money": {"amount": 150, "currency": "USD"}, "track_inventory": true}
        }]}
    })
}

fn count(var: &str, quantity: &str, at: &str) -> Value {
    json!({"catalog_object_id": var, "catalog_object_type": "ITEM_VARIATION", "location_id": SHOP,
           "quantity": quantity, "state": "IN_STOCK", "calculated_at": at})
}

#[test]
fn full_sync_pages_through_the_catalog_with_stock() {
    let mut square = FakeSquare::default();
    square
        .answer(
            SEARCH_PATH,
            json!({"objects": [tracked_item("I1", "V1", "Tea")], "cursor": "PAGE2",
                   "latest_time": "2026-01-01T00:00:00Z"}),
        )
        .answer(
            COUNTS_PATH,
            json!({"counts": [count("V1", "3.99999", "2026-01-01T00:00:00Z")]}),
        )
        .answer(
            SEARCH_PATH,
            json!({"objects": [tracked_item("I2", "V2", "Coffee")],
                   "latest_time": "2026-01-02T00:00:00Z"}),
        )
        .answer(COUNTS_PATH, json!({}));

    let first = poll(&mut square, None, &shop()).expect("first page");
    assert!(first.more);
    let changes = changes_to_json(&first.changes);
    assert_eq!(changes[0]["item"]["external_ref"], "V1");
    assert_eq!(changes[0]["item"]["quantity"], 3);
    assert_eq!(changes[0]["item"]["availability"], "low-stock");

    let second = poll(&mut square, first.cursor.as_deref(), &shop()).expect("second page");
    assert!(!second.more);
    let changes = changes_to_json(&second.changes);
    assert_eq!(changes[0]["item"]["quantity"], 0);
    assert_eq!(changes[0]["item"]["availability"], "out-of-stock");

    let searches = square.sent(SEARCH_PATH);
    assert_eq!(
        *searches[0],
        json!({"object_types": ["ITEM"], "include_related_objects": true,
               "include_deleted_objects": false, "limit": 100})
    );
    assert_eq!(searches[1]["cursor"], "PAGE2");
    let counts = square.sent(COUNTS_PATH);
    assert_eq!(
        *counts[0],
        json!({"catalog_object_ids": ["V1"], "location_ids": [SHOP], "states": ["IN_STOCK"], "limit": 1000})
    );
    // The next cycle starts at the catalog time of this cycle's first page.
    let state = PollState::decode(second.cursor.as_deref()).expect("own cursor");
    assert_eq!(
        state,
        PollState {
            since: Some("2026-01-01T00:00:00Z".into()),
            inventory_since: Some("2026-01-01T00:00:00Z".into()),
            ..PollState::default()
        }
    );
}

#[test]
fn incremental_cycle_includes_deletions_then_changed_stock() {
    let start = PollState {
        since: Some("2026-01-01T00:00:00Z".into()),
        inventory_since: Some("2026-01-01T00:00:00Z".into()),
        ..PollState::default()
    };
    let mut square = FakeSquare::default();
    square
        .answer(
            SEARCH_PATH,
            json!({"objects": [{"type": "ITEM_VARIATION", "id": "V9", "is_deleted": true, "version": 11}],
                   "latest_time": "2026-01-03T00:00:00Z"}),
        )
        .answer(
            COUNTS_PATH,
            json!({"counts": [count("V1", "12", "2026-01-02T08:00:00.25Z")], "cursor": "C2"}),
        )
        .answer(
            COUNTS_PATH,
            json!({"counts": [count("V2", "1", "2026-01-02T07:00:00Z")]}),
        );

    let catalog = poll(&mut square, Some(&start.encode()), &shop()).expect("catalog page");
    assert!(catalog.more);
    assert_eq!(
        changes_to_json(&catalog.changes),
        json!([{"op": "delete", "external_ref": "V9", "source_version": "11"}])
    );
    let search = square.sent(SEARCH_PATH)[0].clone();
    assert_eq!(search["begin_time"], "2026-01-01T00:00:00Z");
    assert_eq!(search["include_deleted_objects"], true);
    assert_eq!(search["object_types"], json!(["ITEM", "ITEM_VARIATION"]));
    // A deleted variation needs no stock lookup.
    assert!(square.sent(COUNTS_PATH).is_empty());

    let stock1 = poll(&mut square, catalog.cursor.as_deref(), &shop()).expect("stock page 1");
    assert!(stock1.more);
    assert_eq!(
        changes_to_json(&stock1.changes),
        json!([{"op": "stock", "external_ref": "V1", "quantity": 12, "availability": "in-stock",
                "source_version": "2026-01-02T08:00:00.250000000Z"}])
    );
    let stock2 = poll(&mut square, stock1.cursor.as_deref(), &shop()).expect("stock page 2");
    assert!(!stock2.more);
    let inventory_requests = square.sent(COUNTS_PATH);
    assert_eq!(
        *inventory_requests[0],
        json!({"location_ids": [SHOP], "states": ["IN_STOCK"], "limit": 1000,
               "updated_after": "2026-01-01T00:00:00Z"})
    );
    assert_eq!(inventory_requests[1]["cursor"], "C2");
    let next = PollState::decode(stock2.cursor.as_deref()).expect("own cursor");
    assert_eq!(next.since.as_deref(), Some("2026-01-03T00:00:00Z"));
    assert_eq!(
        next.inventory_since.as_deref(),
        Some("2026-01-02T08:00:00.25Z")
    );
    assert_eq!(next.phase, Phase::Catalog);
}

#[test]
fn failures_are_typed() {
    let mut square = FakeSquare::default();
    square.fail(
        SEARCH_PATH,
        AdapterError::Upstream(UpstreamError {
            message: "Square answered HTTP 503".into(),
            status: Some(503),
            retryable: true,
        }),
    );
    assert!(matches!(
        poll(&mut square, None, &shop()),
        Err(AdapterError::Upstream(UpstreamError {
            retryable: true,
            ..
        }))
    ));
    assert!(matches!(
        poll(&mut square, Some("not a cursor"), &shop()),
        Err(AdapterError::InvalidInput(_))
    ));
    assert!(matches!(
        poll(&mut square, None, &MappingSettings::default()),
        Err(AdapterError::NotConfigured(m)) if m.contains("location_id")
    ));
    square.answer(SEARCH_PATH, json!({"objects": {"not": "a list"}}));
    match poll(&mut square, None, &shop()) {
        Err(AdapterError::Upstream(e)) => {
            assert!(e.message.contains("$.objects"), "{}", e.message);
            assert!(!e.retryable);
        }
        other => panic!("expected upstream shape error, got {other:?}"),
    }
}

#[test]
fn cursor_round_trips() {
    let state = PollState {
        phase: Phase::Inventory,
        since: Some("a".into()),
        inventory_since: None,
        page: Some("p\"q".into()),
        next_since: Some("n".into()),
        inventory_max: Some("m".into()),
    };
    assert_eq!(
        PollState::decode(Some(&state.encode())).expect("decode"),
        state
    );
    assert_eq!(PollState::decode(None).expect("none"), PollState::default());
    assert!(PollState::decode(Some(r#"{"v":2}"#)).is_err());
}

#[test]
fn a_variation_changed_alone_is_mapped_with_its_full_item() {
    let start = PollState {
        since: Some("2026-01-01T00:00:00Z".into()),
        ..PollState::default()
    };
    let mut item = tracked_item("I1", "V1", "Tea");
    item["item_data"]["tax_ids"] = json!(["TAX5"]);
    let lone = item["item_data"]["variations"][0].clone();
    let mut square = FakeSquare::default();
    square
        .answer(
            SEARCH_PATH,
            // Related objects go one level deep: the item, not its tax.
            json!({"objects": [lone], "related_objects": [item.clone()],
                   "latest_time": "2026-01-02T00:00:00Z"}),
        )
        .answer(
            BATCH_RETRIEVE_PATH,
            json!({"objects": [item], "related_objects": [
                {"type": "TAX", "id": "TAX5", "tax_data": {"percentage": "5.0", "inclusion_type": "ADDITIVE"}}
            ]}),
        )
        .answer(COUNTS_PATH, json!({"counts": [count("V1", "9", "2026-01-01T12:00:00Z")]}));
    let page = poll(&mut square, Some(&start.encode()), &shop()).expect("page");
    assert!(page.rejected.is_empty(), "{:?}", page.rejected);
    let changes = changes_to_json(&page.changes);
    assert_eq!(changes.as_array().expect("array").len(), 1);
    assert_eq!(changes[0]["item"]["external_ref"], "V1");
    assert_eq!(changes[0]["item"]["price_minor"], 158);
    assert_eq!(changes[0]["item"]["quantity"], 9);
    assert_eq!(
        *square.sent(BATCH_RETRIEVE_PATH)[0],
        json!({"object_ids": ["I1"], "include_related_objects": true})
    );
}
