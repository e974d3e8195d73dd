//! Loyverse webhooks: who sent it, and what it says.
//!
//! Loyverse signs only the webhooks an OAuth app created: their
//! `X-Loyverse-Signature` is the HMAC-SHA1 of the raw body under the app's
//! client secret (documented as base64; observed in the field as hex, so
//! both are accepted). Webhooks created with a personal access token are
//! not signed at all; for those the operator registers a URL carrying a
//! random `token` query parameter, checked in constant time by the host.

use crate::mapping::{INVENTORY_LEVELS_UPDATE, ITEMS_UPDATE};
use snapact_adapter_sdk::json::{Node, Value};
use snapact_adapter_sdk::signatures::SignatureEncoding;
use snapact_adapter_sdk::{AdapterError, invalid_input};

/// Secret holding the OAuth app's client secret.
pub const SIGNATURE_SECRET: &str = "webhook_secret";
/// Secret holding the token in the registered webhook URL.
pub const URL_TOKEN_SECRET: &str = "webhook_url_token";
/// Query parameter of the webhook URL that carries the token.
pub const URL_TOKEN_PARAM: &str = "token";

/// How a webhook request claims to come from Loyverse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `X-Loyverse-Signature` (HMAC-SHA1 of the body), with its encoding.
    Signature(String, SignatureEncoding),
    /// The `token` query parameter of the URL Loyverse posted to.
    UrlToken(String),
    /// Nothing: refused.
    Missing,
}

/// The signature header wins: an OAuth webhook is verified by its body,
/// not by a URL that may have leaked.
pub fn credential(headers: &[(String, String)], url: &str) -> Credential {
    let signature = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-loyverse-signature"))
        .map(|(_, value)| value.trim().to_string());
    if let Some(sig) = signature {
        let encoding = if sig.len() == 40 && sig.bytes().all(|b| b.is_ascii_hexdigit()) {
            SignatureEncoding::Hex
        } else {
            SignatureEncoding::Base64
        };
        return Credential::Signature(sig, encoding);
    }
    match url_token(url) {
        Some(token) => Credential::UrlToken(token),
        None => Credential::Missing,
    }
}

/// The raw value of `token` in the URL's query string (not decoded: the
/// operator chooses a URL-safe token).
fn url_token(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == URL_TOKEN_PARAM)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// The refusal for a request that presents no credential.
pub fn missing_credential() -> AdapterError {
    AdapterError::Unauthenticated(format!(
        "no X-Loyverse-Signature header and no `{URL_TOKEN_PARAM}` in the webhook URL: \
         register the webhook from the shop's OAuth app (secret `{SIGNATURE_SECRET}`), or with \
         a URL ending in `?{URL_TOKEN_PARAM}=<random>` (secret `{URL_TOKEN_SECRET}`)"
    ))
}

/// What a verified webhook body asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// `items.update`: map the items (after fetching their stock).
    Items,
    /// `inventory_levels.update`: map the levels.
    InventoryLevels,
    /// A type with no catalog meaning (`receipts.update`, ...): acknowledge.
    Ignored(String),
}

/// Read the webhook's `type`.
pub fn event(doc: &Value) -> Result<Event, AdapterError> {
    let root = Node::root(doc);
    if !doc.is_object() {
        return Err(invalid_input(
            "$",
            "expected a Loyverse webhook body (a JSON object)",
        ));
    }
    let kind = root.req_str("type")?;
    Ok(match kind {
        ITEMS_UPDATE => Event::Items,
        INVENTORY_LEVELS_UPDATE => Event::InventoryLevels,
        other => Event::Ignored(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn signature_header_wins_and_its_encoding_is_detected() {
        let hex = "0a4d55a8d778e5022fab701977c5d840bbc486d0";
        assert_eq!(
            credential(
                &headers(&[("x-loyverse-signature", hex)]),
                "https://h/loyverse?token=t"
            ),
            Credential::Signature(hex.into(), SignatureEncoding::Hex)
        );
        let b64 = "Ck1VqNd45QIvq3AZd8XYQLvEhtA=";
        assert_eq!(
            credential(&headers(&[("X-Loyverse-Signature", b64)]), "https://h/"),
            Credential::Signature(b64.into(), SignatureEncoding::Base64)
        );
    }

    #[test]
    fn url_token_is_read_from_the_query() {
        assert_eq!(
            credential(&[], "https://h/webhooks/loyverse?shop=a&token=s3cr3t#x"),
            Credential::UrlToken("s3cr3t".into())
        );
        assert_eq!(
            credential(&[], "https://h/webhooks/loyverse"),
            Credential::Missing
        );
        assert_eq!(credential(&[], "https://h/w?token="), Credential::Missing);
        assert_eq!(credential(&[], "https://h/w?tokens=x"), Credential::Missing);
    }

    #[test]
    fn classifies_the_documented_types() {
        let parse = |s: &str| snapact_adapter_sdk::json::parse(s.as_bytes()).expect("json");
        assert_eq!(
            event(&parse(r#"{"type":"items.update","items":[]}"#)).expect("ok"),
            Event::Items
        );
        assert_eq!(
            event(&parse(
                r#"{"type":"inventory_levels.update","inventory_levels":[]}"#
            ))
            .expect("ok"),
            Event::InventoryLevels
        );
        assert_eq!(
            event(&parse(r#"{"type":"receipts.update","receipts":[]}"#)).expect("ok"),
            Event::Ignored("receipts.update".into())
        );
        match event(&parse(r#"{"merchant_id":"m"}"#)) {
            Err(AdapterError::InvalidInput(d)) => assert_eq!(d.path.as_deref(), Some("$.type")),
            other => panic!("expected invalid input at $.type, got {other:?}"),
        }
    }
}
