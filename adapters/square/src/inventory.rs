//! Square inventory counts (`InventoryCount`) to SnapAct stock changes.
//!
//! Square keeps a count per variation, location and state (`IN_STOCK`,
//! `SOLD`, `WASTE`, ...) as a decimal string with up to 5 decimals. Only
//! `IN_STOCK` at the shop's location is what a buyer can get; fractions are
//! rounded down and negative counts (oversold) are zero, so SnapAct never
//! promises what is not on the shelf.

use std::collections::HashMap;

use snapact_adapter_sdk::json::Node;
use snapact_adapter_sdk::{
    Change, ErrorDetail, Mapped, Rejection, StockTarget, StockUpdate, availability,
};

use crate::settings::MappingSettings;

/// Whole units on the shelf from Square's decimal `quantity`: rounded down,
/// never below zero.
pub fn whole_units(quantity: &str) -> Result<i64, String> {
    let text = quantity.trim();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits_only(int) || !digits_only(frac) {
        return Err(format!(
            "quantity {quantity:?} is not a decimal number such as \"12\" or \"2.5\""
        ));
    }
    if negative {
        return Ok(0);
    }
    let int = int.trim_start_matches('0');
    if int.is_empty() {
        return Ok(0);
    }
    int.parse::<i64>()
        .map_err(|_| format!("quantity {quantity:?} is too large"))
}

/// One usable count: the variation, whole units and when Square computed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// `catalog_object_id`: the variation, SnapAct's `external_ref`.
    pub variation_id: String,
    /// Whole units in stock.
    pub quantity: i64,
    /// `calculated_at`, normalised by [`version_of`].
    pub version: Option<String>,
}

/// Read one `InventoryCount`. `Ok(None)`: a count that is not about the
/// shop's sellable stock (another location or state, an ITEM-level count).
pub fn read_count(node: &Node<'_>, location_id: &str) -> Result<Option<Count>, ErrorDetail> {
    if node.opt_str("state")? != Some("IN_STOCK") {
        return Ok(None);
    }
    if node.opt_str("location_id")? != Some(location_id) {
        return Ok(None);
    }
    if let Some(kind) = node.opt_str("catalog_object_type")?
        && kind != "ITEM_VARIATION"
    {
        return Ok(None);
    }
    let variation_id = node.req_str("catalog_object_id")?.to_string();
    let qty_node = node.req("quantity")?;
    let quantity = whole_units(&qty_node.decimal_text()?).map_err(|m| qty_node.error(m))?;
    let version = node.opt_str("calculated_at")?.map(version_of);
    Ok(Some(Count {
        variation_id,
        quantity,
        version,
    }))
}

