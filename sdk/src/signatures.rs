//! Webhook signature checks with secrets the adapter never sees.

use crate::AdapterError;
use crate::bindings::snapact::adapter::signatures as wit;
pub use wit::{HmacAlgorithm, SignatureEncoding};

/// Whether `signature` is the HMAC of `message` under the shop's secret
/// `secret_name`. A missing or undeclared secret is `not-configured`.
pub fn verify_hmac(
    secret_name: &str,
    algorithm: HmacAlgorithm,
    message: &[u8],
    signature: &str,
    encoding: SignatureEncoding,
) -> Result<bool, AdapterError> {
    wit::verify_hmac(secret_name, algorithm, message, signature, encoding).map_err(secret_error)
}

/// Whether `candidate` equals the shop's secret `secret_name` (constant time).
pub fn secret_equals(secret_name: &str, candidate: &str) -> Result<bool, AdapterError> {
    wit::secret_equals(secret_name, candidate).map_err(secret_error)
}

/// Fails with `unauthenticated` unless the HMAC verifies.
pub fn require_hmac(
    secret_name: &str,
    algorithm: HmacAlgorithm,
    message: &[u8],
    signature: &str,
    encoding: SignatureEncoding,
) -> Result<(), AdapterError> {
    if verify_hmac(secret_name, algorithm, message, signature, encoding)? {
        Ok(())
    } else {
        Err(AdapterError::Unauthenticated(
            "webhook signature does not match".into(),
        ))
    }
}

fn secret_error(e: wit::SecretError) -> AdapterError {
    match e {
        wit::SecretError::NotDeclared(name) => crate::not_configured(format!(
            "secret `{name}` is not declared in adapter.toml [capabilities] secrets"
        )),
        wit::SecretError::NotConfigured(name) => crate::not_configured(format!(
            "secret `{name}` is not configured for this shop: add it to the shop's `secrets` in snapact.toml"
        )),
    }
}
