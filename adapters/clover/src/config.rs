//! The shop's Clover settings, parsed once per call from a lookup function so
//! the parsing is tested natively and the component reads them through the
//! host's `settings` import.

use crate::tax::TaxRate;
use snapact_adapter_sdk::{AdapterError, money, not_configured};

/// Every setting name this adapter reads (the manifest declares the same list).
pub const SETTING_NAMES: [&str; 7] = [
    "merchant_id",
    "currency",
    "low_stock_threshold",
    "prices_include_tax",
    "tax_rate_percent",
    "tender_id",
    "order_type_id",
];

/// How Clover's item `price` relates to what a buyer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaxMode {
    /// `prices_include_tax = true`: Clover prices already include tax (VAT
    /// merchants), SnapAct shows them as they are.
    Included,
    /// `prices_include_tax = false`: Clover prices exclude tax; the adapter
    /// adds the item's tax rates, or `default_rate` for items on the
    /// merchant's default rates.
    Added {
        /// `tax_rate_percent`, the merchant's default rate (0 when unset).
        default_rate: TaxRate,
    },
}

/// A shop's settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// ISO 4217 code of the merchant's currency; Clover amounts are in its minor unit.
    pub currency: String,
    /// Stock at or below this is `low-stock`.
    pub low_stock_threshold: Option<i64>,
    /// Whether and how tax is added to Clover prices.
    pub tax: TaxMode,
    merchant_id: Option<String>,
    tender_id: Option<String>,
    /// Clover order type for pushed orders (optional).
    pub order_type_id: Option<String>,
}

impl Settings {
    /// Parse the settings `lookup` returns (absent or blank is unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, AdapterError> {
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let raw_currency = get("currency").ok_or_else(|| {
            not_configured(
                "setting `currency` is required: the ISO 4217 code of the merchant's Clover currency, such as \"USD\" or \"NGN\"",
            )
        })?;
        let currency = raw_currency.to_ascii_uppercase();
        if money::exponent(&currency).is_none() {
            return Err(not_configured(format!(
                "setting `currency` is {raw_currency:?}, not an ISO 4217 code such as \"NGN\""
            )));
        }
        let low_stock_threshold = match get("low_stock_threshold") {
            None => None,
            Some(raw) => Some(raw.parse::<i64>().map_err(|_| {
                not_configured(format!(
                    "setting `low_stock_threshold` must be a whole number, got {raw:?}"
                ))
            })?),
        };
        let include = match get("prices_include_tax").as_deref() {
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(not_configured(format!(
                    "setting `prices_include_tax` must be \"true\" or \"false\", got {other:?}"
                )));
            }
            None => {
                return Err(not_configured(
                    "setting `prices_include_tax` is required: \"true\" when Clover prices include tax (VAT merchants), \"false\" when Clover adds tax at checkout (then set `tax_rate_percent` too)",
                ));
            }
        };
        let rate = get("tax_rate_percent")
            .map(|raw| {
                TaxRate::from_percent(&raw).map_err(|why| {
                    not_configured(format!("setting `tax_rate_percent` {raw:?}: {why}"))
                })
            })
            .transpose()?;
        let tax = match (include, rate) {
            (true, Some(_)) => {
                return Err(not_configured(
                    "setting `tax_rate_percent` is set but `prices_include_tax` is \"true\": remove one, prices cannot both include tax and need it added",
                ));
            }
            (true, None) => TaxMode::Included,
            (false, rate) => TaxMode::Added {
                default_rate: rate.unwrap_or(TaxRate::ZERO),
            },
        };
        Ok(Settings {
            currency,
            low_stock_threshold,
            tax,
            merchant_id: get("merchant_id"),
            tender_id: get("tender_id"),
            order_type_id: get("order_type_id"),
        })
    }

    /// The Clover merchant id (`mId`), required for webhooks, polling and orders.
    pub fn merchant_id(&self) -> Result<&str, AdapterError> {
        let id = self.merchant_id.as_deref().ok_or_else(|| {
            not_configured(
                "setting `merchant_id` is required: the 13-character Clover merchant id (mId) of this shop",
            )
        })?;
        if clover_id_ok(id) {
            Ok(id)
        } else {
            Err(not_configured(format!(
                "setting `merchant_id` is {id:?}: a Clover merchant id has only letters and digits"
            )))
        }
    }

    /// The Clover tender that records SnapAct payments, required for `push-order`.
    pub fn tender_id(&self) -> Result<&str, AdapterError> {
        let id = self.tender_id.as_deref().ok_or_else(|| {
            not_configured(
                "setting `tender_id` is required to push orders: create a custom tender labelled \"SnapAct\" in Clover (Setup > Tenders, or POST /v3/merchants/{mId}/tenders) and set its id",
            )
        })?;
        if clover_id_ok(id) {
            Ok(id)
        } else {
            Err(not_configured(format!(
                "setting `tender_id` is {id:?}: a Clover tender id has only letters and digits"
            )))
        }
    }
}

