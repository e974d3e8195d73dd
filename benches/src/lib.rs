//! Shared inputs for the benchmarks: synthetic catalogs in the vendors'
//! documented formats, sized on demand.

use serde_json::{Value, json};

/// A Square `SearchCatalogObjects` response with `items` ITEM objects of
/// `variations_per_item` ITEM_VARIATIONs each, priced in NGN, in the shape of
/// Square's API reference example.
pub fn square_catalog(items: usize, variations_per_item: usize) -> Vec<u8> {
    let objects: Vec<Value> = (0..items)
        .map(|i| {
            let item_id = format!("ITEM{i:08}");
            let variations: Vec<Value> = (0..variations_per_item)
                .map(|v| {
                    json!({
                        "type": "ITEM_VARIATION",
                        "id": format!("VAR{i:08}X{v:02}"),
                        "updated_at": "2026-10-01T10:00:00.000Z",
                        "version": 1_700_000_000_000i64 + i as i64,
                        "is_deleted": false,
                        "present_at_all_locations": true,
                        "item_variation_data": {
                            "item_id": item_id,
                            "name": format!("Size {v}"),
                            "sku": format!("SKU-{i}-{v}"),
                            "ordinal": v,
                            "pricing_type": "FIXED_PRICING",
                            "price_money": { "amount": 150_000 + (i as i64 % 977) * 100, "currency": "NGN" },
                            "track_inventory": true,
                            "sellable": true,
                            "stockable": true
                        }
                    })
                })
                .collect();
            json!({
                "type": "ITEM",
                "id": item_id,
                "updated_at": "2026-10-01T10:00:00.000Z",
                "version": 1_700_000_000_000i64 + i as i64,
                "is_deleted": false,
                "present_at_all_locations": true,
                "item_data": {
                    "name": format!("Product {i}"),
                    "description": "Synthetic benchmark item",
                    "variations": variations,
                    "product_type": "REGULAR"
                }
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "objects": objects })).unwrap_or_default()
}
