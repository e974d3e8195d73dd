//! Square Catalog and Inventory payloads to SnapAct changes. Pure Rust: no
//! host imports, so it compiles natively for tests and benchmarks.
//!
//! One SnapAct item per `ITEM_VARIATION` (Square sells variations; an ITEM
//! only groups them). Everything that is wrong with one variation is a
//! [`Rejection`] naming its id and JSON path; the other variations go on.

use std::collections::{HashMap, HashSet};

use snapact_adapter_sdk::json::{self, Node};
use snapact_adapter_sdk::{
    AdapterError, Availability, Change, Deletion, ErrorDetail, Item, Mapped, Money, Rejection,
    availability, invalid_input, money,
};

use crate::inventory;
use crate::settings::{MappingSettings, TaxMode};
use crate::tax::{self, Phase, Rate};
use crate::webhook;

/// Map any payload this adapter understands (see the crate docs) to changes.
/// Only a payload that is not JSON or not a Square shape is an error.
pub fn map_payload(payload: &[u8], settings: &MappingSettings) -> Result<Mapped, AdapterError> {
    let doc = json::parse(payload)?;
    let root = Node::root(&doc);
    match read_payload(&root)? {
        Payload::Catalog(catalog) => Ok(map_catalog(&catalog, settings, None)),
        Payload::Counts(counts) => {
            let location = settings.require_location("to map Square inventory counts")?;
            Ok(inventory::map_counts(&counts, settings, location))
        }
        Payload::Event => {
            let outcome = webhook::event_outcome(&root, settings)?;
            Ok(Mapped {
                changes: outcome.changes,
                rejected: outcome.rejected,
            })
        }
        Payload::Empty => Ok(Mapped::empty()),
    }
}

/// Catalog objects to map, and the objects they refer to (categories,
/// images, taxes, parent items) from `related_objects`.
#[derive(Debug, Clone, Default)]
pub struct Catalog<'a> {
    /// The objects the payload is about.
    pub objects: Vec<Node<'a>>,
    /// `related_objects`: looked up by id, never mapped on their own.
    pub related: Vec<Node<'a>>,
}

/// What a payload turned out to be.
#[derive(Debug)]
pub enum Payload<'a> {
    /// Catalog objects (one, an array, or a Retrieve/BatchRetrieve/Search response).
    Catalog(Catalog<'a>),
    /// `InventoryCount`s (a BatchRetrieveInventoryCounts response).
    Counts(Vec<Node<'a>>),
    /// A Square webhook event body (`type`, `event_id`, `data`).
    Event,
    /// A response with nothing in it (Square answers `{}` for empty results).
    Empty,
}

/// Recognise a payload by its shape.
pub fn read_payload<'a>(root: &Node<'a>) -> Result<Payload<'a>, AdapterError> {
    if root.value.is_array() {
        return Ok(Payload::Catalog(Catalog {
            objects: root.array()?,
            related: Vec::new(),
        }));
    }
    let Some(fields) = root.value.as_object() else {
        return Err(invalid_input(
            "$",
            "expected a Square catalog object, an array of them, or a Catalog, Inventory or webhook response body",
        ));
    };
    let related = || root.opt_array("related_objects");
    if let Some(counts) = root.get("counts") {
        return Ok(Payload::Counts(counts.array()?));
    }
    for key in ["objects", "items"] {
        if let Some(list) = root.get(key) {
            return Ok(Payload::Catalog(Catalog {
                objects: list.array()?,
                related: related()?,
            }));
        }
    }
    for key in ["object", "catalog_object"] {
        if let Some(one) = root.get(key) {
            return Ok(Payload::Catalog(Catalog {
                objects: vec![one],
                related: related()?,
            }));
        }
    }
    if root.get("event_id").is_some() || (root.get("data").is_some() && root.get("type").is_some())
    {
        return Ok(Payload::Event);
    }
    if root.get("type").is_some() && root.get("id").is_some() {
        return Ok(Payload::Catalog(Catalog {
            objects: vec![root.clone()],
            related: Vec::new(),
        }));
    }
    if let Some(first) = root.opt_array("errors")?.first() {
        let code = first.opt_str("code")?.unwrap_or("UNKNOWN");
        let detail = first.opt_str("detail")?.unwrap_or("no detail");
        return Err(invalid_input(
            first.path(),
            format!("Square answered with an error instead of data: {code}: {detail}"),
        ));
    }
    let only_paging = fields.keys().all(|k| {
        matches!(
            k.as_str(),
            "cursor" | "latest_time" | "errors" | "matched_variation_ids"
        )
    });
    if only_paging {
        return Ok(Payload::Empty);
    }
    Err(invalid_input(
        "$",
        "not a Square payload this adapter knows: expected `objects`, `object`, `items`, `counts`, a CatalogObject (`type` + `id`) or a webhook event (`event_id`, `type`, `data`)",
    ))
}

