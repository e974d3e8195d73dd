//! Shopify products, variants and inventory levels to SnapAct changes.
//!
//! Pure: no host calls, so it is tested natively. Settings come in as
//! [`Settings`]; stock for the shop's location comes in as [`LocationStock`]
//! (read from InventoryLevel payloads, or fetched by the caller).

use std::collections::{HashMap, HashSet};

use snapact_adapter_sdk::json::{Node, Value};
use snapact_adapter_sdk::money::{self, Rounding};
use snapact_adapter_sdk::{
    AdapterError, Availability, Change, Deletion, ErrorDetail, Item, Mapped, Money, StockTarget,
    StockUpdate, availability, invalid_input,
};

use crate::config::{Settings, Tax};
use crate::html;
use crate::timestamp;

/// The variant title Shopify gives the only variant of a product without options.
const DEFAULT_VARIANT_TITLE: &str = "Default Title";

/// One InventoryLevel: stock of one inventory item at one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// The inventory item (one per variant): the items' `stock_key`.
    pub inventory_item_id: String,
    /// The location the stock is at.
    pub location_id: String,
    /// Units available; `None` when Shopify does not track it there.
    pub available: Option<i64>,
    /// `updated_at`, normalised to UTC.
    pub updated_at: Option<String>,
}

/// Read an InventoryLevel object.
pub fn read_level(n: &Node) -> Result<Level, ErrorDetail> {
    Ok(Level {
        inventory_item_id: n.req("inventory_item_id")?.id_string()?,
        location_id: n.req("location_id")?.id_string()?,
        available: n.opt_i64("available")?,
        updated_at: opt_timestamp(n, "updated_at")?,
    })
}

/// Stock at the shop's location, by inventory item id. Levels for other
/// locations never enter it.
#[derive(Debug, Default, Clone)]
pub struct LocationStock {
    by_item: HashMap<String, Level>,
}

impl LocationStock {
    /// Keep `level` when it is at `location_id` (the newer one per item wins);
    /// returns whether it was kept.
    pub fn insert(&mut self, location_id: &str, level: Level) -> bool {
        if level.location_id != location_id {
            return false;
        }
        let newer = match self.by_item.get(&level.inventory_item_id) {
            Some(old) => old.updated_at <= level.updated_at,
            None => true,
        };
        if newer {
            self.by_item.insert(level.inventory_item_id.clone(), level);
        }
        true
    }

    /// The level for an inventory item, when known.
    pub fn get(&self, inventory_item_id: &str) -> Option<&Level> {
        self.by_item.get(inventory_item_id)
    }

    /// Whether no level is known.
    pub fn is_empty(&self) -> bool {
        self.by_item.is_empty()
    }
}

