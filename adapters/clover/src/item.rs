//! One Clover inventory item (or item stock) to one SnapAct change.
//!
//! The rules, in the order they apply (README.md has the field table):
//! - `deletedTime` set: the item is deleted in Clover, a `delete` change.
//! - `hidden: true` or `available: false`: not for sale now. The item stays
//!   listed as `out-of-stock` rather than deleted, so flipping the switch back
//!   in Clover restores it with its history, and the same rule holds whether
//!   the item arrives by file, webhook or poll.
//! - tracked stock (`itemStock.quantity`) at or below zero: `out-of-stock`.
//! - `priceType: VARIABLE`: no price, `on-request` (the cashier types the
//!   price in at the register).
//! - otherwise availability from stock and `low_stock_threshold`; an item
//!   without an `itemStock` record is not tracked (`quantity: null`), which
//!   SnapAct shows as in stock. Clover's `autoManage` flips `available` to
//!   false when tracked stock runs out, which the first rule already honours.

use crate::config::{Settings, TaxMode};
use crate::stock::shelf_units;
use crate::tax::TaxRate;
use snapact_adapter_sdk::json::Node;
use snapact_adapter_sdk::{
    Availability, Change, Deletion, ErrorDetail, Item, Money, Rejection, StockTarget, StockUpdate,
    availability,
};

/// How Clover prices an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PriceType {
    /// `price` per item.
    Fixed,
    /// `price` per `unitName` (per pound, per metre).
    PerUnit,
    /// Price entered at the register.
    Variable,
}

/// Map a Clover `Item` object. A record that cannot be mapped is a rejection
/// carrying the item id (when readable) and the offending field's path.
pub fn map_item(node: &Node, settings: &Settings) -> Result<Change, Rejection> {
    let id = node
        .req("id")
        .and_then(|n| n.id_string())
        .map_err(|d| node.reject(None, d))?;
    let reject = |d: ErrorDetail| node.reject(Some(id.clone()), d);
    let source_version = version(node, "modifiedTime").map_err(reject)?;

    if node.get("deletedTime").is_some() {
        return Ok(Change::Delete(Deletion {
            external_ref: id,
            source_version,
        }));
    }

    let name = item_name(node).map_err(reject)?;
    let price_type = price_type(node).map_err(reject)?;
    let price = match price_type {
        PriceType::Variable => None,
        PriceType::Fixed | PriceType::PerUnit => Some(Money {
            amount_minor: buyer_price(node, settings).map_err(reject)?,
            currency: settings.currency.clone(),
        }),
    };
    let hidden = node.opt_bool("hidden").map_err(reject)?.unwrap_or(false);
    let available = node.opt_bool("available").map_err(reject)?.unwrap_or(true);
    let quantity = tracked_quantity(node).map_err(reject)?;

    let availability = if hidden || !available || quantity.is_some_and(|q| q <= 0) {
        Availability::OutOfStock
    } else if price_type == PriceType::Variable {
        Availability::OnRequest
    } else {
        availability::from_quantity(quantity, settings.low_stock_threshold)
    };

    let description = match price_type {
        PriceType::PerUnit => non_empty(node.opt_str("unitName").map_err(reject)?)
            .map(|unit| format!("Price per {unit}")),
        _ => None,
    };
    let parent_ref = match node.get("itemGroup") {
        Some(group) => group
            .get("id")
            .map(|n| n.id_string())
            .transpose()
            .map_err(reject)?,
        None => None,
    };

    Ok(Change::Upsert(Item {
        external_ref: id.clone(),
        name,
        price,
        quantity,
        availability,
        sku: non_empty(node.opt_str("sku").map_err(reject)?),
        barcode: non_empty(node.opt_str("code").map_err(reject)?),
        category: first_category(node).map_err(reject)?,
        description,
        image_url: None,
        parent_ref,
        stock_key: None,
        source_version,
    }))
}

/// Map a Clover `ItemStock` object (`{"item":{"id"},"quantity"}`) to a stock
/// change for an item the host already holds.
pub fn map_stock(node: &Node, settings: &Settings) -> Result<Change, Rejection> {
    let id = stock_item_id(node).map_err(|d| node.reject(None, d))?;
    let reject = |d: ErrorDetail| node.reject(Some(id.clone()), d);
    let quantity = match node.get("quantity") {
        Some(q) => stock_units(&q).map_err(reject)?,
        None => {
            return Err(reject(ErrorDetail {
                message: "item stock has no `quantity`; the deprecated `stockCount` is rounded to the nearest unit and is never used".into(),
                path: Some(node.field_path("quantity")),
            }));
        }
    };
    let source_version = version(node, "modifiedTime").map_err(reject)?;
    Ok(Change::Stock(StockUpdate {
        target: StockTarget::ExternalRef(id),
        quantity: Some(quantity),
        availability: availability::from_quantity(Some(quantity), settings.low_stock_threshold),
        source_version,
    }))
}

/// Clover answers `"item":{"id":"..."}`; its own update examples send
/// `"item":"..."`, so both are read.
fn stock_item_id(node: &Node) -> Result<String, ErrorDetail> {
    let item = node.req("item")?;
    if item.value.is_string() {
        item.id_string()
    } else {
        item.req("id")?.id_string()
    }
}

