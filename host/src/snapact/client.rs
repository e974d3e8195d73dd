//! The SnapAct Connect HTTP client: one pooled `reqwest` client (rustls,
//! keep-alive), timeouts, the shop's key as a sensitive bearer header, and
//! the mapping from HTTP answers to [`SendError`].

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::wire::{self, ErrorBody, ItemStatus, UpsertRequest, UpsertResponse, WireItem};
use super::{CatalogSink, ItemOutcome, SendError, UpsertItem};

/// How to reach SnapAct Connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectConfig {
    /// `https://connect.snapact.io`, or the sandbox's URL.
    pub base_url: String,
    /// Limit for establishing a TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Limit for a whole request, answer included.
    pub request_timeout: Duration,
    /// Largest upsert batch (SnapAct's limit is [`wire::DEFAULT_BATCH_SIZE`]).
    pub batch_size: usize,
    /// Wait after a 429 without a readable `Retry-After`.
    pub default_retry_after: Duration,
}

impl ConnectConfig {
    /// Defaults: 5 s to connect, 30 s per request, batches of 100.
    pub fn new(base_url: impl Into<String>) -> Self {
        ConnectConfig {
            base_url: base_url.into(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            batch_size: wire::DEFAULT_BATCH_SIZE,
            default_retry_after: wire::DEFAULT_RETRY_AFTER,
        }
    }
}

/// Why a [`ConnectClient`] could not be built. Never contains the key.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `base_url` is not an absolute http(s) URL.
    #[error(
        "snapact.base_url {url:?} is not usable: {reason}; expected e.g. https://connect.snapact.io"
    )]
    BaseUrl {
        /// The configured value.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The key has characters an HTTP header cannot carry.
    #[error(
        "the SnapAct Connect API key contains characters that cannot be sent in an HTTP header \
         (check for a trailing newline or spaces in the secret)"
    )]
    Key,
    /// `batch_size` is 0 or above SnapAct's limit.
    #[error("batch_size {0} is out of range; use 1..={max}", max = wire::DEFAULT_BATCH_SIZE)]
    BatchSize(usize),
    /// The TLS/HTTP stack could not be set up.
    #[error("failed to build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// A shop's connection to SnapAct Connect. Cheap to clone; clones share the
/// connection pool. [`ConnectClient::with_key`] gives another shop's client
/// on the same pool.
#[derive(Clone)]
pub struct ConnectClient {
    http: reqwest::Client,
    upsert_url: Url,
    base: Url,
    auth: HeaderValue,
    batch_size: usize,
    default_retry_after: Duration,
}

impl std::fmt::Debug for ConnectClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectClient")
            .field("base", &self.base.as_str())
            .field("batch_size", &self.batch_size)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl ConnectClient {
    /// A client for one shop's `key`.
    pub fn new(config: &ConnectConfig, key: SecretString) -> Result<Self, ClientError> {
        if config.batch_size == 0 || config.batch_size > wire::DEFAULT_BATCH_SIZE {
            return Err(ClientError::BatchSize(config.batch_size));
        }
        let base = parse_base(&config.base_url)?;
        let upsert_url = endpoint(&base, wire::UPSERT_PATH, None);
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .user_agent(concat!("snapact-host/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(ConnectClient {
            http,
            upsert_url,
            base,
            auth: bearer(&key)?,
            batch_size: config.batch_size,
            default_retry_after: config.default_retry_after,
        })
    }

    /// The same SnapAct endpoint and connection pool with another shop's key.
    pub fn with_key(&self, key: SecretString) -> Result<Self, ClientError> {
        Ok(ConnectClient {
            auth: bearer(&key)?,
            ..self.clone()
        })
    }

    /// Upserts at most `batch_size` items; outcomes come back in the order of
    /// `items`.
    pub async fn upsert(&self, items: &[UpsertItem]) -> Result<Vec<ItemOutcome>, SendError> {
        if items.len() > self.batch_size {
            return Err(SendError::Permanent(format!(
                "a batch of {} items exceeds the batch size {}",
                items.len(),
                self.batch_size
            )));
        }
        let body = UpsertRequest {
            items: items
                .iter()
                .map(|u| WireItem::new(&u.item, u.verified_at))
                .collect(),
        };
        let response = self
            .http
            .post(self.upsert_url.clone())
            .header(AUTHORIZATION, self.auth.clone())
            .json(&body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.refusal(response).await);
        }
        let bytes = response.bytes().await.map_err(transport)?;
        let answer: UpsertResponse = serde_json::from_slice(&bytes).map_err(|e| {
            SendError::Permanent(format!(
                "SnapAct answered HTTP {} with a body that is not an upsert result ({e}): {}",
                status.as_u16(),
                excerpt(&bytes)
            ))
        })?;
        Ok(match_results(items, answer))
    }

    /// Deletes one item. 404 means SnapAct does not have it: already deleted.
    pub async fn delete(&self, external_ref: &str) -> Result<(), SendError> {
        let url = endpoint(&self.base, wire::DELETE_PATH_PREFIX, Some(external_ref));
        let response = self
            .http
            .delete(url)
            .header(AUTHORIZATION, self.auth.clone())
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            // Drain so the connection goes back to the pool.
            response.bytes().await.map_err(transport)?;
            return Ok(());
        }
        Err(self.refusal(response).await)
    }

    async fn refusal(&self, response: reqwest::Response) -> SendError {
        let status = response.status();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SendError::Unauthorized {
                status: status.as_u16(),
            },
            StatusCode::TOO_MANY_REQUESTS => {
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| wire::parse_retry_after(v, SystemTime::now()))
                    .unwrap_or(self.default_retry_after);
                SendError::RateLimited { retry_after }
            }
            s if s.is_server_error() => {
                let body = response.bytes().await.unwrap_or_default();
                SendError::Transient(format!("HTTP {}: {}", s.as_u16(), reason(&body)))
            }
            s => {
                let body = response.bytes().await.unwrap_or_default();
                SendError::Permanent(format!("HTTP {}: {}", s.as_u16(), reason(&body)))
            }
        }
    }
}

