//! Synthetic POS catalogs of any size in the vendors' documented formats,
//! each with what SnapAct must end up holding for it. Shared by the
//! integration tests and the benchmarks (`snapact-benches`).
//!
//! The expectations are written out here from the adapter's documented
//! mapping (adapters/square/README.md), not computed by the adapter's own
//! code, so a test comparing the two can catch the adapter, the host or the
//! wire going wrong.

use serde_json::{Value, json};

/// Version Square gives object `i` (epoch milliseconds, as Square's are).
fn square_version(i: usize) -> i64 {
    1_700_000_000_000 + i as i64
}

/// Base price of item `i` in kobo: varies so values are checked, not just counts.
fn square_price(i: usize) -> i64 {
    150_000 + (i as i64 % 977) * 100
}

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
                        "version": square_version(i),
                        "is_deleted": false,
                        "present_at_all_locations": true,
                        "item_variation_data": {
                            "item_id": item_id,
                            "name": format!("Size {v}"),
                            "sku": format!("SKU-{i}-{v}"),
                            "ordinal": v,
                            "pricing_type": "FIXED_PRICING",
                            "price_money": { "amount": square_price(i), "currency": "NGN" },
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
                "version": square_version(i),
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

/// The settings a shop importing [`square_catalog`] uses.
pub const SQUARE_SETTINGS: &[(&str, &str)] = &[("location_id", "L1"), ("currency", "NGN")];

/// What SnapAct holds after [`square_catalog`]`(items, variations_per_item)`
/// is imported with [`SQUARE_SETTINGS`]: one item per variation, in wire form
/// without `verified_at`, ordered by `external_ref`.
///
/// Square's mapping: the variation id is the `external_ref`; the name is the
/// item's, with the variation's in parentheses when the item has several;
/// `amount` is already in minor units and no tax applies; tracked inventory
/// without inventory counts in the payload is sent as not tracked
/// (`quantity` null), so in stock; the item id is the `parent_ref`; the
/// newer of the two objects' versions is the `source_version`.
pub fn square_catalog_expected(items: usize, variations_per_item: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(items * variations_per_item);
    for i in 0..items {
        for v in 0..variations_per_item {
            let name = if variations_per_item > 1 {
                format!("Product {i} (Size {v})")
            } else {
                format!("Product {i}")
            };
            out.push(json!({
                "external_ref": format!("VAR{i:08}X{v:02}"),
                "name": name,
                "price_minor": square_price(i),
                "currency": "NGN",
                "quantity": null,
                "availability": "in-stock",
                "sku": format!("SKU-{i}-{v}"),
                "description": "Synthetic benchmark item",
                "parent_ref": format!("ITEM{i:08}"),
                "source_version": square_version(i).to_string(),
            }));
        }
    }
    out
}
