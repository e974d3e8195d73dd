//! The shop's settings, read once per call and passed to the pure mapping
//! code, so that code never calls the host and is tested natively.

use snapact_adapter_sdk::{AdapterError, money, not_configured};

/// The Admin REST API version used when the shop sets no `api_version`.
pub const DEFAULT_API_VERSION: &str = "2026-07";

/// Every setting this adapter reads (the manifest declares the same names).
pub const SETTING_NAMES: &[&str] = &[
    "currency",
    "location_id",
    "low_stock_threshold",
    "prices_include_tax",
    "tax_rate_percent",
    "use_total_inventory_quantity",
    "api_version",
];

/// How Shopify's variant prices relate to what a buyer pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tax {
    /// The shop's prices include tax (Shopify's `taxes_included`): the
    /// variant price is the buyer price.
    Included,
    /// Shopify adds tax at checkout; SnapAct shows the price plus this rate
    /// for taxable variants.
    Excluded(TaxRate),
}

/// A tax rate in percent, held exactly as `numerator / denominator` percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxRate {
    numerator: i128,
    denominator: i128,
}

impl TaxRate {
    /// Parse a percentage such as `"7.5"` (at most 6 decimals, 0 to 100).
    pub fn parse(text: &str) -> Option<TaxRate> {
        let text = text.trim();
        let (int_part, frac_part) = text.split_once('.').unwrap_or((text, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty()
            || !digits_only(int_part)
            || !digits_only(frac_part)
            || frac_part.len() > 6
            || int_part.len() > 3
        {
            return None;
        }
        let mut numerator: i128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            numerator = numerator * 10 + i128::from(b - b'0');
        }
        let denominator = 10i128.pow(frac_part.len() as u32);
        if numerator > 100 * denominator {
            return None;
        }
        Some(TaxRate {
            numerator,
            denominator,
        })
    }

    /// `amount_minor` plus this rate of it, the tax rounded half away from
    /// zero to the minor unit (how Shopify rounds a line's tax). `None` on
    /// overflow.
    pub fn add_to(self, amount_minor: i64) -> Option<i64> {
        let scaled = i128::from(amount_minor) * self.numerator;
        let divisor = self.denominator * 100;
        let tax = (scaled.abs() * 2 + divisor) / (2 * divisor) * scaled.signum();
        i64::try_from(i128::from(amount_minor) + tax).ok()
    }
}

/// Everything the mapping needs to know about the shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// ISO 4217 code of the shop currency; variant prices are in it.
    pub currency: String,
    /// The Shopify location whose stock SnapAct shows.
    pub location_id: Option<String>,
    /// Stock at or below this is `low-stock`.
    pub low_stock_threshold: Option<i64>,
    /// Whether prices include tax.
    pub tax: Tax,
    /// Use the variant's `inventory_quantity` (summed over all locations)
    /// when no level for `location_id` is known. Off by default.
    pub use_total_inventory_quantity: bool,
    /// Admin REST API version, `YYYY-MM`.
    pub api_version: String,
}

impl Settings {
    /// Read and check the settings through `get` (the host's settings, or
    /// a map in tests). Every problem is `not-configured` naming the setting.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, AdapterError> {
        let value = |key: &str| {
            get(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let currency = value("currency").ok_or_else(|| {
            not_configured(
                "setting `currency` is required: the shop's Shopify currency, an ISO 4217 code such as \"NGN\"",
            )
        })?;
        let currency = currency.to_ascii_uppercase();
        if money::exponent(&currency).is_none() {
            return Err(not_configured(format!(
                "setting `currency` is {currency:?}, not an ISO 4217 code such as \"NGN\""
            )));
        }

        let location_id = value("location_id");
        if let Some(id) = &location_id
            && !id.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(not_configured(format!(
                "setting `location_id` is {id:?}: use the numeric Shopify location id (Settings > Locations, or GET /admin/api/{DEFAULT_API_VERSION}/locations.json)"
            )));
        }

        let low_stock_threshold = match value("low_stock_threshold") {
            None => None,
            Some(raw) => Some(raw.parse::<i64>().map_err(|_| {
                not_configured(format!(
                    "setting `low_stock_threshold` must be a whole number, got {raw:?}"
                ))
            })?),
        };

        let prices_include_tax = bool_setting(&value, "prices_include_tax")?.ok_or_else(|| {
            not_configured(
                "setting `prices_include_tax` is required: \"true\" when the shop's prices include tax (Shopify: Settings > Taxes and duties > \"Include sales tax in product price\"), else \"false\" with `tax_rate_percent`",
            )
        })?;
        let tax = if prices_include_tax {
            Tax::Included
        } else {
            let raw = value("tax_rate_percent").ok_or_else(|| {
                not_configured(
                    "setting `tax_rate_percent` is required when `prices_include_tax` is \"false\": SnapAct shows the final buyer price, so the adapter adds this rate (for example \"7.5\") to taxable variants",
                )
            })?;
            Tax::Excluded(TaxRate::parse(&raw).ok_or_else(|| {
                not_configured(format!(
                    "setting `tax_rate_percent` must be a percentage between 0 and 100 with at most 6 decimals, such as \"7.5\"; got {raw:?}"
                ))
            })?)
        };

        let use_total_inventory_quantity =
            bool_setting(&value, "use_total_inventory_quantity")?.unwrap_or(false);

        let api_version = value("api_version").unwrap_or_else(|| DEFAULT_API_VERSION.to_string());
        let b = api_version.as_bytes();
        if !(b.len() == 7
            && b[4] == b'-'
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[5..].iter().all(u8::is_ascii_digit))
        {
            return Err(not_configured(format!(
                "setting `api_version` must look like \"{DEFAULT_API_VERSION}\" (a Shopify API version), got {api_version:?}"
            )));
        }

        Ok(Settings {
            currency,
            location_id,
            low_stock_threshold,
            tax,
            use_total_inventory_quantity,
            api_version,
        })
    }

