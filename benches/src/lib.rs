//! Shared inputs for the benchmarks: synthetic catalogs in the vendors'
//! documented formats, sized on demand. They live in `snapact-tests`
//! (`snapact_tests::catalogs`), next to what SnapAct must end up holding for
//! them, so tests and benchmarks use the same inputs.

pub mod report;

pub use snapact_tests::catalogs::square_catalog;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The workspace root (this crate's parent folder).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The Cargo target directory the benchmarks run from: `CARGO_TARGET_DIR`
/// (relative to the workspace root when relative), else `target/`.
pub fn target_dir() -> PathBuf {
    let root = workspace_root();
    match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(t) if t.is_absolute() => t,
        Some(t) => root.join(t),
        None => root.join("target"),
    }
}

/// A whole-number setting from the environment, `default` when unset; an
/// error naming the variable when it is not a whole number.
pub fn env_usize(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={v:?} is not a whole number")),
        Err(_) => Ok(default),
    }
}

/// A product feed (the format `snapact-host adapter new` adapters map) of
/// `products` products, cycling through eight shapes like the generated
/// sample fixture: tracked, untracked, low and zero stock, a 3-decimal
/// currency, no fixed price, string quantities and one delete in eight.
/// Every product maps to exactly one change.
pub fn product_feed(products: usize) -> Vec<u8> {
    let items: Vec<Value> = (0..products)
        .map(|i| {
            let id = format!("P{i:07}");
            let price = format!("{}.{:02}", 1_000 + i % 977, i % 100);
            match i % 8 {
                0 => json!({
                    "id": id, "name": format!("T-shirt {i}"), "price": price, "currency": "NGN",
                    "quantity": 24, "sku": format!("SKU-{i}"), "barcode": "5901234123457",
                    "category": "Clothing", "description": "100% cotton",
                    "image_url": format!("https://shop.example/images/{i}.jpg"),
                    "updated_at": "2026-11-20T09:30:00Z"
                }),
                1 => json!({ "id": 100_000 + i, "name": format!("Jollof rice {i}"), "price": price, "quantity": 3, "category": "Food" }),
                2 => json!({ "id": id, "name": format!("Cap {i}"), "price": "12.50", "currency": "USD", "quantity": 0 }),
                3 => json!({ "id": id, "name": format!("Gift wrapping {i}"), "price": price }),
                4 => json!({ "id": id, "name": format!("Custom cake {i}"), "price": null, "quantity": null }),
                5 => json!({ "id": id, "name": format!("Oud perfume {i}"), "price": "12.750", "currency": "KWD", "quantity": "8" }),
                6 => json!({ "id": id, "name": format!("  Phone case {i}  "), "price": price, "quantity": -2 }),
                _ => json!({ "id": id, "deleted": true, "updated_at": "2026-11-19T17:05:00Z" }),
            }
        })
        .collect();
    serde_json::to_vec(&json!({ "products": items })).unwrap_or_default()
}