/// Map a whole document: a Product, `{"product":{..}}`, `{"products":[..]}`,
/// an InventoryLevel, `{"inventory_level":{..}}` or `{"inventory_levels":[..]}`
/// (a document may hold products and levels together: the levels then
/// give those products' stock). Bad records are rejections; only a
/// document of none of these shapes is an error.
pub fn map_document(doc: &Value, settings: &Settings) -> Result<Mapped, AdapterError> {
    let root = Node::root(doc);
    let Some(object) = doc.as_object() else {
        return Err(invalid_input("$", shape_message()));
    };
    let mut products = Vec::new();
    let mut levels = Vec::new();
    let mut recognised = false;
    for key in ["products", "product", "inventory_levels", "inventory_level"] {
        if !object.contains_key(key) {
            continue;
        }
        recognised = true;
        let Some(node) = root.get(key) else { continue };
        let nodes = if key.ends_with('s') {
            node.array()?
        } else {
            vec![node]
        };
        if key.starts_with("product") {
            products.extend(nodes);
        } else {
            levels.extend(nodes);
        }
    }
    if !recognised {
        if object.contains_key("variants") {
            products.push(root.clone());
        } else if object.contains_key("inventory_item_id") {
            levels.push(root.clone());
        } else {
            return Err(invalid_input("$", shape_message()));
        }
    }

    let mut out = Mapped::empty();
    let mut stock = LocationStock::default();
    let mut kept_levels = Vec::new();
    if !levels.is_empty() {
        let location = settings.require_location()?;
        for node in &levels {
            match read_level(node) {
                Ok(level) => {
                    if stock.insert(location, level.clone()) {
                        kept_levels.push(level);
                    }
                }
                Err(e) => {
                    let id = node
                        .get("inventory_item_id")
                        .and_then(|n| n.id_string().ok());
                    out.rejected.push(node.reject(id, e));
                }
            }
        }
    }

    let mut joined = HashSet::new();
    for product in &products {
        map_product(product, settings, &stock, &mut out, &mut joined);
    }
    // A level that gave a product its stock needs no change of its own;
    // of several levels for one item, only the newest is sent.
    for level in kept_levels {
        if stock.get(&level.inventory_item_id) == Some(&level)
            && joined.insert(level.inventory_item_id.clone())
        {
            out.changes.push(stock_change(&level, settings, false));
        }
    }
    Ok(out)
}

fn shape_message() -> String {
    "expected a Shopify Product, {\"product\":{...}}, {\"products\":[...]}, an InventoryLevel, \
     {\"inventory_level\":{...}} or {\"inventory_levels\":[...]}"
        .into()
}

/// A stock change for an InventoryLevel at the shop's location.
/// `continue_selling`: the variant's `inventory_policy` is `continue`, so
/// zero stock is still sellable (on request).
pub fn stock_change(level: &Level, settings: &Settings, continue_selling: bool) -> Change {
    Change::Stock(StockUpdate {
        target: StockTarget::StockKey(level.inventory_item_id.clone()),
        quantity: level.available,
        availability: availability_for(
            level.available,
            continue_selling,
            settings.low_stock_threshold,
        ),
        source_version: level.updated_at.clone(),
    })
}

fn availability_for(
    quantity: Option<i64>,
    continue_selling: bool,
    low_stock_threshold: Option<i64>,
) -> Availability {
    match quantity {
        Some(q) if q <= 0 && continue_selling => Availability::OnRequest,
        _ => availability::from_quantity(quantity, low_stock_threshold),
    }
}

/// The `inventory_item_id`s of a product's tracked variants: the stock the
/// caller must fetch for the shop's location before mapping it. None for a
/// product that is not on sale (its variants are deleted, stock unused).
pub fn tracked_inventory_items(product: &Node) -> Vec<String> {
    if !matches!(for_sale(product), Ok(true)) {
        return Vec::new();
    }
    let Some(variants) = product.get("variants").and_then(|n| n.array().ok()) else {
        return Vec::new();
    };
    variants
        .iter()
        .filter(|v| is_tracked(v).unwrap_or(false))
        .filter_map(|v| v.get("inventory_item_id")?.id_string().ok())
        .collect()
}

fn is_tracked(variant: &Node) -> Result<bool, ErrorDetail> {
    Ok(variant
        .opt_str("inventory_management")?
        .is_some_and(|m| !m.trim().is_empty()))
}

/// Whether a product's `status` puts it on sale.
fn for_sale(product: &Node) -> Result<bool, ErrorDetail> {
    match product.opt_str("status")? {
        // Before `status` existed, every product returned was active.
        None | Some("active") | Some("unlisted") => Ok(true),
        Some("draft") | Some("archived") => Ok(false),
        Some(other) => Err(product.req("status")?.error(format!(
            "unknown product status {other:?}: expected active, draft, archived or unlisted"
        ))),
    }
}

struct Product<'a> {
    id: String,
    title: &'a str,
    category: Option<String>,
    description: Option<String>,
    images: HashMap<String, String>,
    image: Option<String>,
    updated_at: Option<String>,
    on_sale: bool,
}

