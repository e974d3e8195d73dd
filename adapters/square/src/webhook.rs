//! Square webhooks: what is signed, and what each event means for the shop.
//!
//! Square signs `notification URL + raw body` with the subscription's
//! signature key (HMAC-SHA256, base64) in `x-square-hmacsha256-signature`.
//! The key stays in the host: the component builds the message and asks the
//! host's `signatures` import to verify it.

use snapact_adapter_sdk::json::{self, Node};
use snapact_adapter_sdk::{AdapterError, WebhookOutcome};

use crate::inventory;
use crate::settings::MappingSettings;

/// The header carrying Square's signature (the host gives header names in
/// lower case).
pub const SIGNATURE_HEADER: &str = "x-square-hmacsha256-signature";

/// The secret name the signature is verified with (declared in `adapter.toml`).
pub const SIGNATURE_SECRET: &str = "webhook_signature_key";

/// The bytes Square signs: the notification URL, then the raw body.
pub fn signed_message(notification_url: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(notification_url.len() + body.len());
    message.extend_from_slice(notification_url.as_bytes());
    message.extend_from_slice(body);
    message
}

/// The URL Square signed: the operator's `notification_url` setting when
/// set (the host sits behind a proxy whose public URL differs), else the
/// URL the host received the request on.
pub fn notification_url(setting: Option<String>, received: &str) -> String {
    setting
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| received.to_string())
}

/// The signature header's value, or `unauthenticated` when it is missing.
pub fn signature(headers: &[(String, String)]) -> Result<&str, AdapterError> {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(SIGNATURE_HEADER))
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            AdapterError::Unauthenticated(format!(
                "the request has no {SIGNATURE_HEADER} header: it did not come from Square"
            ))
        })
}

/// What a verified webhook body means: `inventory.count.updated` is stock
/// changes; `catalog.version.updated` asks the host to poll (Square sends no
/// objects with it); every other event type is acknowledged with no change.
pub fn outcome(body: &[u8], settings: &MappingSettings) -> Result<WebhookOutcome, AdapterError> {
    let doc = json::parse(body)?;
    event_outcome(&Node::root(&doc), settings)
}

/// [`outcome`] for an already parsed event.
pub fn event_outcome(
    root: &Node<'_>,
    settings: &MappingSettings,
) -> Result<WebhookOutcome, AdapterError> {
    let event_type = root.req_str("type")?;
    let mut outcome = WebhookOutcome {
        changes: Vec::new(),
        rejected: Vec::new(),
        request_poll: false,
    };
    match event_type {
        "inventory.count.updated" => {
            let location =
                settings.require_location("to map Square inventory.count.updated events")?;
            let counts = root
                .req("data")?
                .req("object")?
                .opt_array("inventory_counts")?;
            let mapped = inventory::map_counts(&counts, settings, location);
            outcome.changes = mapped.changes;
            outcome.rejected = mapped.rejected;
        }
        "catalog.version.updated" => outcome.request_poll = true,
        _ => {}
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_signature_header() {
        let headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            (SIGNATURE_HEADER.to_string(), " abc= ".to_string()),
        ];
        assert_eq!(signature(&headers).expect("present"), "abc=");
        let err = signature(&headers[..1]).expect_err("missing");
        assert!(matches!(err, AdapterError::Unauthenticated(m) if m.contains(SIGNATURE_HEADER)));
    }

    /// Square's published SDK test vectors and one computed here (see
    /// SOURCES.md): the message this adapter builds must give Square's
    /// signature under the key, and must not under a wrong URL or key.
    #[test]
    fn signed_message_matches_square_test_vectors() {
        use base64::Engine;
        use hmac::{Hmac, Mac};
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/square/webhook_signatures.json");
        let text = std::fs::read_to_string(&path).expect("vectors");
        let vectors: serde_json::Value = serde_json::from_str(&text).expect("json");
        let vectors = vectors.as_array().expect("array");
        assert!(vectors.len() >= 5);
        for v in vectors {
            let field = |k: &str| v[k].as_str().expect("string field");
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(field("signature_key").as_bytes())
                .expect("any key length");
            mac.update(&signed_message(
                field("notification_url"),
                field("body").as_bytes(),
            ));
            let computed =
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
            assert_eq!(
                computed == field("signature"),
                v["valid"].as_bool().expect("valid flag"),
                "{}",
                field("name")
            );
        }
    }

    #[test]
    fn notification_url_setting_wins_when_set() {
        assert_eq!(
            notification_url(Some(" https://pub/x ".into()), "http://in/x"),
            "https://pub/x"
        );
        assert_eq!(
            notification_url(Some(" ".into()), "http://in/x"),
            "http://in/x"
        );
        assert_eq!(notification_url(None, "http://in/x"), "http://in/x");
    }

    #[test]
    fn message_is_url_then_body() {
        assert_eq!(
            signed_message("https://h/x", b"{\"a\":1}"),
            b"https://h/x{\"a\":1}".to_vec()
        );
    }

    #[test]
    fn event_types() {
        let settings = MappingSettings {
            location_id: Some("L1".into()),
            ..MappingSettings::default()
        };
        let poll = outcome(
            br#"{"type":"catalog.version.updated","event_id":"e","data":{"type":"catalog_version","id":"x","object":{"catalog_version":{"updated_at":"2019-10-29T17:26:16.53Z"}}}}"#,
            &settings,
        )
        .expect("ok");
        assert!(poll.request_poll && poll.changes.is_empty());
        let other = outcome(
            br#"{"type":"payment.created","event_id":"e","data":{}}"#,
            &settings,
        )
        .expect("ok");
        assert!(!other.request_poll && other.changes.is_empty() && other.rejected.is_empty());
        let not_event = outcome(br#"{"event_id":"e"}"#, &settings).expect_err("no type");
        assert!(
            matches!(not_event, AdapterError::InvalidInput(d) if d.path.as_deref() == Some("$.type"))
        );
        let no_location = outcome(
            br#"{"type":"inventory.count.updated","data":{"object":{"inventory_counts":[]}}}"#,
            &MappingSettings::default(),
        )
        .expect_err("needs location");
        assert!(matches!(no_location, AdapterError::NotConfigured(_)));
    }
}
