//! Calls to the shop's POS, made by the host on the adapter's behalf.
//!
//! The host resolves `path` against the shop's POS base URL, refuses hosts
//! the manifest does not declare, and injects credentials: never set an
//! `Authorization` header yourself.

use crate::bindings::snapact::adapter::pos_http as wit;
use crate::{AdapterError, UpstreamError};
pub use wit::{HttpError, Method, Request, Response};

/// Send a request. Transport failures become `upstream` errors marked
/// retryable where a retry can help.
pub fn send(req: Request) -> Result<Response, AdapterError> {
    wit::send(&req).map_err(|e| AdapterError::Upstream(transport_error(e)))
}

/// `GET path?query`.
pub fn get(path: &str, query: &[(&str, &str)]) -> Result<Response, AdapterError> {
    send(Request {
        method: Method::Get,
        path: path.into(),
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        headers: vec![("accept".into(), "application/json".into())],
        body: Vec::new(),
    })
}

/// A request with a JSON body.
pub fn send_json(
    method: Method,
    path: &str,
    body: &serde_json::Value,
) -> Result<Response, AdapterError> {
    send(Request {
        method,
        path: path.into(),
        query: Vec::new(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("accept".into(), "application/json".into()),
        ],
        body: serde_json::to_vec(body).unwrap_or_default(),
    })
}

/// `Ok(response)` for a 2xx; otherwise an `upstream` error that carries the
/// status, is retryable for 408, 429 and 5xx, and quotes the start of the body.
pub fn ensure_success(resp: Response) -> Result<Response, AdapterError> {
    if (200..300).contains(&resp.status) {
        return Ok(resp);
    }
    let body = String::from_utf8_lossy(&resp.body);
    let snippet: String = body.chars().take(300).collect();
    Err(AdapterError::Upstream(UpstreamError {
        message: format!("POS answered HTTP {}: {snippet}", resp.status),
        status: Some(resp.status),
        retryable: matches!(resp.status, 408 | 429) || resp.status >= 500,
    }))
}

fn transport_error(e: HttpError) -> UpstreamError {
    let (message, retryable) = match e {
        HttpError::Denied(why) => (format!("the host refused the request: {why}"), false),
        HttpError::NotConfigured(why) => (format!("no POS connection configured: {why}"), false),
        HttpError::Timeout => ("the POS did not answer in time".to_string(), true),
        HttpError::Connection(why) => (format!("could not reach the POS: {why}"), true),
        HttpError::ResponseTooLarge(n) => (format!("the POS response exceeded {n} bytes"), false),
        HttpError::RateLimited => ("the shop's POS rate limit is exhausted".to_string(), true),
    };
    UpstreamError {
        message,
        status: None,
        retryable,
    }
}