fn read_product<'a>(p: &Node<'a>, id: String) -> Result<Product<'a>, ErrorDetail> {
    let title = p.req_str("title")?;
    let on_sale = for_sale(p)?;
    let mut images = HashMap::new();
    // Images only decorate an item: an unreadable one is skipped, not fatal.
    for image in p.opt_array("images").unwrap_or_default() {
        if let (Some(Ok(id)), Ok(Some(src))) =
            (image.get("id").map(|n| n.id_string()), image.opt_str("src"))
        {
            images.insert(id, src.to_string());
        }
    }
    let image = p
        .get("image")
        .and_then(|i| i.opt_str("src").ok().flatten())
        .map(str::to_string);
    Ok(Product {
        id,
        title,
        category: non_empty(p.opt_str("product_type")?),
        description: p
            .opt_str("body_html")?
            .map(html::to_text)
            .filter(|t| !t.is_empty()),
        images,
        image,
        updated_at: opt_timestamp(p, "updated_at")?,
        on_sale,
    })
}

/// Map one product: one upsert per variant when on sale, one delete per
/// variant when `draft` or `archived`. Adds the `inventory_item_id`s it
/// took stock for to `joined`.
pub fn map_product(
    p: &Node,
    settings: &Settings,
    stock: &LocationStock,
    out: &mut Mapped,
    joined: &mut HashSet<String>,
) {
    let id = match p.req("id").and_then(|n| n.id_string()) {
        Ok(id) => id,
        Err(e) => {
            out.rejected.push(p.reject(None, e));
            return;
        }
    };
    let product = match read_product(p, id.clone()) {
        Ok(product) => product,
        Err(e) => {
            out.rejected.push(p.reject(Some(id), e));
            return;
        }
    };
    let variants = match p.req("variants").and_then(|n| n.array()) {
        Ok(v) if v.is_empty() => {
            let e = p
                .req("variants")
                .map(|n| n.error("a product needs at least one variant to be sold"))
                .unwrap_or_else(|e| e);
            out.rejected.push(p.reject(Some(id), e));
            return;
        }
        Ok(v) => v,
        Err(e) => {
            out.rejected.push(p.reject(Some(id), e));
            return;
        }
    };
    let count = variants.len();
    for v in &variants {
        let variant_id = v.get("id").and_then(|n| n.id_string().ok());
        let result = if product.on_sale {
            map_variant(v, &product, count, settings, stock).map(|(item, stock_key)| {
                if let Some(key) = stock_key {
                    joined.insert(key);
                }
                Change::Upsert(item)
            })
        } else {
            deletion(v, &product)
        };
        match result {
            Ok(change) => out.changes.push(change),
            Err(e) => out
                .rejected
                .push(v.reject(variant_id.or_else(|| Some(id.clone())), e)),
        }
    }
}

fn deletion(v: &Node, product: &Product) -> Result<Change, ErrorDetail> {
    Ok(Change::Delete(Deletion {
        external_ref: v.req("id")?.id_string()?,
        source_version: latest([opt_timestamp(v, "updated_at")?, product.updated_at.clone()]),
    }))
}