    /// The location id, required for anything location-specific.
    pub fn require_location(&self) -> Result<&str, AdapterError> {
        self.location_id.as_deref().ok_or_else(|| {
            not_configured(
                "setting `location_id` is required to read stock: the numeric id of the Shopify location whose stock SnapAct shows",
            )
        })
    }
}

fn bool_setting(
    value: &impl Fn(&str) -> Option<String>,
    key: &str,
) -> Result<Option<bool>, AdapterError> {
    match value(key).map(|v| v.to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if v == "true" => Ok(Some(true)),
        Some(v) if v == "false" => Ok(Some(false)),
        Some(v) => Err(not_configured(format!(
            "setting `{key}` must be \"true\" or \"false\", got {v:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, AdapterError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    fn not_configured_message(r: Result<Settings, AdapterError>) -> String {
        match r {
            Err(AdapterError::NotConfigured(m)) => m,
            other => panic!("expected not-configured, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_complete_configuration() {
        let s = settings(&[
            ("currency", "ngn"),
            ("location_id", "655441491"),
            ("low_stock_threshold", "5"),
            ("prices_include_tax", "false"),
            ("tax_rate_percent", "7.5"),
        ])
        .expect("valid");
        assert_eq!(s.currency, "NGN");
        assert_eq!(s.location_id.as_deref(), Some("655441491"));
        assert_eq!(s.low_stock_threshold, Some(5));
        assert_eq!(s.api_version, DEFAULT_API_VERSION);
        assert!(!s.use_total_inventory_quantity);
        assert_eq!(s.tax, Tax::Excluded(TaxRate::parse("7.5").expect("rate")));
    }

    #[test]
    fn names_the_missing_or_bad_setting() {
        let m = not_configured_message(settings(&[("prices_include_tax", "true")]));
        assert!(m.contains("`currency`"), "{m}");
        let m = not_configured_message(settings(&[("currency", "USD")]));
        assert!(m.contains("`prices_include_tax`"), "{m}");
        let m = not_configured_message(settings(&[
            ("currency", "USD"),
            ("prices_include_tax", "false"),
        ]));
        assert!(m.contains("`tax_rate_percent`"), "{m}");
        let m = not_configured_message(settings(&[
            ("currency", "USD"),
            ("prices_include_tax", "yes"),
        ]));
        assert!(m.contains("\"true\" or \"false\""), "{m}");
        let m = not_configured_message(settings(&[
            ("currency", "USD"),
            ("prices_include_tax", "true"),
            ("location_id", "gid://shopify/Location/1"),
        ]));
        assert!(m.contains("numeric Shopify location id"), "{m}");
        let m = not_configured_message(settings(&[
            ("currency", "DOLLARS"),
            ("prices_include_tax", "true"),
        ]));
        assert!(m.contains("ISO 4217"), "{m}");
        let m = not_configured_message(settings(&[
            ("currency", "USD"),
            ("prices_include_tax", "true"),
            ("api_version", "latest"),
        ]));
        assert!(m.contains("`api_version`"), "{m}");
    }

    #[test]
    fn tax_is_added_exactly_and_rounded_half_up() {
        let rate = TaxRate::parse("7.5").expect("rate");
        // 19.99 * 1.075 = 21.48925 -> 21.49
        assert_eq!(rate.add_to(1999), Some(2149));
        // 10.00 * 1.075 = 10.75 exactly
        assert_eq!(rate.add_to(1000), Some(1075));
        // 0.10 * 1.05 = 0.105 -> tax 0.005 rounds up to 0.01
        assert_eq!(TaxRate::parse("5").expect("rate").add_to(10), Some(11));
        assert_eq!(TaxRate::parse("0").expect("rate").add_to(1999), Some(1999));
        assert_eq!(TaxRate::parse("100").expect("rate").add_to(1), Some(2));
        for bad in ["", "-1", "100.01", "7,5", "1e2", "0.0000001", "abc", ".5"] {
            assert_eq!(TaxRate::parse(bad), None, "{bad:?}");
        }
        assert_eq!(TaxRate::parse("100").expect("rate").add_to(i64::MAX), None);
    }
}
