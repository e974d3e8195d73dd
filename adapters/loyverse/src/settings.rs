//! The shop's settings, read once per call into a plain struct so the
//! mapping never touches host imports and tests natively.

use snapact_adapter_sdk::money;

/// Setting names this adapter reads (declared in `adapter.toml`).
pub mod keys {
    /// The Loyverse store whose prices, availability and stock SnapAct shows.
    pub const STORE_ID: &str = "store_id";
    /// ISO 4217 code of the Loyverse account's currency.
    pub const CURRENCY: &str = "currency";
    /// Quantities at or below it are `low-stock`.
    pub const LOW_STOCK_THRESHOLD: &str = "low_stock_threshold";
    /// Loyverse payment type recorded on receipts created by `push-order`.
    pub const PAYMENT_TYPE_ID: &str = "payment_type_id";
    /// `true` (default): Loyverse prices are what the buyer pays.
    pub const PRICES_INCLUDE_TAX: &str = "prices_include_tax";
    /// `TAX_ID:RATE,...`: the shop's ADDED taxes, rate in percent.
    pub const ADDED_TAX_RATES: &str = "added_tax_rates";
}

/// Why the settings cannot be used; the message names the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(pub String);

/// Everything the mapping needs to know about the shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The Loyverse store (`stores[].store_id`, `inventory_levels[].store_id`).
    pub store_id: String,
    /// ISO 4217 code, upper case.
    pub currency: String,
    /// `low_stock_threshold`, when set.
    pub low_stock_threshold: Option<i64>,
    /// How Loyverse prices become the buyer's final price.
    pub tax: TaxMode,
}

/// How taxes turn a Loyverse price into the price a buyer pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaxMode {
    /// Loyverse prices already are final (no tax, or INCLUDED taxes only).
    PricesAreFinal,
    /// The shop has ADDED taxes: an item's price is raised by the sum of the
    /// rates of its `tax_ids` found here. Tax ids not listed are INCLUDED.
    AddTaxes(Vec<AddedTax>),
}

/// One Loyverse tax of type `ADDED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedTax {
    /// Loyverse tax id (`GET /v1.0/taxes` -> `taxes[].id`).
    pub tax_id: String,
    /// Rate in millionths of a percent (`7.5` -> 7_500_000), exact.
    pub rate_micro_percent: i128,
}

impl Settings {
    /// Read the settings through `get` (the host's `settings::get` in the
    /// component, a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let required = |key: &str| {
            get(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    SettingsError(format!(
                        "setting `{key}` is required: add it to the shop's `settings` in snapact.toml"
                    ))
                })
        };
        let store_id = required(keys::STORE_ID)?;
        let currency_raw = required(keys::CURRENCY)?;
        let currency = currency_raw.to_ascii_uppercase();
        if money::exponent(&currency).is_none() {
            return Err(SettingsError(format!(
                "setting `currency` is {currency_raw:?}, not an ISO 4217 code such as \"NGN\""
            )));
        }
        let low_stock_threshold = match get(keys::LOW_STOCK_THRESHOLD) {
            None => None,
            Some(raw) if raw.trim().is_empty() => None,
            Some(raw) => Some(raw.trim().parse::<i64>().map_err(|_| {
                SettingsError(format!(
                    "setting `low_stock_threshold` must be a whole number, got {raw:?}"
                ))
            })?),
        };
        let include = match get(keys::PRICES_INCLUDE_TAX).as_deref().map(str::trim) {
            None | Some("") | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(SettingsError(format!(
                    "setting `prices_include_tax` must be \"true\" or \"false\", got {other:?}"
                )));
            }
        };
        let tax = if include {
            TaxMode::PricesAreFinal
        } else {
            let raw = required(keys::ADDED_TAX_RATES).map_err(|_| {
                SettingsError(
                    "setting `added_tax_rates` is required when `prices_include_tax` is \"false\": \
                     list the shop's ADDED taxes as `TAX_ID:RATE,...` (from GET /v1.0/taxes)"
                        .into(),
                )
            })?;
            TaxMode::AddTaxes(parse_added_taxes(&raw)?)
        };
        Ok(Settings {
            store_id,
            currency,
            low_stock_threshold,
            tax,
        })
    }
}