/// Map catalog objects. `stock` (variation id -> whole units at the shop's
/// location) comes from BatchRetrieveInventoryCounts when polling; without
/// it, tracked variations carry no quantity.
pub fn map_catalog(
    catalog: &Catalog<'_>,
    settings: &MappingSettings,
    stock: Option<&HashMap<String, i64>>,
) -> Mapped {
    let index = Index::new(catalog);
    let nested: HashSet<&str> = catalog
        .objects
        .iter()
        .filter(|o| o.value.get("type").and_then(|t| t.as_str()) == Some("ITEM"))
        .flat_map(nested_variation_ids)
        .collect();
    let ctx = Ctx {
        settings,
        stock,
        index: &index,
    };
    let mut out = Mapped::empty();
    for object in &catalog.objects {
        let kind = match object.req_str("type") {
            Ok(kind) => kind,
            Err(detail) => {
                out.rejected.push(object.reject(object_id(object), detail));
                continue;
            }
        };
        match kind {
            "ITEM" => map_item(object, &ctx, &mut out),
            "ITEM_VARIATION" => {
                let id = object.value.get("id").and_then(|v| v.as_str());
                if id.is_none_or(|id| !nested.contains(id)) {
                    map_lone_variation(object, &ctx, &mut out);
                }
            }
            // Taxes, discounts, modifier lists, categories, images: not
            // sellable things on their own.
            _ => {}
        }
    }
    out
}

/// Ids of the variations a catalog page sells (not deleted), for the
/// inventory request that follows it.
pub fn live_variation_ids(catalog: &Catalog<'_>) -> Vec<String> {
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    let not_deleted = |v: &json::Value| v.get("is_deleted").and_then(|d| d.as_bool()) != Some(true);
    for object in &catalog.objects {
        let candidates: Vec<&json::Value> = match object.value.get("type").and_then(|t| t.as_str())
        {
            Some("ITEM") if not_deleted(object.value) => object
                .value
                .pointer("/item_data/variations")
                .and_then(|v| v.as_array())
                .map(|vs| vs.iter().collect())
                .unwrap_or_default(),
            Some("ITEM_VARIATION") => vec![object.value],
            _ => Vec::new(),
        };
        for v in candidates {
            if let Some(id) = v.get("id").and_then(|i| i.as_str())
                && not_deleted(v)
                && seen.insert(id)
            {
                ids.push(id.to_string());
            }
        }
    }
    ids
}

/// Parent item ids of the live variations in `objects` whose ITEM is not
/// itself in `objects`. Square's related objects go one level deep, so such a
/// variation comes without its item's taxes, categories and images: fetch
/// these items with their related objects before mapping.
pub fn orphan_parent_ids(catalog: &Catalog<'_>) -> Vec<String> {
    let items: HashSet<&str> = catalog
        .objects
        .iter()
        .filter(|o| o.value.get("type").and_then(|t| t.as_str()) == Some("ITEM"))
        .filter_map(|o| o.value.get("id").and_then(|i| i.as_str()))
        .collect();
    let mut parents = Vec::new();
    for object in &catalog.objects {
        let v = object.value;
        if v.get("type").and_then(|t| t.as_str()) != Some("ITEM_VARIATION")
            || v.get("is_deleted").and_then(|d| d.as_bool()) == Some(true)
        {
            continue;
        }
        if let Some(parent) = v
            .pointer("/item_variation_data/item_id")
            .and_then(|i| i.as_str())
            && !items.contains(parent)
            && !parents.iter().any(|p| p == parent)
        {
            parents.push(parent.to_string());
        }
    }
    parents
}

