//! The host's own catalog model: what adapters produce, what the outbox
//! stores and what the relay delivers. Converted from the WIT types at the
//! sandbox boundary (`runtime`), rendered to SnapAct's JSON only in `snapact`.
//!
//! The serde form is the one `adapter map` prints and golden fixtures hold:
//! `{"op":"upsert","item":{...}}`, `{"op":"stock",...}`, `{"op":"delete",...}`,
//! with item fields named as SnapAct's wire contract names them.

use serde::{Deserialize, Serialize};

/// How SnapAct shows an item to buyers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Availability {
    /// Sellable now.
    InStock,
    /// Sellable, at or below the shop's low-stock threshold.
    LowStock,
    /// Not sellable now.
    OutOfStock,
    /// Price or quantity agreed with the shop.
    OnRequest,
    /// Sellable for a later slot only.
    ScheduledOnly,
}

impl Availability {
    /// The wire spelling (`"in-stock"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::InStock => "in-stock",
            Availability::LowStock => "low-stock",
            Availability::OutOfStock => "out-of-stock",
            Availability::OnRequest => "on-request",
            Availability::ScheduledOnly => "scheduled-only",
        }
    }
}

/// An exact amount in minor units.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units (kobo, cents).
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// One sellable thing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "ItemFields", into = "ItemFields")]
pub struct Item {
    /// The shop's id for it; SnapAct's upsert key.
    pub external_ref: String,
    /// Name buyers see.
    pub name: String,
    /// Final buyer price; `None` for variable pricing.
    pub price: Option<Money>,
    /// Verified quantity; `None` when not tracked.
    pub quantity: Option<i64>,
    /// Availability.
    pub availability: Availability,
    /// SKU.
    pub sku: Option<String>,
    /// Barcode (GTIN, UPC).
    pub barcode: Option<String>,
    /// Category name.
    pub category: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Image URL.
    pub image_url: Option<String>,
    /// The POS product this variant belongs to.
    pub parent_ref: Option<String>,
    /// Second key stock updates may use (Shopify `inventory_item_id`).
    pub stock_key: Option<String>,
    /// The POS's version of the record; newest wins.
    pub source_version: Option<String>,
}

/// The flat serde form of [`Item`]: `price_minor` + `currency` as SnapAct's
/// wire contract has them.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemFields {
    external_ref: String,
    name: String,
    price_minor: Option<i64>,
    currency: Option<String>,
    quantity: Option<i64>,
    availability: Availability,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    barcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stock_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_version: Option<String>,
}

impl From<ItemFields> for Item {
    fn from(f: ItemFields) -> Self {
        let price = match (f.price_minor, f.currency) {
            (Some(amount_minor), Some(currency)) => Some(Money {
                amount_minor,
                currency,
            }),
            _ => None,
        };
        Item {
            external_ref: f.external_ref,
            name: f.name,
            price,
            quantity: f.quantity,
            availability: f.availability,
            sku: f.sku,
            barcode: f.barcode,
            category: f.category,
            description: f.description,
            image_url: f.image_url,
            parent_ref: f.parent_ref,
            stock_key: f.stock_key,
            source_version: f.source_version,
        }
    }
}

impl From<Item> for ItemFields {
    fn from(i: Item) -> Self {
        let (price_minor, currency) = match i.price {
            Some(m) => (Some(m.amount_minor), Some(m.currency)),
            None => (None, None),
        };
        ItemFields {
            external_ref: i.external_ref,
            name: i.name,
            price_minor,
            currency,
            quantity: i.quantity,
            availability: i.availability,
            sku: i.sku,
            barcode: i.barcode,
            category: i.category,
            description: i.description,
            image_url: i.image_url,
            parent_ref: i.parent_ref,
            stock_key: i.stock_key,
            source_version: i.source_version,
        }
    }
}

/// Which item a stock update is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockTarget {
    /// By the item's `external_ref`.
    ExternalRef(String),
    /// By the item's `stock_key`, resolved by the host from stored items.
    StockKey(String),
}

/// New stock for a known item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StockUpdate {
    /// The item.
    pub target: StockTarget,
    /// Verified quantity; `None` when not tracked.
    pub quantity: Option<i64>,
    /// Availability.
    pub availability: Availability,
    /// The POS's version of the stock record.
    pub source_version: Option<String>,
}

/// One change to a shop's catalog.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[expect(
    clippy::large_enum_variant,
    reason = "changes are mostly upserts; boxing the item would cost an allocation each"
)]
pub enum Change {
    /// Create or replace an item.
    Upsert {
        /// The full item.
        item: Item,
    },
    /// Replace an item's stock.
    Stock {
        /// `external_ref` or `stock_key` of the item.
        #[serde(flatten)]
        target: StockTargetFields,
        /// Verified quantity.
        quantity: Option<i64>,
        /// Availability.
        availability: Availability,
        /// The POS's version.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source_version: Option<String>,
    },
    /// Stop selling an item.
    Delete {
        /// The item.
        external_ref: String,
        /// The POS's version.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source_version: Option<String>,
    },
}

