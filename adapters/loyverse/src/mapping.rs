//! Loyverse records to SnapAct changes. Pure: no host imports, so it runs
//! and is tested natively; the component feeds it settings and payloads.
//!
//! One SnapAct item per Loyverse variant (`external_ref` = `variant_id`),
//! priced and stocked for one Loyverse store (the `store_id` setting).

mod price;
mod quantity;

use crate::settings::Settings;
use snapact_adapter_sdk::json::{Node, Value};
use snapact_adapter_sdk::{
    AdapterError, Availability, Change, Deletion, ErrorDetail, Item, Mapped, Rejection,
    StockTarget, StockUpdate, availability, invalid_input,
};
use std::collections::HashMap;

pub use quantity::floor_quantity;

/// Webhook type carrying full item objects.
pub const ITEMS_UPDATE: &str = "items.update";
/// Webhook type carrying inventory levels.
pub const INVENTORY_LEVELS_UPDATE: &str = "inventory_levels.update";

/// The records of one payload, by kind, each still pointing into the payload.
#[derive(Debug, Default)]
pub struct Records<'a> {
    /// Item objects (`GET /items` page, a single item, `items.update`).
    pub items: Vec<Node<'a>>,
    /// Inventory level objects (`GET /inventory`, `inventory_levels.update`).
    pub levels: Vec<Node<'a>>,
    /// Category objects (`GET /categories`), used to name items' categories.
    pub categories: Vec<Node<'a>>,
}

/// Sort a parsed payload into its records. Accepts `GET /v1.0/items` pages
/// (`{"items":[...],"cursor":...}`), a single item, `GET /v1.0/inventory`
/// responses, the `items.update` and `inventory_levels.update` webhook
/// bodies, and any object combining `items`, `inventory_levels` and
/// `categories` (what `poll` assembles).
pub fn read_records(doc: &Value) -> Result<Records<'_>, AdapterError> {
    let root = Node::root(doc);
    if !doc.is_object() {
        return Err(invalid_input(
            "$",
            "expected a JSON object: a Loyverse items page, item, inventory levels or webhook body",
        ));
    }
    let mut records = Records::default();
    if let Some(items) = root.get("items") {
        records.items = items.array()?;
    } else if root.get("variants").is_some() && root.get("id").is_some() {
        records.items = vec![root.clone()];
    }
    if let Some(levels) = root.get("inventory_levels") {
        records.levels = levels.array()?;
    }
    if let Some(categories) = root.get("categories") {
        records.categories = categories.array()?;
    }
    let listed = |key: &str| root.get(key).is_some();
    if records.items.is_empty() && !listed("items") && !listed("inventory_levels") {
        if let Some(kind) = root.opt_str("type")? {
            let expected = match kind {
                ITEMS_UPDATE => Some("items"),
                INVENTORY_LEVELS_UPDATE => Some("inventory_levels"),
                _ => None,
            };
            if let Some(key) = expected {
                return Err(invalid_input(
                    format!("$.{key}"),
                    format!("a `{kind}` webhook body must carry the array `{key}`"),
                ));
            }
            return Err(AdapterError::Unsupported(format!(
                "Loyverse webhook type {kind:?} carries no catalog changes: register only \
                 `{ITEMS_UPDATE}` and `{INVENTORY_LEVELS_UPDATE}` for this shop"
            )));
        }
        return Err(invalid_input(
            "$",
            "expected a Loyverse items page (`items`), an item (`id` + `variants`), \
             inventory levels (`inventory_levels`) or a webhook body",
        ));
    }
    Ok(records)
}

/// The records of a Loyverse list response, which must hold the array
/// `key` (`items` or `inventory_levels`).
pub fn read_records_of<'a>(doc: &'a Value, key: &str) -> Result<Records<'a>, AdapterError> {
    let list = Node::root(doc).req(key)?.array()?;
    let mut records = Records::default();
    match key {
        "items" => records.items = list,
        _ => records.levels = list,
    }
    Ok(records)
}

