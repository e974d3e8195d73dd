//! The feed and its mapping: `{"products": [...]}` to SnapAct changes.
//!
//! One change per product; a product that breaks a rule becomes a
//! rejection (its id, the JSON path of the offending field, the reason) and
//! the others are still delivered. Only a payload that is not a feed at all
//! is an error for the whole call.

use snapact_adapter_sdk::json::{self, Node, Value};
use snapact_adapter_sdk::money::{self, Rounding};
use snapact_adapter_sdk::{
    AdapterError, Availability, Change, Deletion, ErrorDetail, Item, Mapped, Money, availability,
    not_configured,
};

/// The setting holding the currency of products that name none.
pub const SETTING_CURRENCY: &str = "currency";
/// The setting at or below which tracked stock is `low-stock`.
pub const SETTING_LOW_STOCK: &str = availability::LOW_STOCK_SETTING;

/// The shop's settings, checked once per call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// ISO 4217 code for products without a `currency`.
    pub currency: Option<String>,
    /// Tracked stock at or below it is `low-stock`.
    pub low_stock_threshold: Option<i64>,
}

impl Settings {
    /// Read and check the settings through `get` (the host's `settings.get`
    /// in the component, a map in tests). A malformed setting is
    /// `not-configured`, naming it.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, AdapterError> {
        let value = |key: &str| {
            get(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let currency = match value(SETTING_CURRENCY) {
            None => None,
            Some(code) => {
                let upper = code.to_ascii_uppercase();
                if money::exponent(&upper).is_none() {
                    return Err(not_configured(format!(
                        "setting `{SETTING_CURRENCY}` is {code:?}, not an ISO 4217 currency code such as \"NGN\""
                    )));
                }
                Some(upper)
            }
        };
        let low_stock_threshold = match value(SETTING_LOW_STOCK) {
            None => None,
            Some(raw) => Some(raw.parse::<i64>().map_err(|_| {
                not_configured(format!(
                    "setting `{SETTING_LOW_STOCK}` must be a whole number, got {raw:?}"
                ))
            })?),
        };
        Ok(Settings {
            currency,
            low_stock_threshold,
        })
    }
}

/// Map a feed. Not JSON, or no `products` array, is `invalid-input` with the
/// JSON path; everything else is per product.
pub fn map_payload(payload: &[u8], settings: &Settings) -> Result<Mapped, AdapterError> {
    // Feeds saved by spreadsheet tools often start with a UTF-8 byte order mark.
    let payload = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
    let doc = json::parse(payload)?;
    let root = Node::root(&doc);
    if !doc.is_object() {
        return Err(root
            .error("expected a product feed: an object with a `products` array")
            .into());
    }
    let products = root.req("products")?.array()?;
    let mut out = Mapped {
        changes: Vec::with_capacity(products.len()),
        rejected: Vec::new(),
    };
    for product in &products {
        match map_product(product, settings) {
            Ok(change) => out.changes.push(change),
            Err(detail) => out
                .rejected
                .push(product.reject(record_id(product), detail)),
        }
    }
    Ok(out)
}

/// The product's id, when it can be read, for its rejection.
fn record_id(product: &Node) -> Option<String> {
    product.get("id").and_then(|id| id.id_string().ok())
}

/// One product: an upsert, or a delete when `deleted` is true.
pub fn map_product(p: &Node, settings: &Settings) -> Result<Change, ErrorDetail> {
    if !p.value.is_object() {
        return Err(p.error("expected a product object"));
    }
    let external_ref = p.req("id")?.id_string()?;
    let source_version = p.opt_str("updated_at")?.map(str::to_string);
    if p.opt_bool("deleted")? == Some(true) {
        return Ok(Change::Delete(Deletion {
            external_ref,
            source_version,
        }));
    }
    let name_node = p.req("name")?;
    let name = name_node.str()?.trim();
    if name.is_empty() {
        return Err(name_node.error("`name` is empty: buyers need a name to find the product"));
    }
    let price = price(p, settings)?;
    let quantity = p.get("quantity").map(|q| quantity(&q)).transpose()?;
    let availability = match price {
        // No fixed price: the buyer agrees it with the shop.
        None => Availability::OnRequest,
        Some(_) => availability::from_quantity(quantity, settings.low_stock_threshold),
    };
    Ok(Change::Upsert(Item {
        external_ref,
        name: name.to_string(),
        price,
        quantity,
        availability,
        sku: text(p, "sku")?,
        barcode: text(p, "barcode")?,
        category: text(p, "category")?,
        description: text(p, "description")?,
        image_url: text(p, "image_url")?,
        parent_ref: None,
        stock_key: None,
        source_version,
    }))
}

/// `price` as exact minor units; absent or `null` is no fixed price.
fn price(p: &Node, settings: &Settings) -> Result<Option<Money>, ErrorDetail> {
    let Some(node) = p.get("price") else {
        return Ok(None);
    };
    let Value::String(text) = node.value else {
        return Err(node.error(
            "expected the price as a decimal string such as \"12.50\": a JSON number is not exact in every language",
        ));
    };
    let currency = currency(p, settings)?;
    let minor =
        money::to_minor(text, &currency, Rounding::Exact).map_err(|e| node.error(e.to_string()))?;
    if minor < 0 {
        return Err(node.error(format!("price {text:?} is negative")));
    }
    Ok(Some(Money {
        amount_minor: minor,
        currency,
    }))
}

/// The product's `currency`, or the shop's `currency` setting.
fn currency(p: &Node, settings: &Settings) -> Result<String, ErrorDetail> {
    match p.get("currency") {
        Some(node) => {
            let code = node.str()?.trim().to_ascii_uppercase();
            if money::exponent(&code).is_none() {
                return Err(node.error(format!(
                    "{:?} is not an ISO 4217 currency code such as \"NGN\"",
                    node.str()?
                )));
            }
            Ok(code)
        }
        None => settings.currency.clone().ok_or_else(|| {
            // `req` fails with the path of the absent field.
            let path = p.req("currency").err().and_then(|e| e.path);
            ErrorDetail {
                message: "no currency: give the product a `currency` or set the shop's `currency` setting".into(),
                path,
            }
        }),
    }
}

/// A whole number, as a JSON integer or a string of digits. Negative stock
/// (oversold) is nothing on the shelf: 0.
fn quantity(node: &Node) -> Result<i64, ErrorDetail> {
    let whole = match node.value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let s = s.trim();
            let digits = s.strip_prefix('-').unwrap_or(s);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                s.parse::<i64>().ok()
            } else {
                None
            }
        }
        _ => None,
    };
    match whole {
        Some(q) => Ok(q.max(0)),
        None => Err(node.error(
            "expected the quantity as a whole number (or a string of digits) within 64 bits",
        )),
    }
}

/// An optional text field; blank is absent.
fn text(p: &Node, key: &str) -> Result<Option<String>, ErrorDetail> {
    Ok(p.opt_str(key)?
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string))
}

#[cfg(test)]
mod tests;
