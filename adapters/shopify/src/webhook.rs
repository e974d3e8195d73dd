//! Shopify webhook requests: which topic, which signature, what was signed.
//!
//! Shopify signs the raw request body: `X-Shopify-Hmac-Sha256` is the
//! base64 HMAC-SHA256 of the body bytes under the app's webhook secret.
//! Newer deliveries (and Shopify's own libraries) also use the header names
//! without the `X-` prefix, so both are accepted. The host lower-cases
//! header names; this module compares them case-insensitively anyway.

use snapact_adapter_sdk::{AdapterError, invalid_input};

/// The secret name the manifest declares and the host verifies with.
pub const SECRET_NAME: &str = "webhook_secret";

/// The webhook topics this adapter maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// `products/create`: a full Product.
    ProductsCreate,
    /// `products/update`: a full Product.
    ProductsUpdate,
    /// `products/delete`: `{"id": <product id>}` only.
    ProductsDelete,
    /// `inventory_levels/update`: one InventoryLevel.
    InventoryLevelsUpdate,
    /// Any other topic: acknowledged, nothing to do.
    Other(String),
}

impl Topic {
    /// The topic from its header value (`products/update`).
    pub fn parse(value: &str) -> Topic {
        match value.trim().to_ascii_lowercase().as_str() {
            "products/create" => Topic::ProductsCreate,
            "products/update" => Topic::ProductsUpdate,
            "products/delete" => Topic::ProductsDelete,
            "inventory_levels/update" => Topic::InventoryLevelsUpdate,
            other => Topic::Other(other.to_string()),
        }
    }
}

/// A Shopify header by its name without the `X-` prefix (`shopify-topic`),
/// found under either spelling.
pub fn shopify_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find_map(|(k, v)| {
        let k = k.trim();
        let bare = k
            .strip_prefix("x-")
            .or_else(|| k.strip_prefix("X-"))
            .unwrap_or(k);
        bare.eq_ignore_ascii_case(name).then_some(v.as_str())
    })
}

/// The base64 signature to check, trimmed (some senders, such as Ruby's
/// `Base64.encode64`, end it with a newline).
pub fn signature(headers: &[(String, String)]) -> Result<&str, AdapterError> {
    shopify_header(headers, "shopify-hmac-sha256")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            AdapterError::Unauthenticated(
                "missing X-Shopify-Hmac-Sha256 header: only Shopify's signed webhooks are accepted"
                    .into(),
            )
        })
}

/// The message Shopify signs: the raw body, byte for byte.
pub fn signed_message(body: &[u8]) -> &[u8] {
    body
}

/// The topic of a verified webhook.
pub fn topic(headers: &[(String, String)]) -> Result<Topic, AdapterError> {
    shopify_header(headers, "shopify-topic")
        .map(Topic::parse)
        .ok_or_else(|| {
            invalid_input(
                "header X-Shopify-Topic",
                "missing X-Shopify-Topic header: cannot tell what the webhook is about",
            )
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
    fn finds_headers_with_or_without_the_x_prefix() {
        let with = headers(&[
            ("x-shopify-topic", "products/update"),
            ("x-shopify-hmac-sha256", "abc="),
        ]);
        let without = headers(&[
            ("shopify-topic", "products/update"),
            ("shopify-hmac-sha256", "abc=\n"),
        ]);
        for h in [&with, &without] {
            assert_eq!(topic(h).expect("topic"), Topic::ProductsUpdate);
            assert_eq!(signature(h).expect("sig"), "abc=");
        }
        let mixed = headers(&[("X-Shopify-Topic", "INVENTORY_LEVELS/UPDATE")]);
        assert_eq!(topic(&mixed).expect("topic"), Topic::InventoryLevelsUpdate);
        assert_eq!(
            Topic::parse("orders/create"),
            Topic::Other("orders/create".into())
        );
    }

    #[test]
    fn a_missing_signature_is_unauthenticated_and_a_missing_topic_invalid() {
        let none = headers(&[
            ("content-type", "application/json"),
            ("x-shopify-hmac-sha256", "  "),
        ]);
        assert!(matches!(
            signature(&none),
            Err(AdapterError::Unauthenticated(_))
        ));
        match topic(&none) {
            Err(AdapterError::InvalidInput(d)) => {
                assert_eq!(d.path.as_deref(), Some("header X-Shopify-Topic"))
            }
            other => panic!("expected invalid input, got {other:?}"),
        }
    }
}