/// Whether a record is an item stock rather than an item.
pub fn is_stock_record(node: &Node) -> bool {
    node.get("item")
        .is_some_and(|i| i.value.is_object() || i.value.is_string())
        && node.get("name").is_none()
        && (node.value.get("quantity").is_some() || node.value.get("stockCount").is_some())
}

fn item_name(node: &Node) -> Result<String, ErrorDetail> {
    if let Some(name) = non_empty(node.opt_str("name")?) {
        return Ok(name);
    }
    non_empty(node.opt_str("alternateName")?).ok_or_else(|| ErrorDetail {
        message: "item has no name: both `name` and `alternateName` are empty".into(),
        path: Some(node.field_path("name")),
    })
}

fn price_type(node: &Node) -> Result<PriceType, ErrorDetail> {
    match node.get("priceType") {
        None => Ok(PriceType::Fixed),
        Some(n) => match n.str()? {
            "FIXED" => Ok(PriceType::Fixed),
            "PER_UNIT" => Ok(PriceType::PerUnit),
            "VARIABLE" => Ok(PriceType::Variable),
            other => Err(n.error(format!(
                "unknown priceType {other:?}: expected FIXED, PER_UNIT or VARIABLE"
            ))),
        },
    }
}

/// The price a buyer pays, in minor units: Clover's `price` plus the item's
/// tax when the shop's Clover prices exclude tax.
fn buyer_price(node: &Node, settings: &Settings) -> Result<i64, ErrorDetail> {
    let price_node = node.req("price")?;
    let net = price_node.i64()?;
    if net < 0 {
        return Err(price_node.error(format!("price {net} is negative")));
    }
    let TaxMode::Added { default_rate } = settings.tax else {
        return Ok(net);
    };
    // Clover does not tax non-revenue items (gift cards, donations).
    if node.opt_bool("isRevenue")? == Some(false) {
        return Ok(net);
    }
    let rate = item_tax_rate(node, default_rate)?;
    rate.gross(net)
        .ok_or_else(|| price_node.error(format!("price {net} with tax does not fit in 64 bits")))
}

/// The rates Clover applies to this item: its own expanded `taxRates` when
/// the response carries them, else the merchant default when the item uses
/// `defaultTaxRates` (Clover's default is true), else none.
fn item_tax_rate(node: &Node, default_rate: TaxRate) -> Result<TaxRate, ErrorDetail> {
    let listed = match node.get("taxRates") {
        Some(rates) => elements(&rates)?,
        None => Vec::new(),
    };
    if !listed.is_empty() {
        let mut sum = TaxRate::ZERO;
        for rate in &listed {
            let units = rate.req("rate")?;
            let r = TaxRate::from_clover_units(units.i64()?).map_err(|m| units.error(m))?;
            sum = sum.plus(r).map_err(|m| units.error(m))?;
        }
        return Ok(sum);
    }
    if node.opt_bool("defaultTaxRates")? == Some(false) {
        Ok(TaxRate::ZERO)
    } else {
        Ok(default_rate)
    }
}

/// Whole units on the shelf, or `None` when Clover does not track this item.
fn tracked_quantity(node: &Node) -> Result<Option<i64>, ErrorDetail> {
    let Some(stock) = node.get("itemStock") else {
        return Ok(None);
    };
    match stock.get("quantity") {
        Some(q) => stock_units(&q).map(Some),
        None if stock.get("stockCount").is_some() => Err(ErrorDetail {
            message: "itemStock has no `quantity`; the deprecated `stockCount` is rounded to the nearest unit and is never used".into(),
            path: Some(stock.field_path("quantity")),
        }),
        None => Ok(None),
    }
}

fn stock_units(q: &Node) -> Result<i64, ErrorDetail> {
    if !q.value.is_number() {
        let found = match q.value.as_str() {
            Some(s) if s.chars().count() <= 40 => format!("the string {s:?}"),
            Some(_) => "a long string".to_string(),
            None => "a value that is not a number".to_string(),
        };
        return Err(q.error(format!(
            "expected the stock quantity as a number, found {found}"
        )));
    }
    let text = q.decimal_text()?;
    shelf_units(&text).map_err(|m| q.error(m))
}

fn first_category(node: &Node) -> Result<Option<String>, ErrorDetail> {
    let Some(categories) = node.get("categories") else {
        return Ok(None);
    };
    for category in elements(&categories)? {
        if let Some(name) = non_empty(category.opt_str("name")?) {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// Clover's expanded collections are `{"elements":[...]}`; a bare array is
/// accepted too.
pub fn elements<'a>(node: &Node<'a>) -> Result<Vec<Node<'a>>, ErrorDetail> {
    if node.value.is_array() {
        node.array()
    } else {
        node.opt_array("elements")
    }
}

/// A Clover timestamp (epoch milliseconds) as the version string.
fn version(node: &Node, key: &str) -> Result<Option<String>, ErrorDetail> {
    node.get(key).map(|n| n.id_string()).transpose()
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}