/// A stock change per usable count in `counts`, one rejection per bad count.
pub fn map_counts(counts: &[Node<'_>], settings: &MappingSettings, location_id: &str) -> Mapped {
    let mut out = Mapped::empty();
    for node in counts {
        match read_count(node, location_id) {
            Ok(None) => {}
            Ok(Some(count)) => out.changes.push(Change::Stock(StockUpdate {
                target: StockTarget::ExternalRef(count.variation_id),
                quantity: Some(count.quantity),
                availability: availability::from_quantity(
                    Some(count.quantity),
                    settings.low_stock_threshold,
                ),
                source_version: count.version,
            })),
            Err(detail) => out.rejected.push(reject(node, detail)),
        }
    }
    out
}

/// Whole units per variation id from a list of counts (for merging into
/// catalog upserts); bad counts are rejections.
pub fn stock_by_variation(
    counts: &[Node<'_>],
    location_id: &str,
    rejected: &mut Vec<Rejection>,
) -> HashMap<String, i64> {
    let mut stock = HashMap::new();
    for node in counts {
        match read_count(node, location_id) {
            Ok(Some(count)) => {
                stock.insert(count.variation_id, count.quantity);
            }
            Ok(None) => {}
            Err(detail) => rejected.push(reject(node, detail)),
        }
    }
    stock
}

fn reject(node: &Node<'_>, detail: ErrorDetail) -> Rejection {
    let record_id = node
        .opt_str("catalog_object_id")
        .ok()
        .flatten()
        .map(str::to_string);
    node.reject(record_id, detail)
}

/// Square's `calculated_at` (`2019-10-29T18:38:45.10296Z`) with its
/// fraction padded to nanoseconds, so versions compare correctly as strings
/// of the same width (the host's last-write-wins rule).
pub fn version_of(calculated_at: &str) -> String {
    let Some(body) = calculated_at.strip_suffix('Z') else {
        return calculated_at.to_string();
    };
    let (seconds, frac) = body.split_once('.').unwrap_or((body, ""));
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return calculated_at.to_string();
    }
    format!("{seconds}.{frac:0<9}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapact_adapter_sdk::json;

    #[test]
    fn rounds_down_and_never_below_zero() {
        assert_eq!(whole_units("79"), Ok(79));
        assert_eq!(whole_units("2.99999"), Ok(2));
        assert_eq!(whole_units("0.5"), Ok(0));
        assert_eq!(whole_units(".5"), Ok(0));
        assert_eq!(whole_units("10."), Ok(10));
        assert_eq!(whole_units("-3"), Ok(0));
        assert_eq!(whole_units("-0.25"), Ok(0));
        assert_eq!(whole_units("0007"), Ok(7));
        assert!(whole_units("1e3").is_err());
        assert!(whole_units("").is_err());
        assert!(whole_units("twelve").is_err());
        assert!(whole_units("99999999999999999999").is_err());
    }

    #[test]
    fn versions_compare_as_strings() {
        assert_eq!(
            version_of("2019-10-29T18:38:45.10296Z"),
            "2019-10-29T18:38:45.102960000Z"
        );
        assert_eq!(
            version_of("2019-10-29T18:38:45Z"),
            "2019-10-29T18:38:45.000000000Z"
        );
        assert!(version_of("2019-10-29T18:38:45Z") < version_of("2019-10-29T18:38:45.1Z"));
    }

    #[test]
    fn keeps_only_in_stock_at_the_location() {
        let doc = json::parse(
            br#"[
            {"catalog_object_id":"A","catalog_object_type":"ITEM_VARIATION","location_id":"L1","quantity":"4.7","state":"IN_STOCK","calculated_at":"2024-01-01T00:00:00Z"},
            {"catalog_object_id":"A","catalog_object_type":"ITEM_VARIATION","location_id":"L1","quantity":"3","state":"SOLD"},
            {"catalog_object_id":"B","catalog_object_type":"ITEM_VARIATION","location_id":"L2","quantity":"9","state":"IN_STOCK"},
            {"catalog_object_id":"C","catalog_object_type":"ITEM","location_id":"L1","quantity":"9","state":"IN_STOCK"},
            {"catalog_object_id":"D","location_id":"L1","quantity":"lots","state":"IN_STOCK"}
        ]"#,
        )
        .expect("json");
        let root = Node::root(&doc);
        let counts = root.array().expect("array");
        let settings = MappingSettings {
            low_stock_threshold: Some(5),
            ..MappingSettings::default()
        };
        let mapped = map_counts(&counts, &settings, "L1");
        assert_eq!(mapped.changes.len(), 1);
        match &mapped.changes[0] {
            Change::Stock(s) => {
                assert!(matches!(&s.target, StockTarget::ExternalRef(r) if r == "A"));
                assert_eq!(s.quantity, Some(4));
                assert_eq!(s.availability, snapact_adapter_sdk::Availability::LowStock);
            }
            other => panic!("expected stock, got {other:?}"),
        }
        assert_eq!(mapped.rejected.len(), 1);
        let r = &mapped.rejected[0];
        assert_eq!(r.record_id.as_deref(), Some("D"));
        assert_eq!(r.path.as_deref(), Some("$[4].quantity"));
        assert!(r.message.contains("\"lots\""), "{}", r.message);
    }
}