impl CatalogSink for ConnectClient {
    async fn upsert(&self, items: &[UpsertItem]) -> Result<Vec<ItemOutcome>, SendError> {
        ConnectClient::upsert(self, items).await
    }

    async fn delete(&self, external_ref: &str) -> Result<(), SendError> {
        ConnectClient::delete(self, external_ref).await
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }
}

fn parse_base(raw: &str) -> Result<Url, ClientError> {
    let err = |reason: &str| ClientError::BaseUrl {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw).map_err(|e| err(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err("the scheme must be http or https"));
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(err("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err("it must not have a query or fragment"));
    }
    Ok(url)
}

/// `base` + the fixed `path` (+ one percent-encoded segment), keeping any
/// path prefix `base` has (a reverse proxy mount).
fn endpoint(base: &Url, path: &str, segment: Option<&str>) -> Url {
    let mut url = base.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty();
        segments.extend(path.split('/').filter(|s| !s.is_empty()));
        if let Some(segment) = segment {
            segments.push(segment);
        }
    }
    url
}

fn bearer(key: &SecretString) -> Result<HeaderValue, ClientError> {
    let value = Zeroizing::new(format!("Bearer {}", key.expose_secret().trim()));
    let mut header = HeaderValue::from_str(&value).map_err(|_| ClientError::Key)?;
    header.set_sensitive(true);
    Ok(header)
}

fn transport(e: reqwest::Error) -> SendError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the connection dropped while reading the answer"
    } else {
        "the request failed"
    };
    SendError::Transient(format!("{what}: {}", error_chain(&e)))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// SnapAct's `{"error": ...}` message, or a short excerpt of the body.
fn reason(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => b.error,
        Err(_) if body.is_empty() => "no body".to_owned(),
        Err(_) => excerpt(body),
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut cut: String = text.chars().take(200).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

fn match_results(items: &[UpsertItem], answer: UpsertResponse) -> Vec<ItemOutcome> {
    let mut by_ref: HashMap<String, Vec<(ItemStatus, Option<String>)>> = HashMap::new();
    for r in answer.results {
        by_ref
            .entry(r.external_ref)
            .or_default()
            .push((r.status, r.error));
    }
    // Results for the same ref (the batch never holds two, but be exact) are
    // consumed in order.
    for v in by_ref.values_mut() {
        v.reverse();
    }
    items
        .iter()
        .map(
            |u| match by_ref.get_mut(&u.item.external_ref).and_then(Vec::pop) {
                Some((ItemStatus::Upserted, _)) => ItemOutcome::Accepted,
                Some((ItemStatus::Rejected, error)) => ItemOutcome::Rejected(
                    error.unwrap_or_else(|| "rejected by SnapAct without a reason".to_owned()),
                ),
                None => ItemOutcome::Missing,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_a_base_path_and_encode_the_ref() {
        let base = parse_base("https://example.test/api/").expect("valid");
        assert_eq!(
            endpoint(&base, wire::UPSERT_PATH, None).as_str(),
            "https://example.test/api/connect/v1/catalog/items"
        );
        assert_eq!(
            endpoint(&base, wire::DELETE_PATH_PREFIX, Some("a/b c?")).as_str(),
            "https://example.test/api/connect/v1/catalog/items/a%2Fb%20c%3F"
        );
        assert!(matches!(
            parse_base("ftp://x"),
            Err(ClientError::BaseUrl { .. })
        ));
        assert!(matches!(
            parse_base("not a url"),
            Err(ClientError::BaseUrl { .. })
        ));
    }

    #[test]
    fn the_key_never_shows_in_debug_or_errors() {
        let client = ConnectClient::new(
            &ConnectConfig::new("http://127.0.0.1:9"),
            SecretString::from("sk_live_very_secret"),
        )
        .expect("builds");
        let debug = format!("{client:?}");
        assert!(!debug.contains("very_secret"), "{debug}");
        assert!(client.auth.is_sensitive());
        let err = ConnectClient::new(
            &ConnectConfig::new("http://127.0.0.1:9"),
            SecretString::from("sk\nvery_secret"),
        )
        .expect_err("newline is not a header value");
        assert!(!err.to_string().contains("very_secret"));
    }

    #[tokio::test]
    async fn transport_failures_are_transient() {
        // Port 9 (discard) on localhost is closed in test environments;
        // whatever the cause, it must not be classified as permanent.
        let mut cfg = ConnectConfig::new("http://127.0.0.1:9");
        cfg.connect_timeout = Duration::from_secs(2);
        let client = ConnectClient::new(&cfg, SecretString::from("k")).expect("builds");
        let err = client.delete("x").await.expect_err("nothing listens");
        assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    }
}
