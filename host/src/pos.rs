//! Host-side HTTP to a shop's POS on an adapter's behalf.
//!
//! The runtime's `pos-http` import decides *whether* a request may go out
//! (allowlist, path checks, credential headers stripped) and resolves it to
//! a full URL; a [`PosTransport`] only sends what was already allowed, and
//! is where a shop's POS credentials are injected.

use std::future::Future;
use std::pin::Pin;

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

/// Why a request got no answer.
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
}

/// A boxed future, so `PosTransport` can be used as `dyn`.
pub type PosFuture<'a> = Pin<Box<dyn Future<Output = Result<PosResponse, PosError>> + Send + 'a>>;

/// Sends allowed requests to one shop's POS, adding that shop's credentials.
pub trait PosTransport: Send + Sync {
    /// Send `req` and wait for the answer.
    fn send(&self, req: PosRequest) -> PosFuture<'_>;
}
