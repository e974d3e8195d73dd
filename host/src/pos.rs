//! Host-side HTTP to a shop's POS on an adapter's behalf.
//!
//! The runtime's `pos-http` import decides *whether* a request may go out
//! (allowlist, path checks, credential headers stripped) and resolves it to
//! a full URL; a [`PosTransport`] only sends what was already allowed, and
//! is where a shop's POS credentials are injected.
//!
//! [`HttpPosTransport`] is the real one: one pooled HTTPS client per shop
//! that adds the shop's [`PosAuth`](crate::config::PosAuth), enforces the
//! shop's [`PosLimits`](crate::config::PosLimits) (rate, concurrency,
//! timeout, response size) and retries idempotent requests.
//!
//! ```no_run
//! # async fn demo(shop: &snapact_host::config::ShopConfig) -> anyhow::Result<()> {
//! use snapact_host::pos::{HttpPosTransport, PosMethod, PosRequest, PosTransport};
//!
//! let pos = HttpPosTransport::for_shop(shop)?;
//! let answer = pos
//!     .send(PosRequest {
//!         method: PosMethod::Get,
//!         url: "https://connect.squareup.com/v2/locations".parse()?,
//!         headers: vec![("accept".into(), "application/json".into())],
//!         body: Vec::new(),
//!         deadline: None,
//!     })
//!     .await?;
//! println!("HTTP {}", answer.status);
//! # Ok(()) }
//! ```

pub(crate) mod headers;
mod http;
mod limits;
mod retry;

pub use http::{HttpPosTransport, PosClientConfig, PosSetupError};
pub use retry::RetryPolicy;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use crate::config::ShopConfig;

/// HTTP method of a POS request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PosMethod {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl PosMethod {
    /// The method as HTTP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            PosMethod::Get => "GET",
            PosMethod::Post => "POST",
            PosMethod::Put => "PUT",
            PosMethod::Patch => "PATCH",
            PosMethod::Delete => "DELETE",
        }
    }

    /// Whether sending the request twice has the effect of sending it once
    /// (RFC 9110 §9.2.2), so a failed attempt may be repeated. POST and
    /// PATCH are not: a retried order could be created twice.
    pub fn is_idempotent(self) -> bool {
        matches!(self, PosMethod::Get | PosMethod::Put | PosMethod::Delete)
    }
}

/// A request the host allowed: the URL is resolved against the shop's POS
/// base URL and its host is in the adapter's allowlist; credential headers
/// the adapter set are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosRequest {
    /// Method.
    pub method: PosMethod,
    /// Full URL, query included.
    pub url: url::Url,
    /// Headers the adapter set, minus credential and hop-by-hop headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// When the caller stops waiting (the adapter call's deadline). A
    /// transport starts no wait or retry it could not finish by then, and
    /// hands back the last answer instead.
    pub deadline: Option<Instant>,
}

/// The POS's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Why a request got no answer. Never carries a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PosError {
    /// No answer in time.
    #[error("the POS did not answer in time")]
    Timeout,
    /// Could not connect, or the connection broke.
    #[error("could not reach the POS: {0}")]
    Connection(String),
    /// The response exceeded the size limit (bytes).
    #[error("the POS response exceeded {0} bytes")]
    ResponseTooLarge(u64),
    /// The shop's rate limit is exhausted.
    #[error("the shop's POS rate limit is exhausted")]
    RateLimited,
    /// The transport will not send this request (plain `http://` to a
    /// remote host, a header HTTP cannot carry); says why.
    #[error("the host refused to send the request: {0}")]
    Refused(String),
}

/// A boxed future, so `PosTransport` can be used as `dyn`.
pub type PosFuture<'a> = Pin<Box<dyn Future<Output = Result<PosResponse, PosError>> + Send + 'a>>;

/// Sends allowed requests to one shop's POS, adding that shop's credentials.
pub trait PosTransport: Send + Sync {
    /// Send `req` and wait for the answer.
    fn send(&self, req: PosRequest) -> PosFuture<'_>;
}

/// The shop's POS connection: an [`HttpPosTransport`] when it has a
/// `pos_base_url`, `None` when it makes no outbound calls.
pub fn transport_for(shop: &ShopConfig) -> Result<Option<Arc<dyn PosTransport>>, PosSetupError> {
    if shop.pos_base_url.is_none() {
        return Ok(None);
    }
    Ok(Some(Arc::new(HttpPosTransport::for_shop(shop)?)))
}

/// Whether `url`'s host is this machine: `localhost`, `127.0.0.0/8` or
/// `::1`. Plain `http://` is allowed only there, and only when the shop
/// sets `allow_insecure_http`.
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