/// The serde form of a stock target: exactly one of `external_ref`, `stock_key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StockTargetFields {
    /// The item's external ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
    /// The item's stock key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock_key: Option<String>,
}

impl From<StockTarget> for StockTargetFields {
    fn from(t: StockTarget) -> Self {
        match t {
            StockTarget::ExternalRef(r) => StockTargetFields {
                external_ref: Some(r),
                stock_key: None,
            },
            StockTarget::StockKey(k) => StockTargetFields {
                external_ref: None,
                stock_key: Some(k),
            },
        }
    }
}

impl StockTargetFields {
    /// The target, preferring `external_ref` when both are present.
    pub fn target(&self) -> Option<StockTarget> {
        match (&self.external_ref, &self.stock_key) {
            (Some(r), _) => Some(StockTarget::ExternalRef(r.clone())),
            (None, Some(k)) => Some(StockTarget::StockKey(k.clone())),
            (None, None) => None,
        }
    }
}

impl Change {
    /// A stock change.
    pub fn stock(update: StockUpdate) -> Self {
        Change::Stock {
            target: update.target.into(),
            quantity: update.quantity,
            availability: update.availability,
            source_version: update.source_version,
        }
    }

    /// The key this change coalesces on, when it names an external ref.
    pub fn external_ref(&self) -> Option<&str> {
        match self {
            Change::Upsert { item } => Some(&item.external_ref),
            Change::Stock { target, .. } => target.external_ref.as_deref(),
            Change::Delete { external_ref, .. } => Some(external_ref),
        }
    }

    /// The POS's version of the change, when the adapter gave one.
    pub fn source_version(&self) -> Option<&str> {
        match self {
            Change::Upsert { item } => item.source_version.as_deref(),
            Change::Stock { source_version, .. } | Change::Delete { source_version, .. } => {
                source_version.as_deref()
            }
        }
    }
}

impl Item {
    /// A minimal valid item (tests): priced 1.00 NGN, one in stock.
    #[cfg(test)]
    pub(crate) fn sample(external_ref: &str, name: &str) -> Item {
        Item {
            external_ref: external_ref.into(),
            name: name.into(),
            price: Some(Money {
                amount_minor: 100,
                currency: "NGN".into(),
            }),
            quantity: Some(1),
            availability: Availability::InStock,
            sku: None,
            barcode: None,
            category: None,
            description: None,
            image_url: None,
            parent_ref: None,
            stock_key: None,
            source_version: None,
        }
    }
}

/// One record an adapter could not map, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The record's id, when known.
    pub record_id: Option<String>,
    /// JSON path of the offending field.
    pub path: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rejected")?;
        if let Some(id) = &self.record_id {
            write!(f, " record {id}")?;
        }
        if let Some(path) = &self.path {
            write!(f, " at {path}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Per-record result of a mapping call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapped {
    /// Changes to deliver.
    pub changes: Vec<Change>,
    /// Records that could not be mapped.
    pub rejected: Vec<Rejection>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_form_matches_the_wire_names() {
        let change = Change::Upsert {
            item: Item {
                external_ref: "V1".into(),
                name: "Jollof (Large)".into(),
                price: Some(Money {
                    amount_minor: 250000,
                    currency: "NGN".into(),
                }),
                quantity: Some(3),
                availability: Availability::LowStock,
                sku: Some("J-L".into()),
                barcode: None,
                category: None,
                description: None,
                image_url: None,
                parent_ref: Some("P1".into()),
                stock_key: None,
                source_version: Some("7".into()),
            },
        };
        let json = serde_json::to_value(&change).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"op":"upsert","item":{"external_ref":"V1","name":"Jollof (Large)",
                "price_minor":250000,"currency":"NGN","quantity":3,"availability":"low-stock",
                "sku":"J-L","parent_ref":"P1","source_version":"7"}})
        );
        let back: Change = serde_json::from_value(json).expect("round trips");
        assert_eq!(back, change);

        let stock = Change::stock(StockUpdate {
            target: StockTarget::StockKey("IK9".into()),
            quantity: Some(0),
            availability: Availability::OutOfStock,
            source_version: None,
        });
        assert_eq!(
            serde_json::to_value(&stock).expect("serializes"),
            serde_json::json!({"op":"stock","stock_key":"IK9","quantity":0,"availability":"out-of-stock"})
        );
    }
}
