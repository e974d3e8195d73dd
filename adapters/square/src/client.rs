//! The seam between the Square flows (poll, push-order) and the network.
//!
//! Flows talk to a [`Square`]: in the component it is the host's `pos-http`
//! import (lib.rs); in native tests it is a fake that records requests and
//! serves Square's documented responses. Everything here is pure.

use snapact_adapter_sdk::json::{self, Node, Value};
use snapact_adapter_sdk::{AdapterError, ErrorDetail, UpstreamError};

/// The Square API version this adapter is written against (`Square-Version`
/// header): the version of the OpenAPI specification its fixtures come from.
pub const SQUARE_VERSION: &str = "2025-08-20";

/// Headers every Square request carries. Credentials are the host's job.
pub fn request_headers() -> Vec<(String, String)> {
    vec![
        ("square-version".into(), SQUARE_VERSION.into()),
        ("content-type".into(), "application/json".into()),
        ("accept".into(), "application/json".into()),
    ]
}

/// Square's API, as far as the flows need it.
pub trait Square {
    /// `POST path` with a JSON body; the raw body of a 2xx answer, otherwise
    /// the error [`response_error`] describes.
    fn post(&mut self, path: &str, body: &Value) -> Result<Vec<u8>, AdapterError>;
}

/// The body of a 2xx answer, or an `upstream` error built from Square's
/// `errors` array (category, code, detail, field), retryable for 408, 429
/// and 5xx.
pub fn check(status: u16, body: Vec<u8>) -> Result<Vec<u8>, AdapterError> {
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(response_error(status, &body))
    }
}

/// An `upstream` error for a non-2xx Square answer.
pub fn response_error(status: u16, body: &[u8]) -> AdapterError {
    let described = serde_json::from_slice::<Value>(body).ok().and_then(|doc| {
        let errors = doc.get("errors")?.as_array()?;
        let parts: Vec<String> = errors
            .iter()
            .take(3)
            .map(|e| {
                let text = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("");
                let mut part = format!("{} {}", text("code"), text("detail"));
                if !text("field").is_empty() {
                    part.push_str(&format!(" (field `{}`)", text("field")));
                }
                part.trim().to_string()
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    });
    let message = match described {
        Some(d) => format!("Square answered HTTP {status}: {d}"),
        None => {
            let snippet: String = String::from_utf8_lossy(body).chars().take(200).collect();
            format!("Square answered HTTP {status}: {snippet}")
        }
    };
    AdapterError::Upstream(UpstreamError {
        message,
        status: Some(status),
        retryable: matches!(status, 408 | 429) || status >= 500,
    })
}

/// Parse a 2xx body; garbage from Square is a retryable `upstream` error
/// (a truncated answer is worth another try), not the caller's bad input.
pub fn parse_body(body: &[u8], endpoint: &str) -> Result<Value, AdapterError> {
    json::parse(body).map_err(|_| {
        AdapterError::Upstream(UpstreamError {
            message: format!("Square's {endpoint} answer is not valid JSON"),
            status: None,
            retryable: true,
        })
    })
}

/// A Square answer whose shape is not what its documentation says.
pub fn shape_error(endpoint: &str, detail: ErrorDetail) -> AdapterError {
    AdapterError::Upstream(UpstreamError {
        message: format!(
            "Square's {endpoint} answer is not in the documented shape at {}: {}",
            detail.path.as_deref().unwrap_or("$"),
            detail.message
        ),
        status: None,
        retryable: false,
    })
}

/// Read a field of a Square answer, turning a shape mismatch into [`shape_error`].
pub fn read<'a, T>(
    endpoint: &str,
    root: &Node<'a>,
    f: impl FnOnce(&Node<'a>) -> Result<T, ErrorDetail>,
) -> Result<T, AdapterError> {
    f(root).map_err(|d| shape_error(endpoint, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_errors_are_described_and_classified() {
        let body = br#"{"errors":[{"category":"INVALID_REQUEST_ERROR","code":"INVALID_VALUE","detail":"Bad location","field":"location_id"}]}"#;
        match response_error(400, body) {
            AdapterError::Upstream(e) => {
                assert_eq!(
                    e.message,
                    "Square answered HTTP 400: INVALID_VALUE Bad location (field `location_id`)"
                );
                assert_eq!(e.status, Some(400));
                assert!(!e.retryable);
            }
            other => panic!("expected upstream, got {other:?}"),
        }
        for (status, retryable) in [
            (429, true),
            (503, true),
            (408, true),
            (401, false),
            (404, false),
        ] {
            match response_error(status, b"<html>oops</html>") {
                AdapterError::Upstream(e) => {
                    assert_eq!(e.retryable, retryable, "{status}");
                    assert!(e.message.contains("<html>oops</html>"), "{}", e.message);
                }
                other => panic!("expected upstream, got {other:?}"),
            }
        }
        assert_eq!(check(200, b"{}".to_vec()).expect("2xx"), b"{}".to_vec());
        assert!(parse_body(b"{", "SearchCatalogObjects").is_err());
    }
}
