//! `signatures`: HMAC checks and static-secret comparisons with secrets the
//! adapter names but never sees. Comparisons are constant-time.

use super::HostState;
use crate::runtime::bindings::signatures::{HmacAlgorithm, Host, SecretError, SignatureEncoding};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

impl HostState {
    fn secret(&self, name: &str) -> Result<&SecretString, SecretError> {
        if !self.manifest.capabilities.secrets.iter().any(|s| s == name) {
            self.warn_once(&format!("secret:{name}"), || {
                format!(
                    "adapter asked to use secret `{name}`, which its adapter.toml does not declare in [capabilities] secrets; refused"
                )
            });
            return Err(SecretError::NotDeclared(name.to_string()));
        }
        self.secrets
            .get(name)
            .ok_or_else(|| SecretError::NotConfigured(name.to_string()))
    }
}

impl Host for HostState {
    fn verify_hmac(
        &mut self,
        secret_name: String,
        algorithm: HmacAlgorithm,
        message: Vec<u8>,
        signature: String,
        encoding: SignatureEncoding,
    ) -> Result<bool, SecretError> {
        let secret = self.secret(&secret_name)?;
        Ok(verify_hmac(
            secret.expose_secret().as_bytes(),
            algorithm == HmacAlgorithm::Sha1,
            &message,
            &signature,
            encoding == SignatureEncoding::Base64,
        ))
    }

    fn secret_equals(
        &mut self,
        secret_name: String,
        candidate: String,
    ) -> Result<bool, SecretError> {
        let secret = self.secret(&secret_name)?;
        Ok(secret_equals(secret.expose_secret(), &candidate))
    }
}

/// Whether `signature` (hex, or base64 when `base64`) is the HMAC-SHA256
/// (HMAC-SHA1 when `sha1`) of `message` under `key`. Malformed is `false`.
pub(crate) fn verify_hmac(
    key: &[u8],
    sha1: bool,
    message: &[u8],
    signature: &str,
    base64: bool,
) -> bool {
    let signature = signature.trim();
    let decoded = if base64 {
        base64::engine::general_purpose::STANDARD
            .decode(signature)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(signature))
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(signature))
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature))
            .ok()
    } else {
        hex::decode(signature).ok()
    };
    let Some(tag) = decoded else {
        return false;
    };
    // `verify_slice` compares in constant time.
    if sha1 {
        Hmac::<sha1::Sha1>::new_from_slice(key)
            .map(|mac| mac.chain_update(message).verify_slice(&tag).is_ok())
            .unwrap_or(false)
    } else {
        Hmac::<Sha256>::new_from_slice(key)
            .map(|mac| mac.chain_update(message).verify_slice(&tag).is_ok())
            .unwrap_or(false)
    }
}

/// Constant-time equality that also hides the secret's length: digests of
/// equal length are compared instead of the strings.
pub(crate) fn secret_equals(secret: &str, candidate: &str) -> bool {
    Sha256::digest(secret.as_bytes())
        .ct_eq(&Sha256::digest(candidate.as_bytes()))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test case 2 (HMAC-SHA256) and RFC 2202 test case 2 (HMAC-SHA1).
    const KEY: &[u8] = b"Jefe";
    const MSG: &[u8] = b"what do ya want for nothing?";
    const SHA256_HEX: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    const SHA1_HEX: &str = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";

    #[test]
    fn known_vectors_verify_in_hex() {
        assert!(verify_hmac(KEY, false, MSG, SHA256_HEX, false));
        assert!(verify_hmac(
            KEY,
            false,
            MSG,
            &SHA256_HEX.to_uppercase(),
            false
        ));
        assert!(verify_hmac(KEY, true, MSG, SHA1_HEX, false));
        assert!(
            !verify_hmac(KEY, true, MSG, SHA256_HEX, false),
            "algorithm mismatch"
        );
    }

    #[test]
    fn known_vectors_verify_in_base64() {
        let b64 = |h: &str| {
            base64::engine::general_purpose::STANDARD.encode(hex::decode(h).expect("hex"))
        };
        assert!(verify_hmac(KEY, false, MSG, &b64(SHA256_HEX), true));
        assert!(verify_hmac(KEY, true, MSG, &b64(SHA1_HEX), true));
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(hex::decode(SHA256_HEX).expect("hex"));
        assert!(verify_hmac(KEY, false, MSG, &url_safe, true));
        assert!(
            !verify_hmac(KEY, false, MSG, SHA256_HEX, true),
            "hex is not base64"
        );
    }

    #[test]
    fn wrong_secret_message_or_garbage_fails() {
        assert!(!verify_hmac(b"jefe", false, MSG, SHA256_HEX, false));
        assert!(!verify_hmac(
            KEY,
            false,
            b"what do ya want for something?",
            SHA256_HEX,
            false
        ));
        assert!(!verify_hmac(KEY, false, MSG, "zz", false));
        assert!(!verify_hmac(KEY, false, MSG, "", false));
        assert!(
            !verify_hmac(KEY, false, MSG, &SHA256_HEX[..62], false),
            "truncated tag"
        );
    }

    #[test]
    fn secret_equality() {
        assert!(secret_equals("s3cret", "s3cret"));
        assert!(!secret_equals("s3cret", "s3cre"));
        assert!(!secret_equals("s3cret", ""));
    }
}