/// One variant as an item, and the inventory item whose location stock it used.
fn map_variant(
    v: &Node,
    product: &Product,
    variant_count: usize,
    settings: &Settings,
    stock: &LocationStock,
) -> Result<(Item, Option<String>), ErrorDetail> {
    let external_ref = v.req("id")?.id_string()?;
    let name = match v.opt_str("title")?.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) if !(t == DEFAULT_VARIANT_TITLE && variant_count == 1) => {
            format!("{} ({t})", product.title)
        }
        _ => product.title.to_string(),
    };
    let price = price_minor(v, settings)?;
    let inventory_item_id = v
        .get("inventory_item_id")
        .map(|n| n.id_string())
        .transpose()?;
    let continue_selling = match v.opt_str("inventory_policy")? {
        Some("continue") => true,
        None | Some("deny") => false,
        Some(other) => {
            return Err(v.req("inventory_policy")?.error(format!(
                "unknown inventory_policy {other:?}: expected deny or continue"
            )));
        }
    };
    let variant_updated = opt_timestamp(v, "updated_at")?;
    let mut versions = vec![variant_updated, product.updated_at.clone()];
    let mut joined = None;
    let quantity = if !is_tracked(v)? {
        None
    } else if let Some(level) = inventory_item_id.as_deref().and_then(|k| stock.get(k)) {
        versions.push(level.updated_at.clone());
        joined = Some(level.inventory_item_id.clone());
        level.available
    } else if settings.use_total_inventory_quantity {
        Some(v.req("inventory_quantity")?.i64()?)
    } else {
        // Tracked, but no stock known at the shop's location: never promise
        // what may not be on that shelf. The level fixes it when it arrives.
        Some(0)
    };
    let image_url = v
        .get("image_id")
        .and_then(|n| n.id_string().ok())
        .and_then(|id| product.images.get(&id).cloned())
        .or_else(|| product.image.clone());
    let item = Item {
        external_ref,
        name,
        price: Some(Money {
            amount_minor: price,
            currency: settings.currency.clone(),
        }),
        quantity,
        availability: availability_for(quantity, continue_selling, settings.low_stock_threshold),
        sku: non_empty(v.opt_str("sku")?),
        barcode: non_empty(v.opt_str("barcode")?),
        category: product.category.clone(),
        description: product.description.clone(),
        image_url,
        parent_ref: Some(product.id.clone()),
        stock_key: inventory_item_id,
        source_version: latest(versions),
    };
    Ok((item, joined))
}