/// Clover ids are short upper-case alphanumerics; anything else in a path
/// segment would let a setting rewrite the request path.
pub fn clover_id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Settings, AdapterError> {
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
    fn parses_a_full_configuration() {
        let s = parse(&[
            ("merchant_id", "VKVJT2ZRRRSC1"),
            ("currency", "usd"),
            ("low_stock_threshold", " 5 "),
            ("prices_include_tax", "false"),
            ("tax_rate_percent", "8.875"),
            ("tender_id", "TND123"),
        ])
        .expect("valid");
        assert_eq!(s.currency, "USD");
        assert_eq!(s.low_stock_threshold, Some(5));
        assert_eq!(
            s.tax,
            TaxMode::Added {
                default_rate: TaxRate::from_percent("8.875").expect("rate")
            }
        );
        assert_eq!(s.merchant_id().expect("mid"), "VKVJT2ZRRRSC1");
        assert_eq!(s.tender_id().expect("tender"), "TND123");
    }

    #[test]
    fn names_what_is_missing_or_wrong() {
        assert!(not_configured_message(parse(&[])).contains("`currency`"));
        assert!(
            not_configured_message(parse(&[("currency", "NGN")])).contains("`prices_include_tax`")
        );
        assert!(
            not_configured_message(parse(&[
                ("currency", "XXQ"),
                ("prices_include_tax", "true")
            ]))
            .contains("not an ISO 4217 code")
        );
        assert!(
            not_configured_message(parse(&[("currency", "NGN"), ("prices_include_tax", "yes")]))
                .contains("\"true\" or \"false\"")
        );
        assert!(
            not_configured_message(parse(&[
                ("currency", "NGN"),
                ("prices_include_tax", "true"),
                ("tax_rate_percent", "7.5")
            ]))
            .contains("cannot both")
        );
        assert!(
            not_configured_message(parse(&[
                ("currency", "NGN"),
                ("prices_include_tax", "false"),
                ("low_stock_threshold", "few")
            ]))
            .contains("whole number")
        );
        let s = parse(&[("currency", "NGN"), ("prices_include_tax", "true")]).expect("valid");
        match s.merchant_id() {
            Err(AdapterError::NotConfigured(m)) => assert!(m.contains("`merchant_id`")),
            other => panic!("{other:?}"),
        }
        match s.tender_id() {
            Err(AdapterError::NotConfigured(m)) => assert!(m.contains("custom tender")),
            other => panic!("{other:?}"),
        }
        let s = parse(&[
            ("currency", "NGN"),
            ("prices_include_tax", "true"),
            ("merchant_id", "../orders"),
        ])
        .expect("valid");
        assert!(s.merchant_id().is_err());
    }

    #[test]
    fn tax_rate_defaults_to_zero_when_prices_exclude_tax() {
        let s = parse(&[("currency", "NGN"), ("prices_include_tax", "false")]).expect("valid");
        assert_eq!(
            s.tax,
            TaxMode::Added {
                default_rate: TaxRate::ZERO
            }
        );
    }

    #[test]
    fn every_setting_is_declared_in_the_manifest() {
        let manifest = include_str!("../adapter.toml");
        for name in SETTING_NAMES {
            assert!(manifest.contains(&format!("\"{name}\"")), "{name}");
        }
    }
}