/// `TAX_ID:RATE,TAX_ID:RATE` with rates in percent (`7.5`).
fn parse_added_taxes(raw: &str) -> Result<Vec<AddedTax>, SettingsError> {
    let mut taxes = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || {
            SettingsError(format!(
                "setting `added_tax_rates`: {entry:?} is not `TAX_ID:RATE` with RATE a percentage such as 7.5"
            ))
        };
        let (id, rate) = entry.split_once(':').ok_or_else(bad)?;
        let id = id.trim();
        if id.is_empty() {
            return Err(bad());
        }
        let micro = money::to_minor(rate.trim(), "CLF", money::Rounding::Exact)
            .ok()
            .and_then(|ten_thousandths| {
                // CLF has four decimals: reuse the SDK's exact decimal parser,
                // then scale 1e-4 % to 1e-6 %.
                i128::from(ten_thousandths).checked_mul(100)
            })
            .filter(|m| (0..=100_000_000).contains(m))
            .ok_or_else(bad)?;
        taxes.push(AddedTax {
            tax_id: id.to_string(),
            rate_micro_percent: micro,
        });
    }
    if taxes.is_empty() {
        return Err(SettingsError(
            "setting `added_tax_rates` lists no taxes: use `TAX_ID:RATE,...`".into(),
        ));
    }
    Ok(taxes)
}

#[cfg(test)]
pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|k| map.get(k).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_required_and_optional_settings() {
        let s = from_pairs(&[
            ("store_id", "S1"),
            ("currency", "ngn"),
            ("low_stock_threshold", "5"),
        ])
        .expect("valid");
        assert_eq!(s.store_id, "S1");
        assert_eq!(s.currency, "NGN");
        assert_eq!(s.low_stock_threshold, Some(5));
        assert_eq!(s.tax, TaxMode::PricesAreFinal);
    }

    #[test]
    fn names_the_setting_that_is_wrong() {
        let e = from_pairs(&[("currency", "NGN")]).expect_err("no store");
        assert!(e.0.contains("`store_id` is required"), "{}", e.0);
        let e = from_pairs(&[("store_id", "S"), ("currency", "NAIRA")]).expect_err("bad");
        assert!(e.0.contains("not an ISO 4217 code"), "{}", e.0);
        let e = from_pairs(&[
            ("store_id", "S"),
            ("currency", "NGN"),
            ("low_stock_threshold", "few"),
        ])
        .expect_err("bad threshold");
        assert!(e.0.contains("`low_stock_threshold`"), "{}", e.0);
        let e = from_pairs(&[
            ("store_id", "S"),
            ("currency", "NGN"),
            ("prices_include_tax", "false"),
        ])
        .expect_err("rates needed");
        assert!(e.0.contains("`added_tax_rates` is required"), "{}", e.0);
    }

    #[test]
    fn parses_added_tax_rates_exactly() {
        let s = from_pairs(&[
            ("store_id", "S"),
            ("currency", "NGN"),
            ("prices_include_tax", "false"),
            ("added_tax_rates", "vat:7.5, levy:0.125"),
        ])
        .expect("valid");
        assert_eq!(
            s.tax,
            TaxMode::AddTaxes(vec![
                AddedTax {
                    tax_id: "vat".into(),
                    rate_micro_percent: 7_500_000
                },
                AddedTax {
                    tax_id: "levy".into(),
                    rate_micro_percent: 125_000
                },
            ])
        );
        for bad in ["vat", "vat:abc", ":5", "vat:101", "vat:-1", "vat:1.00001"] {
            let e = from_pairs(&[
                ("store_id", "S"),
                ("currency", "NGN"),
                ("prices_include_tax", "false"),
                ("added_tax_rates", bad),
            ])
            .expect_err(bad);
            assert!(e.0.contains("added_tax_rates"), "{bad}: {}", e.0);
        }
    }
}