struct Ctx<'s, 'a> {
    settings: &'s MappingSettings,
    stock: Option<&'s HashMap<String, i64>>,
    index: &'s Index<'a>,
}

/// Every object of the payload by id, objects before related objects.
struct Index<'a> {
    by_id: HashMap<&'a str, Node<'a>>,
}

impl<'a> Index<'a> {
    fn new(catalog: &Catalog<'a>) -> Self {
        let mut by_id = HashMap::new();
        for node in catalog.objects.iter().chain(&catalog.related) {
            if let Some(id) = node.value.get("id").and_then(|v| v.as_str()) {
                by_id.entry(id).or_insert_with(|| node.clone());
            }
        }
        Index { by_id }
    }

    /// The live object `id` of type `kind`, if the payload has it.
    fn get(&self, id: &str, kind: &str) -> Option<&Node<'a>> {
        self.by_id.get(id).filter(|n| {
            n.value.get("type").and_then(|t| t.as_str()) == Some(kind)
                && n.value.get("is_deleted").and_then(|d| d.as_bool()) != Some(true)
        })
    }
}

fn nested_variation_ids<'a>(item: &Node<'a>) -> Vec<&'a str> {
    item.value
        .pointer("/item_data/variations")
        .and_then(|v| v.as_array())
        .map(|vs| {
            vs.iter()
                .filter_map(|v| v.get("id").and_then(|i| i.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

fn object_id(node: &Node<'_>) -> Option<String> {
    node.value
        .get("id")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// Whether a catalog object is present at `location` (Square's rules:
/// `present_at_all_locations` defaults to true, then `absent_at_location_ids`
/// excludes; when false, only `present_at_location_ids` include). Without a
/// location setting, anything present somewhere counts as present.
fn present_at(node: &Node<'_>, location: Option<&str>) -> Result<bool, ErrorDetail> {
    let all = node.opt_bool("present_at_all_locations")?.unwrap_or(true);
    let listed = |key: &str| -> Result<Vec<&str>, ErrorDetail> {
        node.opt_array(key)?.iter().map(|n| n.str()).collect()
    };
    match (all, location) {
        (true, None) => Ok(true),
        (false, None) => Ok(!listed("present_at_location_ids")?.is_empty()),
        (true, Some(loc)) => Ok(!listed("absent_at_location_ids")?.contains(&loc)),
        (false, Some(loc)) => Ok(listed("present_at_location_ids")?.contains(&loc)),
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// What every variation of one ITEM shares.
struct ItemFacts<'a> {
    id: String,
    deleted: bool,
    /// Archived or not sold at the shop's location: its variations are deleted.
    withdrawn: bool,
    data: Option<Node<'a>>,
    name: String,
    version: Option<i64>,
    live_variations: usize,
    is_service: bool,
    category: Option<String>,
    description: Option<String>,
    image_ids: Vec<String>,
    legacy_image_url: Option<String>,
    taxes: Result<Vec<Rate>, ErrorDetail>,
}

fn item_facts<'a>(item: &Node<'a>, ctx: &Ctx<'_, 'a>) -> Result<ItemFacts<'a>, ErrorDetail> {
    let id = item.req_str("id")?.to_string();
    let deleted = item.opt_bool("is_deleted")?.unwrap_or(false);
    let version = item.opt_i64("version")?;
    let data = if deleted {
        item.get("item_data")
    } else {
        Some(item.req("item_data")?)
    };
    let mut facts = ItemFacts {
        id,
        deleted,
        withdrawn: false,
        data: data.clone(),
        name: String::new(),
        version,
        live_variations: 0,
        is_service: false,
        category: None,
        description: None,
        image_ids: Vec::new(),
        legacy_image_url: None,
        taxes: Ok(Vec::new()),
    };
    let Some(data) = data else {
        return Ok(facts);
    };
    if deleted {
        return Ok(facts);
    }
    facts.name = data.req_str("name")?.trim().to_string();
    if facts.name.is_empty() {
        return Err(data.error("item name is empty").with_field("name"));
    }
    let archived = data.opt_bool("is_archived")?.unwrap_or(false);
    let present = present_at(item, ctx.settings.location_id.as_deref())?;
    facts.withdrawn = archived || !present;
    facts.is_service = data.opt_str("product_type")? == Some("APPOINTMENTS_SERVICE");
    facts.live_variations = data
        .opt_array("variations")?
        .iter()
        .filter(|v| v.value.get("is_deleted").and_then(|d| d.as_bool()) != Some(true))
        .count();
    facts.category = category_name(&data, ctx.index)?;
    facts.description = non_empty(data.opt_str("description_plaintext")?)
        .or(non_empty(data.opt_str("description")?));
    facts.image_ids = string_list(&data, "image_ids")?;
    facts.legacy_image_url = non_empty(data.opt_str("image_url")?);
    facts.taxes = match ctx.settings.tax_mode {
        TaxMode::Ignore => Ok(Vec::new()),
        TaxMode::AddAdditive => additive_taxes(&data, ctx),
    };
    Ok(facts)
}

trait WithField {
    fn with_field(self, key: &str) -> Self;
}

impl WithField for ErrorDetail {
    fn with_field(mut self, key: &str) -> Self {
        self.path = self.path.map(|p| format!("{p}.{key}"));
        self
    }
}

fn string_list(node: &Node<'_>, key: &str) -> Result<Vec<String>, ErrorDetail> {
    node.opt_array(key)?
        .iter()
        .map(|n| n.str().map(str::to_string))
        .collect()
}

/// The item's category name: its reporting category, else its first
/// category, else the legacy `category_id`, looked up among the payload's
/// CATEGORY objects. A category the payload does not include gives `None`
/// (an opaque id is no use to buyers).
fn category_name(data: &Node<'_>, index: &Index<'_>) -> Result<Option<String>, ErrorDetail> {
    let mut ids: Vec<&str> = Vec::new();
    if let Some(reporting) = data.get("reporting_category") {
        ids.extend(reporting.opt_str("id")?);
    }
    for category in data.opt_array("categories")? {
        ids.extend(category.opt_str("id")?);
    }
    ids.extend(data.opt_str("category_id")?);
    for id in ids {
        if let Some(category) = index.get(id, "CATEGORY")
            && let Some(name) = category
                .get("category_data")
                .map(|d| d.opt_str("name"))
                .transpose()?
                .flatten()
                .and_then(|n| non_empty(Some(n)))
        {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// The additive taxes that apply to this item at the shop's location.
fn additive_taxes(data: &Node<'_>, ctx: &Ctx<'_, '_>) -> Result<Vec<Rate>, ErrorDetail> {
    if data.opt_bool("is_taxable")? == Some(false) {
        return Ok(Vec::new());
    }
    let mut rates = Vec::new();
    for tax_id in data.opt_array("tax_ids")? {
        let id = tax_id.str()?;
        let Some(tax) = ctx.index.by_id.get(id) else {
            return Err(tax_id.error(format!(
                "tax {id} is not in this payload, so the buyer price cannot be computed: fetch with include_related_objects=true, or set tax_mode = \"ignore\" if Square prices are final"
            )));
        };
        if tax.value.get("is_deleted").and_then(|d| d.as_bool()) == Some(true)
            || !present_at(tax, ctx.settings.location_id.as_deref())?
        {
            continue;
        }
        let tax_data = tax.req("tax_data")?;
        if tax_data.opt_bool("enabled")? == Some(false)
            || tax_data.opt_str("inclusion_type")? == Some("INCLUSIVE")
        {
            continue;
        }
        let phase = match tax_data.opt_str("calculation_phase")? {
            Some("TAX_TOTAL_PHASE") => Phase::Total,
            _ => Phase::Subtotal,
        };
        let percentage = tax_data.req("percentage")?;
        let rate =
            Rate::parse(&percentage.decimal_text()?, phase).map_err(|m| percentage.error(m))?;
        rates.push(rate);
    }
    Ok(rates)
}

fn map_item<'a>(item: &Node<'a>, ctx: &Ctx<'_, 'a>, out: &mut Mapped) {
    let facts = match item_facts(item, ctx) {
        Ok(facts) => facts,
        Err(detail) => {
            out.rejected.push(item.reject(object_id(item), detail));
            return;
        }
    };
    let variations = match facts.data.as_ref().map(|d| d.opt_array("variations")) {
        Some(Ok(v)) => v,
        Some(Err(detail)) => {
            out.rejected
                .push(item.reject(Some(facts.id.clone()), detail));
            return;
        }
        None => Vec::new(),
    };
    if variations.is_empty() {
        let message = if facts.deleted {
            "deleted item lists no variations, so the SnapAct items to delete (keyed by variation id) are unknown: resync the shop"
        } else {
            "item has no variations: Square sells variations, so there is nothing to list"
        };
        out.rejected.push(Rejection {
            record_id: Some(facts.id.clone()),
            path: Some(item.field_path("item_data.variations")),
            message: message.into(),
        });
        return;
    }
    for variation in &variations {
        push(out, variation, map_variation(variation, &facts, ctx));
    }
}

fn map_lone_variation<'a>(variation: &Node<'a>, ctx: &Ctx<'_, 'a>, out: &mut Mapped) {
    let result = (|| {
        if variation.opt_bool("is_deleted")? == Some(true) {
            return Ok(Change::Delete(Deletion {
                external_ref: variation.req_str("id")?.to_string(),
                source_version: variation.opt_i64("version")?.map(|v| v.to_string()),
            }));
        }
        let data = variation.req("item_variation_data")?;
        let item_id_node = data.req("item_id")?;
        let item_id = item_id_node.str()?;
        let Some(item) = ctx.index.get(item_id, "ITEM") else {
            return Err(item_id_node.error(format!(
                "parent item {item_id} is not in this payload, so the variation has no name: retrieve it with include_related_objects=true"
            )));
        };
        let facts = item_facts(item, ctx)?;
        map_variation(variation, &facts, ctx)
    })();
    push(out, variation, result);
}

fn push(out: &mut Mapped, variation: &Node<'_>, result: Result<Change, ErrorDetail>) {
    match result {
        Ok(change) => out.changes.push(change),
        Err(detail) => out
            .rejected
            .push(variation.reject(object_id(variation), detail)),
    }
}

/// The location override of this variation for the shop's location.
fn location_override<'a>(
    data: &Node<'a>,
    location: Option<&str>,
) -> Result<Option<Node<'a>>, ErrorDetail> {
    let Some(location) = location else {
        return Ok(None);
    };
    for o in data.opt_array("location_overrides")? {
        if o.opt_str("location_id")? == Some(location) {
            return Ok(Some(o));
        }
    }
    Ok(None)
}

fn map_variation(
    variation: &Node<'_>,
    item: &ItemFacts<'_>,
    ctx: &Ctx<'_, '_>,
) -> Result<Change, ErrorDetail> {
    let id = variation.req_str("id")?.to_string();
    let version = match (item.version, variation.opt_i64("version")?) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
    .map(|v| v.to_string());
    let location = ctx.settings.location_id.as_deref();
    let deleted = item.deleted || variation.opt_bool("is_deleted")? == Some(true);
    if deleted || item.withdrawn || !present_at(variation, location)? {
        return Ok(Change::Delete(Deletion {
            external_ref: id,
            source_version: version,
        }));
    }
    let data = variation.req("item_variation_data")?;
    if item.is_service && data.opt_bool("available_for_booking")? == Some(false) {
        return Ok(Change::Delete(Deletion {
            external_ref: id,
            source_version: version,
        }));
    }
    let over = location_override(&data, location)?;
    let from_override = |key: &str| over.as_ref().and_then(|o| o.get(key));
    let pricing_type = match from_override("pricing_type") {
        Some(p) => Some(p.str()?),
        None => data.opt_str("pricing_type")?,
    };
    let price_node = from_override("price_money").or_else(|| data.get("price_money"));
    let variable = match pricing_type {
        Some("VARIABLE_PRICING") => true,
        Some("FIXED_PRICING") => false,
        Some(other) => {
            let at = from_override("pricing_type")
                .or_else(|| data.get("pricing_type"))
                .unwrap_or_else(|| data.clone());
            return Err(at.error(format!(
                "unknown pricing_type {other:?}: expected FIXED_PRICING or VARIABLE_PRICING"
            )));
        }
        None => price_node.is_none(),
    };
    let price = if variable {
        None
    } else {
        let node = price_node.ok_or_else(|| {
            data.error("fixed-price variation has no price_money: set a price in Square or make it variable-priced")
                .with_field("price_money")
        })?;
        let base = read_money(&node, ctx.settings)?;
        let taxes = item.taxes.clone()?;
        let amount = tax::add_taxes(base.amount_minor, &taxes)
            .ok_or_else(|| node.error("price plus tax does not fit in 64-bit minor units"))?;
        Some(Money {
            amount_minor: amount,
            currency: base.currency,
        })
    };
    let opt_override_bool = |key: &str| -> Result<Option<bool>, ErrorDetail> {
        Ok(over
            .as_ref()
            .map(|o| o.opt_bool(key))
            .transpose()?
            .flatten())
    };
    let sold_out = opt_override_bool("sold_out")?.unwrap_or(false);
    let tracked = match opt_override_bool("track_inventory")? {
        Some(t) => t,
        None => data.opt_bool("track_inventory")?.unwrap_or(false),
    };
    let quantity = if tracked {
        ctx.stock.map(|s| s.get(&id).copied().unwrap_or(0))
    } else {
        None
    };
    let availability = if sold_out || quantity.is_some_and(|q| q <= 0) {
        Availability::OutOfStock
    } else if item.is_service {
        Availability::ScheduledOnly
    } else if variable {
        Availability::OnRequest
    } else {
        availability::from_quantity(quantity, ctx.settings.low_stock_threshold)
    };
    let variation_name = non_empty(data.opt_str("name")?);
    let name = match variation_name {
        Some(v) if item.live_variations > 1 => format!("{} ({v})", item.name),
        _ => item.name.clone(),
    };
    let image_url = string_list(&data, "image_ids")?
        .iter()
        .chain(&item.image_ids)
        .find_map(|image_id| {
            ctx.index
                .get(image_id, "IMAGE")
                .and_then(|img| img.value.pointer("/image_data/url"))
                .and_then(|u| u.as_str())
                .and_then(|u| non_empty(Some(u)))
        })
        .or_else(|| item.legacy_image_url.clone());
    Ok(Change::Upsert(Item {
        external_ref: id,
        name,
        price,
        quantity,
        availability,
        sku: non_empty(data.opt_str("sku")?),
        barcode: non_empty(data.opt_str("upc")?),
        category: item.category.clone(),
        description: item.description.clone(),
        image_url,
        parent_ref: Some(item.id.clone()),
        stock_key: None,
        source_version: version,
    }))
}

/// Square `Money`: `amount` is already in minor units; the currency must be
/// ISO 4217 and, when the shop sets one, the shop's currency.
fn read_money(node: &Node<'_>, settings: &MappingSettings) -> Result<Money, ErrorDetail> {
    let amount_node = node.req("amount")?;
    let amount = amount_node.i64().map_err(|e| {
        amount_node.error(format!(
            "{}: Square amounts are whole minor units (350 for 3.50 USD)",
            e.message
        ))
    })?;
    if amount < 0 {
        return Err(amount_node.error(format!("price amount {amount} is negative")));
    }
    let currency_node = node.req("currency")?;
    let currency = currency_node.str()?;
    if money::exponent(currency).is_none() {
        return Err(currency_node.error(format!("{currency:?} is not an ISO 4217 currency code")));
    }
    if let Some(shop) = settings.currency.as_deref()
        && shop != currency
    {
        return Err(currency_node.error(format!(
            "price is in {currency} but the shop's `currency` setting is {shop}: SnapAct lists one currency per shop"
        )));
    }
    Ok(Money {
        amount_minor: amount,
        currency: currency.to_string(),
    })
}

#[cfg(test)]
mod tests;