/// The buyer price in minor units: `price` in the shop currency, plus tax
/// when the shop's prices exclude it and the variant is taxable.
fn price_minor(v: &Node, settings: &Settings) -> Result<i64, ErrorDetail> {
    let node = v.req("price")?;
    let text = node.decimal_text()?;
    let minor = money::to_minor(&text, &settings.currency, Rounding::Exact)
        .map_err(|e| node.error(format!("price in {}: {e}", settings.currency)))?;
    if minor < 0 {
        return Err(node.error(format!("price {text:?} is negative")));
    }
    match &settings.tax {
        Tax::Included => Ok(minor),
        Tax::Excluded(rate) => {
            if v.opt_bool("taxable")? == Some(false) {
                return Ok(minor);
            }
            rate.add_to(minor)
                .ok_or_else(|| node.error(format!("price {text:?} plus tax is too large")))
        }
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// An optional timestamp field, normalised to UTC.
pub fn opt_timestamp(n: &Node, key: &str) -> Result<Option<String>, ErrorDetail> {
    match n.get(key) {
        None => Ok(None),
        Some(field) => {
            let text = field.str()?;
            timestamp::normalize(text).map(Some).ok_or_else(|| {
                field.error(format!(
                    "{text:?} is not a timestamp with a time zone, such as 2025-07-02T11:29:59-05:00"
                ))
            })
        }
    }
}

/// The latest of normalised timestamps (they compare as strings).
fn latest(versions: impl IntoIterator<Item = Option<String>>) -> Option<String> {
    versions.into_iter().flatten().max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TaxRate;
    use snapact_adapter_sdk::json;
    use snapact_adapter_sdk::testing::changes_to_json;

    fn settings() -> Settings {
        Settings {
            currency: "USD".into(),
            location_id: Some("655441491".into()),
            low_stock_threshold: Some(2),
            tax: Tax::Included,
            use_total_inventory_quantity: false,
            api_version: "2026-07".into(),
        }
    }

    fn map(doc: &str, s: &Settings) -> Mapped {
        let v = json::parse(doc.as_bytes()).expect("json");
        map_document(&v, s).expect("mapped")
    }

    const BIG: &str = r#"{"product":{"id":788032119674292922,"title":"Example T-Shirt","status":"active",
        "updated_at":"2021-12-31T19:00:00-05:00","variants":[
        {"id":18446744073709551615,"title":"Small","price":"19.99","inventory_item_id":9007199254740993,
         "inventory_management":"shopify","inventory_policy":"deny","updated_at":"2021-12-30T19:00:00-05:00"}]}}"#;

    #[test]
    fn ids_above_2_pow_53_stay_exact() {
        let out = map(BIG, &settings());
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        let Change::Upsert(item) = &out.changes[0] else {
            panic!("expected upsert")
        };
        assert_eq!(item.external_ref, "18446744073709551615");
        assert_eq!(item.parent_ref.as_deref(), Some("788032119674292922"));
        // 2^53 + 1: a float would make it ...992.
        assert_eq!(item.stock_key.as_deref(), Some("9007199254740993"));
        assert_eq!(item.name, "Example T-Shirt (Small)");
        assert_eq!(item.source_version.as_deref(), Some("2022-01-01T00:00:00Z"));
    }

    #[test]
    fn tracked_stock_comes_from_the_shops_location_only() {
        let doc = r#"{"products":[{"id":1,"title":"Tee","variants":[
            {"id":11,"title":"Default Title","price":"10.00","inventory_item_id":111,
             "inventory_management":"shopify","inventory_quantity":99}]}],
          "inventory_levels":[
            {"inventory_item_id":111,"location_id":999,"available":50,"updated_at":"2025-07-02T11:29:59-05:00"},
            {"inventory_item_id":111,"location_id":655441491,"available":2,"updated_at":"2025-07-02T11:29:59-05:00"},
            {"inventory_item_id":222,"location_id":999,"available":7}]}"#;
        let out = map(doc, &settings());
        let json = changes_to_json(&out.changes);
        assert_eq!(json.as_array().map(Vec::len), Some(1), "{json}");
        assert_eq!(json[0]["item"]["name"], "Tee");
        assert_eq!(json[0]["item"]["quantity"], 2);
        assert_eq!(json[0]["item"]["availability"], "low-stock");
        assert_eq!(json[0]["item"]["source_version"], "2025-07-02T16:29:59Z");

        // Without a level the summed inventory_quantity is not used...
        let only = r#"{"id":1,"title":"Tee","variants":[{"id":11,"price":"10.00","inventory_item_id":111,
            "inventory_management":"shopify","inventory_quantity":99}]}"#;
        let json = changes_to_json(&map(only, &settings()).changes);
        assert_eq!(json[0]["item"]["quantity"], 0);
        assert_eq!(json[0]["item"]["availability"], "out-of-stock");
        // ...unless the shop asks for it.
        let mut s = settings();
        s.use_total_inventory_quantity = true;
        let json = changes_to_json(&map(only, &s).changes);
        assert_eq!(json[0]["item"]["quantity"], 99);
        assert_eq!(json[0]["item"]["availability"], "in-stock");
    }

    #[test]
    fn levels_for_other_locations_are_ignored() {
        let doc = r#"{"inventory_levels":[
            {"inventory_item_id":808950810,"location_id":487838322,"available":9,"updated_at":"2025-07-02T11:29:59-05:00"},
            {"inventory_item_id":808950810,"location_id":655441491,"available":1,"updated_at":"2025-07-02T11:29:59-05:00"}]}"#;
        let json = changes_to_json(&map(doc, &settings()).changes);
        assert_eq!(
            json,
            serde_json::json!([{"op":"stock","stock_key":"808950810","quantity":1,
                "availability":"low-stock","source_version":"2025-07-02T16:29:59Z"}])
        );
        let mut s = settings();
        s.location_id = None;
        let v = json::parse(doc.as_bytes()).expect("json");
        assert!(matches!(
            map_document(&v, &s),
            Err(AdapterError::NotConfigured(m)) if m.contains("`location_id`")
        ));
    }

    #[test]
    fn continue_policy_sells_out_of_stock_items_on_request() {
        let doc = r#"{"product":{"id":1,"title":"Tee","variants":[
            {"id":11,"title":"S","price":"10.00","inventory_item_id":111,"inventory_management":"shopify","inventory_policy":"continue"},
            {"id":12,"title":"M","price":"10.00","inventory_item_id":112,"inventory_management":"shopify","inventory_policy":"deny"},
            {"id":13,"title":"L","price":"10.00","inventory_item_id":113,"inventory_management":null,"inventory_policy":"deny"}]},
          "inventory_levels":[
            {"inventory_item_id":111,"location_id":655441491,"available":0},
            {"inventory_item_id":112,"location_id":655441491,"available":-3}]}"#;
        let json = changes_to_json(&map(doc, &settings()).changes);
        assert_eq!(json[0]["item"]["availability"], "on-request");
        assert_eq!(json[0]["item"]["quantity"], 0);
        assert_eq!(json[1]["item"]["availability"], "out-of-stock");
        assert_eq!(json[1]["item"]["quantity"], -3);
        // Untracked: no quantity, in stock.
        assert_eq!(json[2]["item"]["availability"], "in-stock");
        assert_eq!(json[2]["item"]["quantity"], serde_json::Value::Null);
    }

    #[test]
    fn only_tracked_variants_of_products_on_sale_need_stock() {
        let doc = json::parse(
            br#"{"id":1,"title":"T","variants":[
                {"id":11,"inventory_item_id":9007199254740993,"inventory_management":"shopify"},
                {"id":12,"inventory_item_id":112,"inventory_management":null},
                {"id":13,"inventory_item_id":113,"inventory_management":""},
                {"id":14,"inventory_management":"shopify"}]}"#,
        )
        .expect("json");
        let product = Node::root(&doc);
        assert_eq!(tracked_inventory_items(&product), vec!["9007199254740993"]);
        let mut draft = doc.clone();
        draft["status"] = "draft".into();
        assert!(tracked_inventory_items(&Node::root(&draft)).is_empty());
    }

    #[test]
    fn draft_and_archived_products_are_deleted() {
        for status in ["draft", "archived"] {
            let doc = format!(
                r#"{{"product":{{"id":1,"title":"Tee","status":"{status}","updated_at":"2025-07-02T11:36:49-05:00",
                "variants":[{{"id":11,"price":"10.00","updated_at":"2025-07-02T11:29:59-05:00"}},{{"id":12,"price":"bad"}}]}}}}"#
            );
            let out = map(&doc, &settings());
            assert!(out.rejected.is_empty(), "{:?}", out.rejected);
            assert_eq!(
                changes_to_json(&out.changes),
                serde_json::json!([
                    {"op":"delete","external_ref":"11","source_version":"2025-07-02T16:36:49Z"},
                    {"op":"delete","external_ref":"12","source_version":"2025-07-02T16:36:49Z"}
                ])
            );
        }
    }

    #[test]
    fn a_bad_record_is_rejected_with_its_path_and_the_rest_delivered() {
        let doc = r#"{"products":[
            {"id":1,"title":"Good","variants":[{"id":11,"price":"1.00"},{"id":12,"price":"1.001"},{"id":13}]},
            {"title":"No id","variants":[]},
            {"id":3,"title":"Odd","status":"paused","variants":[{"id":31,"price":"1.00"}]},
            {"id":4,"title":"Empty","variants":[]},
            {"id":5,"title":"Clock","updated_at":"yesterday","variants":[{"id":51,"price":"1.00"}]}]}"#;
        let out = map(doc, &settings());
        assert_eq!(out.changes.len(), 1);
        let got: Vec<(Option<&str>, Option<&str>, &str)> = out
            .rejected
            .iter()
            .map(|r| {
                (
                    r.record_id.as_deref(),
                    r.path.as_deref(),
                    r.message.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    Some("12"),
                    Some("$.products[0].variants[1].price"),
                    "price in USD: \"1.001\" has more than 2 decimal places, the minor unit of USD"
                ),
                (
                    Some("13"),
                    Some("$.products[0].variants[2].price"),
                    "missing required field `price`"
                ),
                (
                    None,
                    Some("$.products[1].id"),
                    "missing required field `id`"
                ),
                (
                    Some("3"),
                    Some("$.products[2].status"),
                    "unknown product status \"paused\": expected active, draft, archived or unlisted"
                ),
                (
                    Some("4"),
                    Some("$.products[3].variants"),
                    "a product needs at least one variant to be sold"
                ),
                (
                    Some("5"),
                    Some("$.products[4].updated_at"),
                    "\"yesterday\" is not a timestamp with a time zone, such as 2025-07-02T11:29:59-05:00"
                ),
            ]
        );
    }

    #[test]
    fn unreadable_documents_are_invalid_input_at_the_root() {
        for doc in ["[]", "\"x\"", "{\"orders\":[]}", "{\"products\":{}}"] {
            let v = json::parse(doc.as_bytes()).expect("json");
            match map_document(&v, &settings()) {
                Err(AdapterError::InvalidInput(d)) => {
                    assert!(
                        d.path.as_deref().is_some_and(|p| p.starts_with('$')),
                        "{doc}"
                    )
                }
                other => panic!("{doc}: expected invalid input, got {other:?}"),
            }
        }
        let v = json::parse(b"{\"products\":[]}").expect("json");
        assert_eq!(map_document(&v, &settings()).expect("ok").changes.len(), 0);
    }

    #[test]
    fn prices_without_tax_get_the_configured_rate() {
        let mut s = settings();
        s.tax = Tax::Excluded(TaxRate::parse("7.5").expect("rate"));
        s.currency = "NGN".into();
        let doc = r#"{"product":{"id":1,"title":"Rice","variants":[
            {"id":11,"title":"5kg","price":"12500.00","taxable":true},
            {"id":12,"title":"10kg","price":"24999.99","taxable":false}]}}"#;
        let json = changes_to_json(&map(doc, &s).changes);
        assert_eq!(json[0]["item"]["price_minor"], 1_343_750);
        assert_eq!(json[0]["item"]["currency"], "NGN");
        assert_eq!(json[1]["item"]["price_minor"], 2_499_999);
    }

    #[test]
    fn ten_thousand_variants_map_without_error() {
        let mut products = Vec::new();
        for p in 0..100u64 {
            let variants: Vec<String> = (0..100u64)
                .map(|v| {
                    let id = 44_000_000_000_000_000u64 + p * 1000 + v;
                    format!(
                        r#"{{"id":{id},"title":"V{v}","price":"{v}.99","sku":"S{id}","inventory_item_id":{},"inventory_management":"shopify","inventory_policy":"deny","updated_at":"2025-07-02T11:29:59-05:00"}}"#,
                        id + 1
                    )
                })
                .collect();
            products.push(format!(
                r#"{{"id":{},"title":"P{p}","status":"active","variants":[{}]}}"#,
                9_000_000_000_000_000u64 + p,
                variants.join(",")
            ));
        }
        let doc = format!(r#"{{"products":[{}]}}"#, products.join(","));
        let out = map(&doc, &settings());
        assert!(out.rejected.is_empty());
        assert_eq!(out.changes.len(), 10_000);
        let Change::Upsert(last) = &out.changes[9_999] else {
            panic!("expected upsert")
        };
        assert_eq!(last.external_ref, "44000000000099099");
        assert_eq!(last.price.as_ref().map(|p| p.amount_minor), Some(9999));
    }
}
