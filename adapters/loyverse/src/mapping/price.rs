//! A variant's buyer price for the shop's store: exact decimal text to
//! minor units, plus ADDED taxes when the shop says its prices exclude them.

use crate::settings::{Settings, TaxMode};
use snapact_adapter_sdk::json::Node;
use snapact_adapter_sdk::money::{self, Rounding};
use snapact_adapter_sdk::{ErrorDetail, Money};

/// `None` for a VARIABLE price (set at the till). The store's entry wins
/// over the variant's defaults, as in Loyverse itself.
pub fn variant_price(
    tax_ids: &[String],
    variant: &Node<'_>,
    store: Option<&Node<'_>>,
    settings: &Settings,
) -> Result<Option<Money>, ErrorDetail> {
    let store_type = match store {
        Some(entry) => entry.opt_str("pricing_type")?,
        None => None,
    };
    let pricing_type = match store_type {
        Some(t) => t,
        None => variant.opt_str("default_pricing_type")?.unwrap_or("FIXED"),
    };
    match pricing_type {
        "VARIABLE" => return Ok(None),
        "FIXED" => {}
        other => {
            let at = store
                .and_then(|s| s.get("pricing_type"))
                .or_else(|| variant.get("default_pricing_type"))
                .map(|n| n.path())
                .unwrap_or_else(|| variant.path());
            return Err(ErrorDetail {
                message: format!("unknown pricing type {other:?}: expected FIXED or VARIABLE"),
                path: Some(at),
            });
        }
    }
    let price_node = store
        .and_then(|s| s.get("price"))
        .or_else(|| variant.get("default_price"))
        .ok_or_else(|| ErrorDetail {
            message: format!(
                "FIXED-price variant has no `price` for store {:?} and no `default_price`",
                settings.store_id
            ),
            path: Some(variant.field_path("default_price")),
        })?;
    let text = price_node.decimal_text()?;
    let listed = money::to_minor(&text, &settings.currency, Rounding::Exact)
        .map_err(|e| price_node.error(format!("price {e}")))?;
    if listed < 0 {
        return Err(price_node.error(format!("price {text} is negative")));
    }
    let amount_minor = with_added_taxes(listed, tax_ids, &settings.tax)
        .ok_or_else(|| price_node.error(format!("price {text} with taxes is too large")))?;
    Ok(Some(Money {
        amount_minor,
        currency: settings.currency.clone(),
    }))
}

/// The listed price plus the item's ADDED taxes, each on the listed price
/// (Loyverse does not compound taxes), rounded half up to the minor unit.
pub fn with_added_taxes(listed_minor: i64, tax_ids: &[String], mode: &TaxMode) -> Option<i64> {
    let TaxMode::AddTaxes(taxes) = mode else {
        return Some(listed_minor);
    };
    let rate: i128 = taxes
        .iter()
        .filter(|t| tax_ids.contains(&t.tax_id))
        .map(|t| t.rate_micro_percent)
        .sum();
    // rate is in millionths of a percent: tax = price * rate / 10^8.
    let scale: i128 = 100_000_000;
    let numerator = i128::from(listed_minor).checked_mul(rate)?;
    let tax = (numerator * 2 + scale) / (scale * 2);
    i64::try_from(i128::from(listed_minor) + tax).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::AddedTax;

    fn vat(rate_micro_percent: i128) -> TaxMode {
        TaxMode::AddTaxes(vec![AddedTax {
            tax_id: "vat".into(),
            rate_micro_percent,
        }])
    }

    #[test]
    fn adds_only_the_items_added_taxes_exactly() {
        let ids = vec!["vat".to_string()];
        // NGN 1,000.00 + 7.5% VAT = 1,075.00
        assert_eq!(
            with_added_taxes(100_000, &ids, &vat(7_500_000)),
            Some(107_500)
        );
        // 0.5 kobo rounds up: 1,000.10 * 7.5% = 75.0075 -> 75.01
        assert_eq!(
            with_added_taxes(100_010, &ids, &vat(7_500_000)),
            Some(107_511)
        );
        assert_eq!(
            with_added_taxes(100_000, &[], &vat(7_500_000)),
            Some(100_000)
        );
        assert_eq!(
            with_added_taxes(100_000, &ids, &TaxMode::PricesAreFinal),
            Some(100_000)
        );
        assert_eq!(with_added_taxes(i64::MAX, &ids, &vat(7_500_000)), None);
    }
}