/// Map records to changes: items to upserts (stock from the levels whose
/// variant they contain) or deletes, remaining levels of the shop's store to
/// stock updates. A tracked variant with no level for the store in the
/// records is out of stock (0): Loyverse lists no level for a variant that
/// has never been stocked there, and the adapter never promises stock it has
/// not seen. `poll` and `handle-webhook` therefore fetch levels with items.
pub fn map_records(records: &Records<'_>, settings: &Settings) -> Mapped {
    let mut out = Mapped::empty();
    let mut levels = index_levels(&records.levels, settings, &mut out.rejected);
    let categories = category_names(&records.categories);
    for item in &records.items {
        map_item(item, &mut levels, &categories, settings, &mut out);
    }
    let mut rest: Vec<(usize, String, Level)> = levels
        .into_iter()
        .filter(|(_, l)| !l.used)
        .map(|(id, l)| (l.order, id, l))
        .collect();
    rest.sort_by_key(|(order, _, _)| *order);
    for (_, variant_id, level) in rest {
        out.changes.push(Change::Stock(StockUpdate {
            target: StockTarget::ExternalRef(variant_id),
            quantity: Some(level.quantity),
            availability: availability::from_quantity(
                Some(level.quantity),
                settings.low_stock_threshold,
            ),
            source_version: level.updated_at,
        }));
    }
    out
}

