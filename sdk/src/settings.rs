//! Per-shop, non-secret settings declared in the adapter's manifest.

use crate::AdapterError;
use crate::bindings::snapact::adapter::settings as wit;

/// A setting's value, or `None` when the shop does not set it.
pub fn get(key: &str) -> Option<String> {
    wit::get(key)
}

/// A setting the adapter cannot work without: missing is `not-configured`
/// naming the setting.
pub fn require(key: &str) -> Result<String, AdapterError> {
    get(key).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        crate::not_configured(format!(
            "setting `{key}` is required: add it to the shop's `settings` in snapact.toml"
        ))
    })
}

/// The shop's currency (`currency` setting), checked against ISO 4217.
pub fn currency() -> Result<String, AdapterError> {
    let code = require("currency")?;
    let upper = code.trim().to_ascii_uppercase();
    match crate::money::exponent(&upper) {
        Some(_) => Ok(upper),
        None => Err(crate::not_configured(format!(
            "setting `currency` is {code:?}, not an ISO 4217 code such as \"NGN\""
        ))),
    }
}
