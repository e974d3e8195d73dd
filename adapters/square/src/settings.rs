//! The shop's settings, read once per call and passed to the pure mapping
//! code, so native callers (tests, benchmarks) supply them without the host.

use snapact_adapter_sdk::{AdapterError, money, not_configured};

/// Setting names this adapter reads (declared in `adapter.toml`).
pub mod keys {
    /// The Square location the shop sells from.
    pub const LOCATION_ID: &str = "location_id";
    /// The shop's ISO 4217 currency; prices in another currency are rejected.
    pub const CURRENCY: &str = "currency";
    /// Stock at or below this is `low-stock`.
    pub const LOW_STOCK_THRESHOLD: &str = "low_stock_threshold";
    /// `add-additive` (default) or `ignore`.
    pub const TAX_MODE: &str = "tax_mode";
    /// The public URL Square posts webhooks to, when it differs from the
    /// URL the host received them on (a proxy in front of the host).
    pub const NOTIFICATION_URL: &str = "notification_url";
}

/// How Square's taxes become part of the price SnapAct shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaxMode {
    /// Add the item's enabled `ADDITIVE` taxes (from the TAX objects in the
    /// payload) to the price, as Square's Orders API would, so SnapAct shows
    /// what the buyer pays. `INCLUSIVE` taxes are already in the price.
    AddAdditive,
    /// Send Square's price as it is (the shop lists final prices).
    Ignore,
}

/// Everything the mapping needs from the shop's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingSettings {
    /// The shop's Square location. Needed for inventory; for catalog
    /// objects it selects location overrides and presence.
    pub location_id: Option<String>,
    /// The shop's currency, upper case, checked against ISO 4217.
    pub currency: Option<String>,
    /// `low_stock_threshold`, whole units.
    pub low_stock_threshold: Option<i64>,
    /// How taxes are applied to prices.
    pub tax_mode: TaxMode,
}

impl Default for MappingSettings {
    fn default() -> Self {
        MappingSettings {
            location_id: None,
            currency: None,
            low_stock_threshold: None,
            tax_mode: TaxMode::AddAdditive,
        }
    }
}

impl MappingSettings {
    /// Read and validate the settings through `get` (the host's `settings`
    /// import in the component, a map in native tests). A malformed value is
    /// `not-configured` naming the setting and what it should look like.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, AdapterError> {
        let read = |key: &str| {
            get(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let currency = match read(keys::CURRENCY) {
            None => None,
            Some(raw) => {
                let upper = raw.to_ascii_uppercase();
                if money::exponent(&upper).is_none() {
                    return Err(not_configured(format!(
                        "setting `currency` is {raw:?}, not an ISO 4217 code such as \"NGN\""
                    )));
                }
                Some(upper)
            }
        };
        let low_stock_threshold = match read(keys::LOW_STOCK_THRESHOLD) {
            None => None,
            Some(raw) => Some(raw.parse::<i64>().map_err(|_| {
                not_configured(format!(
                    "setting `low_stock_threshold` must be a whole number, got {raw:?}"
                ))
            })?),
        };
        let tax_mode = match read(keys::TAX_MODE).as_deref() {
            None | Some("add-additive") => TaxMode::AddAdditive,
            Some("ignore") => TaxMode::Ignore,
            Some(other) => {
                return Err(not_configured(format!(
                    "setting `tax_mode` is {other:?}: use \"add-additive\" (add Square's additive taxes to prices) or \"ignore\" (prices are final)"
                )));
            }
        };
        Ok(MappingSettings {
            location_id: read(keys::LOCATION_ID),
            currency,
            low_stock_threshold,
            tax_mode,
        })
    }

    /// The location, or `not-configured` saying why it is needed.
    pub fn require_location(&self, for_what: &str) -> Result<&str, AdapterError> {
        self.location_id.as_deref().ok_or_else(|| {
            not_configured(format!(
                "setting `location_id` is required {for_what}: add the shop's Square location id to its `settings` in snapact.toml"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn reads_and_normalises() {
        let s = MappingSettings::from_lookup(lookup(&[
            ("location_id", " L1 "),
            ("currency", "ngn"),
            ("low_stock_threshold", "5"),
            ("tax_mode", "ignore"),
        ]))
        .expect("valid settings");
        assert_eq!(s.location_id.as_deref(), Some("L1"));
        assert_eq!(s.currency.as_deref(), Some("NGN"));
        assert_eq!(s.low_stock_threshold, Some(5));
        assert_eq!(s.tax_mode, TaxMode::Ignore);
        let empty = MappingSettings::from_lookup(lookup(&[])).expect("defaults");
        assert_eq!(empty, MappingSettings::default());
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (key, value, needle) in [
            ("currency", "naira", "`currency`"),
            ("low_stock_threshold", "2.5", "`low_stock_threshold`"),
            ("tax_mode", "vat", "`tax_mode`"),
        ] {
            match MappingSettings::from_lookup(lookup(&[(key, value)])) {
                Err(AdapterError::NotConfigured(m)) => assert!(m.contains(needle), "{m}"),
                other => panic!("{key}={value}: expected not-configured, got {other:?}"),
            }
        }
        let err = MappingSettings::default()
            .require_location("to map inventory")
            .expect_err("no location");
        assert!(matches!(err, AdapterError::NotConfigured(m) if m.contains("location_id")));
    }
}