/// Variant ids of the items' live variants whose stock Loyverse tracks:
/// what to ask `GET /v1.0/inventory` for before mapping items.
pub fn tracked_variant_ids(items: &[Node<'_>]) -> Vec<String> {
    let mut ids = Vec::new();
    for item in items {
        if item.get("deleted_at").is_some() || !stock_is_tracked(item) {
            continue;
        }
        for variant in item.opt_array("variants").unwrap_or_default() {
            if variant.get("deleted_at").is_some() {
                continue;
            }
            if let Some(id) = variant.get("variant_id").and_then(|n| n.id_string().ok()) {
                ids.push(id);
            }
        }
    }
    ids
}

/// One inventory level of the shop's store.
#[derive(Debug)]
struct Level {
    quantity: i64,
    updated_at: Option<String>,
    /// Position in the payload, so leftover stock updates keep its order.
    order: usize,
    /// Consumed by an item of the same payload.
    used: bool,
}

fn index_levels(
    nodes: &[Node<'_>],
    settings: &Settings,
    rejected: &mut Vec<Rejection>,
) -> HashMap<String, Level> {
    let mut index = HashMap::new();
    for (order, node) in nodes.iter().enumerate() {
        let record_id = node.get("variant_id").and_then(|n| n.id_string().ok());
        match read_level(node, settings) {
            Ok(None) => {}
            Ok(Some((variant_id, quantity, updated_at))) => {
                // A batch may carry the same variant twice: the newest wins.
                let older = index
                    .get(&variant_id)
                    .is_some_and(|known: &Level| known.updated_at > updated_at);
                if !older {
                    index.insert(
                        variant_id,
                        Level {
                            quantity,
                            updated_at,
                            order,
                            used: false,
                        },
                    );
                }
            }
            Err(detail) => rejected.push(node.reject(record_id, detail)),
        }
    }
    index
}

/// `Ok(None)` for another store's level: SnapAct shows one store.
fn read_level(
    node: &Node<'_>,
    settings: &Settings,
) -> Result<Option<(String, i64, Option<String>)>, ErrorDetail> {
    let store_id = node.req("store_id")?.id_string()?;
    if store_id != settings.store_id {
        return Ok(None);
    }
    let variant_id = node.req("variant_id")?.id_string()?;
    let in_stock = node.req("in_stock")?;
    let text = in_stock.decimal_text()?;
    let quantity = floor_quantity(&text).ok_or_else(|| {
        in_stock.error(format!(
            "`in_stock` {text:?} is not a plain decimal number of units"
        ))
    })?;
    let updated_at = node.opt_str("updated_at")?.map(str::to_string);
    Ok(Some((variant_id, quantity.max(0), updated_at)))
}

fn category_names(nodes: &[Node<'_>]) -> HashMap<String, String> {
    nodes
        .iter()
        .filter(|c| c.get("deleted_at").is_none())
        .filter_map(|c| {
            let id = c.get("id")?.id_string().ok()?;
            let name = c.opt_str("name").ok().flatten()?;
            Some((id, name.to_string()))
        })
        .collect()
}

/// Loyverse tracks a composite item's stock in its components unless it
/// is produced (`use_production`), so such an item has no level of its own.
fn stock_is_tracked(item: &Node<'_>) -> bool {
    let flag = |key: &str| item.opt_bool(key).ok().flatten().unwrap_or(false);
    flag("track_stock") && (!flag("is_composite") || flag("use_production"))
}

/// What every variant of one item shares.
struct ItemFacts<'a> {
    id: String,
    name: &'a str,
    live_variants: usize,
    tracked: bool,
    category: Option<String>,
    description: Option<String>,
    image_url: Option<String>,
    updated_at: Option<&'a str>,
    tax_ids: Vec<String>,
}

fn map_item(
    item: &Node<'_>,
    levels: &mut HashMap<String, Level>,
    categories: &HashMap<String, String>,
    settings: &Settings,
    out: &mut Mapped,
) {
    let id = match item.req("id").and_then(|n| n.id_string()) {
        Ok(id) => id,
        Err(e) => return out.rejected.push(item.reject(None, e)),
    };
    let variants = match item.req("variants").and_then(|n| n.array()) {
        Ok(v) => v,
        Err(e) => return out.rejected.push(item.reject(Some(id), e)),
    };
    if let Some(deleted_at) = item.get("deleted_at") {
        let version = deleted_at.str().ok().map(str::to_string);
        for variant in &variants {
            match variant.req("variant_id").and_then(|n| n.id_string()) {
                Ok(variant_id) => {
                    if let Some(level) = levels.get_mut(&variant_id) {
                        level.used = true;
                    }
                    out.changes.push(Change::Delete(Deletion {
                        external_ref: variant_id,
                        source_version: version.clone(),
                    }))
                }
                Err(e) => out.rejected.push(variant.reject(Some(id.clone()), e)),
            }
        }
        return;
    }
    let facts = match item_facts(item, id.clone(), &variants, categories) {
        Ok(f) => f,
        Err(e) => return out.rejected.push(item.reject(Some(id), e)),
    };
    if variants.is_empty() {
        let detail = item.error("item has no variants: Loyverse sells variants, not items");
        return out.rejected.push(item.reject(Some(id), detail));
    }
    for variant in &variants {
        let record_id = variant
            .get("variant_id")
            .and_then(|n| n.id_string().ok())
            .unwrap_or_else(|| id.clone());
        match map_variant(&facts, variant, levels, settings) {
            Ok(change) => out.changes.push(change),
            Err(e) => out.rejected.push(variant.reject(Some(record_id), e)),
        }
    }
}

fn item_facts<'a>(
    item: &Node<'a>,
    id: String,
    variants: &[Node<'a>],
    categories: &HashMap<String, String>,
) -> Result<ItemFacts<'a>, ErrorDetail> {
    let name = item.req_str("item_name")?;
    let category = match item.get("category_id") {
        Some(c) => categories.get(&c.id_string()?).cloned(),
        None => None,
    };
    let mut tax_ids = Vec::new();
    for tax in item.opt_array("tax_ids")? {
        tax_ids.push(tax.id_string()?);
    }
    // Validate the flags here so a wrong type is a rejection with its path,
    // not a silent "untracked".
    for key in ["track_stock", "is_composite", "use_production"] {
        item.opt_bool(key)?;
    }
    Ok(ItemFacts {
        id,
        name,
        live_variants: variants
            .iter()
            .filter(|v| v.get("deleted_at").is_none())
            .count(),
        tracked: stock_is_tracked(item),
        category,
        description: non_empty(item.opt_str("description")?),
        image_url: non_empty(item.opt_str("image_url")?),
        updated_at: item.opt_str("updated_at")?,
        tax_ids,
    })
}

fn map_variant(
    facts: &ItemFacts<'_>,
    variant: &Node<'_>,
    levels: &mut HashMap<String, Level>,
    settings: &Settings,
) -> Result<Change, ErrorDetail> {
    let variant_id = variant.req("variant_id")?.id_string()?;
    // A level for a variant of these items belongs to its upsert (or to
    // nothing): as a separate stock update it could make a deleted, not-for-
    // sale or untracked variant look stocked.
    let level = levels.get_mut(&variant_id).map(|l| {
        l.used = true;
        (l.quantity, l.updated_at.clone())
    });
    if let Some(deleted_at) = variant.get("deleted_at") {
        return Ok(Change::Delete(Deletion {
            external_ref: variant_id,
            source_version: Some(deleted_at.str()?.to_string()),
        }));
    }
    let variant_updated = variant.opt_str("updated_at")?;
    let mut version = newest(facts.updated_at, variant_updated).map(str::to_string);
    let store = store_entry(variant, &settings.store_id)?;
    let for_sale = match &store {
        Some(entry) => entry.opt_bool("available_for_sale")?.unwrap_or(true),
        None => true,
    };
    if !for_sale {
        // Not sold at this store: take it off SnapAct rather than show it
        // out of stock, so a later stock update cannot make it sellable.
        return Ok(Change::Delete(Deletion {
            external_ref: variant_id,
            source_version: version,
        }));
    }
    let price = price::variant_price(facts.tax_ids.as_slice(), variant, store.as_ref(), settings)?;
    let quantity = match (facts.tracked, level) {
        (false, _) => None,
        (true, None) => Some(0),
        (true, Some((quantity, updated_at))) => {
            version = newest(version.as_deref(), updated_at.as_deref()).map(str::to_string);
            Some(quantity)
        }
    };
    let availability = match (&price, quantity) {
        (None, Some(q)) if q <= 0 => Availability::OutOfStock,
        (None, _) => Availability::OnRequest,
        (Some(_), q) => availability::from_quantity(q, settings.low_stock_threshold),
    };
    Ok(Change::Upsert(Item {
        external_ref: variant_id,
        name: variant_name(facts, variant)?,
        price,
        quantity,
        availability,
        sku: non_empty(variant.opt_str("sku")?),
        barcode: non_empty(variant.opt_str("barcode")?),
        category: facts.category.clone(),
        description: facts.description.clone(),
        image_url: facts.image_url.clone(),
        parent_ref: Some(facts.id.clone()),
        stock_key: None,
        source_version: version,
    }))
}

/// The variant's entry in `stores[]` for the shop's store, if any.
fn store_entry<'a>(variant: &Node<'a>, store_id: &str) -> Result<Option<Node<'a>>, ErrorDetail> {
    for entry in variant.opt_array("stores")? {
        if entry.req("store_id")?.id_string()? == store_id {
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

/// `item_name`, plus the option values in parentheses when the item has
/// more than one variant (`T-shirt (Large / Red)`).
fn variant_name(facts: &ItemFacts<'_>, variant: &Node<'_>) -> Result<String, ErrorDetail> {
    let mut options = Vec::new();
    for key in ["option1_value", "option2_value", "option3_value"] {
        if let Some(v) = non_empty(variant.opt_str(key)?) {
            options.push(v);
        }
    }
    if facts.live_variants > 1 && !options.is_empty() {
        Ok(format!("{} ({})", facts.name, options.join(" / ")))
    } else {
        Ok(facts.name.to_string())
    }
}

/// Loyverse timestamps are fixed-width UTC (`2020-06-01T09:15:57.000Z`),
/// so the larger string is the later time.
fn newest<'a>(a: Option<&'a str>, b: Option<&'a str>) -> Option<&'a str> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b > a { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}
