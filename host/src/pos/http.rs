//! [`HttpPosTransport`]: the real outbound POS client, one per shop.
//!
//! - One pooled `reqwest` client (rustls, keep-alive) per shop.
//! - The shop's credential ([`PosAuth`]) is added to every request as a
//!   sensitive header, after every credential, cookie or API-key header
//!   the request carried is dropped (again: the `pos-http` import already
//!   dropped them).
//! - `https` only; plain `http` only to this machine and only when the shop
//!   sets `allow_insecure_http`.
//! - Redirects are not followed: a 3xx goes back to the adapter as it is,
//!   and a request to the `Location` it names passes the allowlist like any
//!   other. Following them here would send the shop's credential to
//!   whatever host the POS (or whoever answers in its name) points at.
//! - Every attempt waits for the shop's rate limit and a concurrency slot,
//!   then has `timeout_ms` to complete; the body is read in chunks and the
//!   read stops at `max_response_mb`.
//! - Idempotent methods are retried (see [`super::retry`]).
//! - Logs carry method, host, path (never the query: it may hold tokens),
//!   status, latency and attempt; never headers or bodies.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use tokio::time::Instant;
use zeroize::Zeroizing;

use super::limits::Admission;
use super::retry::{self, RetryPolicy};
use super::{PosError, PosFuture, PosMethod, PosRequest, PosResponse, PosTransport, headers};
use crate::config::{PosAuth, PosLimits, ShopConfig};

/// How one shop's [`HttpPosTransport`] behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct PosClientConfig {
    /// Rate, concurrency, timeout and size limits (`[[shop]] pos_limits`).
    pub limits: PosLimits,
    /// Allow plain `http://` to this machine (`allow_insecure_http`).
    pub allow_insecure_http: bool,
    /// Limit for establishing a connection (capped by the timeout).
    pub connect_timeout: Duration,
    /// Retries of idempotent requests.
    pub retry: RetryPolicy,
}

impl PosClientConfig {
    /// The shop's configured limits, with the default connect timeout
    /// (5 s) and retry policy.
    pub fn for_shop(shop: &ShopConfig) -> Self {
        PosClientConfig {
            limits: shop.pos_limits,
            allow_insecure_http: shop.allow_insecure_http,
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }
}

/// Why a shop's POS client could not be set up. Names the config key;
/// never contains the credential.
#[derive(Debug, thiserror::Error)]
pub enum PosSetupError {
    /// The credential has characters an HTTP header cannot carry.
    #[error(
        "shop[{shop}].{key}: the credential cannot be sent in an HTTP header: \
         check the secret for a line break or other control characters"
    )]
    Credential {
        /// Shop id.
        shop: String,
        /// The config key of the secret.
        key: &'static str,
    },
    /// `pos_auth.header.name` is not a header name.
    #[error("shop[{shop}].pos_auth.header.name: {name:?} is not an HTTP header name")]
    HeaderName {
        /// Shop id.
        shop: String,
        /// The configured name.
        name: String,
    },
    /// Basic auth user names cannot contain `:` (RFC 7617).
    #[error("shop[{shop}].pos_auth.basic.username: a user name for basic auth cannot contain ':'")]
    Username {
        /// Shop id.
        shop: String,
    },
    /// The TLS/HTTP stack could not be set up.
    #[error("shop {shop}: failed to build the POS HTTP client: {source}")]
    Client {
        /// Shop id.
        shop: String,
        /// Why.
        source: reqwest::Error,
    },
}

/// The shop's credential as a ready, sensitive header.
struct Credential {
    name: HeaderName,
    value: HeaderValue,
    kind: &'static str,
    /// The secret's forms as they could come back in a response (the token,
    /// the password, the encoded pair): scrubbed before the adapter sees it.
    echoes: Vec<Zeroizing<Vec<u8>>>,
}

/// Shorter secrets are not scrubbed: they would match ordinary text.
const MIN_SCRUBBED: usize = 6;
const REDACTED: &[u8] = b"[redacted]";

/// Replaces every occurrence of `needle` in `hay`; `true` when one was found.
fn scrub(hay: &mut Vec<u8>, needle: &[u8]) -> bool {
    if needle.len() < MIN_SCRUBBED || memchr::memmem::find(hay, needle).is_none() {
        return false;
    }
    let mut out = Vec::with_capacity(hay.len());
    let mut last = 0;
    for at in memchr::memmem::find_iter(hay, needle) {
        if at < last {
            continue;
        }
        out.extend_from_slice(&hay[last..at]);
        out.extend_from_slice(REDACTED);
        last = at + needle.len();
    }
    out.extend_from_slice(&hay[last..]);
    *hay = out;
    true
}

/// Sends one shop's allowed `pos-http` requests to its POS. See the module
/// documentation for what it guarantees.
pub struct HttpPosTransport {
    shop: Arc<str>,
    client: reqwest::Client,
    credential: Option<Credential>,
    allow_insecure_http: bool,
    admission: Admission,
    timeout: Duration,
    max_response_bytes: u64,
    retry: RetryPolicy,
}

impl std::fmt::Debug for HttpPosTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpPosTransport")
            .field("shop", &self.shop)
            .field(
                "credential",
                &self.credential.as_ref().map(|c| (c.kind, c.name.as_str())),
            )
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl HttpPosTransport {
    /// The transport for `shop` as configured.
    pub fn for_shop(shop: &ShopConfig) -> Result<Self, PosSetupError> {
        Self::new(
            &shop.id,
            &PosClientConfig::for_shop(shop),
            shop.pos_auth.as_ref(),
        )
    }

    /// A transport for shop `shop`, authenticating with `auth`.
    pub fn new(
        shop: &str,
        config: &PosClientConfig,
        auth: Option<&PosAuth>,
    ) -> Result<Self, PosSetupError> {
        let credential = auth.map(|a| credential(shop, a)).transpose()?;
        let limits = &config.limits;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout.min(limits.timeout))
            .timeout(limits.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .https_only(!config.allow_insecure_http)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(limits.concurrency)
            .tcp_nodelay(true)
            .user_agent(concat!("snapact-host/", env!("CARGO_PKG_VERSION")));
        if config.allow_insecure_http {
            // Plain http goes to this machine only; a system proxy would
            // see the credential in clear.
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|source| PosSetupError::Client {
            shop: shop.to_string(),
            source,
        })?;
        Ok(HttpPosTransport {
            shop: shop.into(),
            client,
            credential,
            allow_insecure_http: config.allow_insecure_http,
            admission: Admission::new(limits.requests_per_sec, limits.burst, limits.concurrency),
            timeout: limits.timeout,
            max_response_bytes: limits.max_response_bytes,
            retry: config.retry,
        })
    }

    async fn send_allowed(&self, req: PosRequest) -> Result<PosResponse, PosError> {
        let target = Target::of(&req);
        let prepared = self
            .check_url(&req.url)
            .and_then(|()| self.headers(&req.headers));
        let headers = match prepared {
            Ok(headers) => headers,
            Err(e) => {
                tracing::warn!(shop = %self.shop, method = target.method.as_str(), host = %target.host,
                    path = %target.path, error = %e, "POS request refused");
                return Err(e);
            }
        };
        let body = Bytes::from(req.body);
        let deadline = req.deadline.map(Instant::from_std);
        let (target, url, headers, body) = (&target, &req.url, &headers, &body);
        retry::run(
            &self.retry,
            req.method,
            deadline,
            |n| self.attempt(target, url, headers, body, deadline, n),
            |n, wait, reason| {
                tracing::info!(shop = %self.shop, method = target.method.as_str(), host = %target.host,
                    path = %target.path, attempt = n, wait_ms = wait.as_millis(),
                    "retrying POS request after {reason}");
            },
        )
        .await
    }

    /// One attempt: wait for admission, send, read the answer.
    async fn attempt(
        &self,
        target: &Target,
        url: &url::Url,
        headers: &HeaderMap,
        body: &Bytes,
        deadline: Option<Instant>,
        n: u32,
    ) -> Result<PosResponse, PosError> {
        let now = Instant::now();
        let until = deadline.map_or(now + self.timeout, |d| d.min(now + self.timeout));
        let slot = self.admission.admit(until).await;
        let _slot = match slot {
            Ok(slot) => slot,
            Err(e) => {
                tracing::warn!(shop = %self.shop, method = target.method.as_str(), host = %target.host,
                    path = %target.path, attempt = n, "POS request not sent: {e}");
                return Err(e);
            }
        };
        let started = Instant::now();
        let timeout = deadline.map_or(self.timeout, |d| {
            self.timeout.min(d.saturating_duration_since(started))
        });
        let outcome = self
            .exchange(target.method, url, headers, body, timeout)
            .await;
        let latency_ms = started.elapsed().as_millis();
        match &outcome {
            Ok(resp) => {
                tracing::debug!(shop = %self.shop, method = target.method.as_str(), host = %target.host,
                    path = %target.path, status = resp.status, latency_ms, attempt = n, "POS request")
            }
            Err(e) => {
                tracing::warn!(shop = %self.shop, method = target.method.as_str(), host = %target.host,
                    path = %target.path, latency_ms, attempt = n, "POS request failed: {e}")
            }
        }
        outcome
    }

    async fn exchange(
        &self,
        method: PosMethod,
        url: &url::Url,
        headers: &HeaderMap,
        body: &Bytes,
        timeout: Duration,
    ) -> Result<PosResponse, PosError> {
        if timeout.is_zero() {
            return Err(PosError::Timeout);
        }
        let mut request = self
            .client
            .request(http_method(method), url.clone())
            .headers(headers.clone())
            .timeout(timeout);
        if !body.is_empty() || !matches!(method, PosMethod::Get | PosMethod::Delete) {
            request = request.body(body.clone());
        }
        let mut response = request.send().await.map_err(transport_error)?;
        let limit = self.max_response_bytes;
        let declared = response.content_length();
        if declared.is_some_and(|n| n > limit) {
            return Err(PosError::ResponseTooLarge(limit));
        }
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter(|(name, _)| !headers::withheld_from_adapter(name.as_str()))
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body =
            Vec::with_capacity(declared.map_or(0, |n| usize::try_from(n.min(limit)).unwrap_or(0)));
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if (body.len() as u64).saturating_add(chunk.len() as u64) > limit {
                return Err(PosError::ResponseTooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        let mut response = PosResponse {
            status,
            headers,
            body,
        };
        self.scrub_echoes(&mut response);
        Ok(response)
    }

    /// A POS (or an endpoint an adapter chose because it echoes requests)
    /// must not hand the shop's credential to the adapter: any copy of it in
    /// the answer is replaced before the adapter sees the response.
    fn scrub_echoes(&self, response: &mut PosResponse) {
        let Some(credential) = &self.credential else {
            return;
        };
        let mut found = false;
        for echo in &credential.echoes {
            found |= scrub(&mut response.body, echo);
            for (_, value) in &mut response.headers {
                let mut bytes = std::mem::take(value).into_bytes();
                found |= scrub(&mut bytes, echo);
                *value = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
        if found {
            tracing::warn!(shop = %self.shop, kind = credential.kind,
                "the POS answer contained the shop's credential; it was redacted before the adapter saw it");
        }
    }

    /// `https` anywhere; plain `http` only to this machine, and only when
    /// the shop allows it; never credentials in the URL.
    fn check_url(&self, url: &url::Url) -> Result<(), PosError> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err(PosError::Refused(
                "the URL carries a user name or password; POS credentials belong in the shop's pos_auth"
                    .into(),
            ));
        }
        match url.scheme() {
            "https" => Ok(()),
            "http" if self.allow_insecure_http && super::is_loopback(url) => Ok(()),
            "http" if self.allow_insecure_http => Err(PosError::Refused(format!(
                "plain http to `{}` is not allowed: allow_insecure_http permits only this machine \
                 (localhost, 127.0.0.1, [::1]); use https",
                url.host_str().unwrap_or_default()
            ))),
            "http" => Err(PosError::Refused(
                "plain http is not allowed: the POS must be reached over https".into(),
            )),
            other => Err(PosError::Refused(format!(
                "scheme `{other}` is not allowed; use https"
            ))),
        }
    }

    /// The adapter's headers minus anything credential-like, plus the
    /// shop's credential.
    fn headers(&self, from_adapter: &[(String, String)]) -> Result<HeaderMap, PosError> {
        let mut map = HeaderMap::with_capacity(from_adapter.len() + 1);
        for (name, value) in from_adapter {
            let ours = self
                .credential
                .as_ref()
                .is_some_and(|c| c.name.as_str().eq_ignore_ascii_case(name));
            if ours || headers::forbidden(name) {
                continue;
            }
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                PosError::Refused(format!("{name:?} is not a valid HTTP header name"))
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                PosError::Refused(format!(
                    "the value of header `{header}` has characters HTTP does not allow"
                ))
            })?;
            map.append(header, value);
        }
        if let Some(c) = &self.credential {
            map.insert(c.name.clone(), c.value.clone());
        }
        Ok(map)
    }
}

impl PosTransport for HttpPosTransport {
    fn send(&self, req: PosRequest) -> PosFuture<'_> {
        Box::pin(self.send_allowed(req))
    }
}

/// What the logs say about a request: no query, no headers, no body.
struct Target {
    method: PosMethod,
    host: String,
    path: String,
}

impl Target {
    fn of(req: &PosRequest) -> Self {
        let host = req.url.host_str().unwrap_or_default();
        Target {
            method: req.method,
            host: match req.url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            },
            path: req.url.path().to_string(),
        }
    }
}

fn http_method(m: PosMethod) -> reqwest::Method {
    match m {
        PosMethod::Get => reqwest::Method::GET,
        PosMethod::Post => reqwest::Method::POST,
        PosMethod::Put => reqwest::Method::PUT,
        PosMethod::Patch => reqwest::Method::PATCH,
        PosMethod::Delete => reqwest::Method::DELETE,
    }
}

fn credential(shop: &str, auth: &PosAuth) -> Result<Credential, PosSetupError> {
    let sensitive = |text: &str, key: &'static str| {
        let mut value = HeaderValue::from_str(text).map_err(|_| PosSetupError::Credential {
            shop: shop.to_string(),
            key,
        })?;
        value.set_sensitive(true);
        Ok(value)
    };
    Ok(match auth {
        PosAuth::Bearer(token) => {
            let text = Zeroizing::new(format!("Bearer {}", token.expose_secret().trim()));
            Credential {
                name: AUTHORIZATION,
                value: sensitive(&text, "pos_auth.bearer")?,
                kind: "bearer",
                echoes: vec![Zeroizing::new(
                    token.expose_secret().trim().as_bytes().to_vec(),
                )],
            }
        }
        PosAuth::Basic { username, password } => {
            if username.contains(':') {
                return Err(PosSetupError::Username {
                    shop: shop.to_string(),
                });
            }
            let pair = Zeroizing::new(format!("{username}:{}", password.expose_secret()));
            let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*pair));
            let text = Zeroizing::new(format!("Basic {}", &*encoded));
            Credential {
                name: AUTHORIZATION,
                value: sensitive(&text, "pos_auth.basic.password")?,
                kind: "basic",
                echoes: vec![
                    Zeroizing::new(password.expose_secret().as_bytes().to_vec()),
                    Zeroizing::new(encoded.as_bytes().to_vec()),
                ],
            }
        }
        PosAuth::Header { name, value } => {
            let header =
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| PosSetupError::HeaderName {
                    shop: shop.to_string(),
                    name: name.clone(),
                })?;
            Credential {
                name: header,
                value: sensitive(value.expose_secret().trim(), "pos_auth.header.value")?,
                kind: "header",
                echoes: vec![Zeroizing::new(
                    value.expose_secret().trim().as_bytes().to_vec(),
                )],
            }
        }
    })
}

/// A transport failure as the adapter sees it. The URL is left out (its
/// query may hold tokens); so are headers, which reqwest never puts in
/// errors.
fn transport_error(e: reqwest::Error) -> PosError {
    if e.is_timeout() {
        return PosError::Timeout;
    }
    let what = if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the connection broke while reading the answer"
    } else {
        "the request failed"
    };
    let e = e.without_url();
    let mut message = format!("{what}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    PosError::Connection(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Backoff;
    use axum::Router;
    use axum::body::Body;
    use axum::extract::State;
    use axum::http::{HeaderMap as AxumHeaders, StatusCode};
    use axum::response::Response;
    use secrecy::SecretString;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::Semaphore;

    const LIMIT: u64 = 1000;

    /// A fake POS on 127.0.0.1. What it does depends on the path.
    struct FakePos {
        /// (method, path and query, headers) of every request, in order.
        seen: Mutex<Vec<(String, String, AxumHeaders)>>,
        hits: Mutex<HashMap<String, usize>>,
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
        released: AtomicUsize,
        /// `/hold` waits here for a permit.
        gate: Semaphore,
    }

    impl FakePos {
        fn new() -> Self {
            FakePos {
                seen: Mutex::default(),
                hits: Mutex::default(),
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
                released: AtomicUsize::new(0),
                gate: Semaphore::new(0),
            }
        }

        fn hits(&self, path: &str) -> usize {
            self.hits
                .lock()
                .expect("lock")
                .get(path)
                .copied()
                .unwrap_or(0)
        }

        fn seen(&self) -> Vec<(String, String, AxumHeaders)> {
            self.seen.lock().expect("lock").clone()
        }
    }

    async fn fake_pos(State(pos): State<Arc<FakePos>>, req: axum::extract::Request) -> Response {
        let path = req.uri().path().to_string();
        let hit = {
            let mut hits = pos.hits.lock().expect("lock");
            let n = hits.entry(path.clone()).or_default();
            *n += 1;
            *n
        };
        pos.seen.lock().expect("lock").push((
            req.method().to_string(),
            req.uri().to_string(),
            req.headers().clone(),
        ));
        let answer = |status: StatusCode, body: Vec<u8>| {
            Response::builder()
                .status(status)
                .body(Body::from(body))
                .expect("response")
        };
        match path.as_str() {
            "/ok" => Response::builder()
                .header("set-cookie", "pos_session=abc")
                .header("x-request-id", "r-1")
                .body(Body::from("ok"))
                .expect("response"),
            "/flaky" if hit < 3 => answer(StatusCode::SERVICE_UNAVAILABLE, b"busy".to_vec()),
            "/unavailable" => answer(StatusCode::SERVICE_UNAVAILABLE, b"busy".to_vec()),
            "/slow-down" if hit == 1 => Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                .header("retry-after", "0")
                .body(Body::empty())
                .expect("response"),
            "/big" => answer(StatusCode::OK, vec![b'x'; 2 * LIMIT as usize]),
            "/exact" => answer(StatusCode::OK, vec![b'x'; LIMIT as usize]),
            // An endpoint that reflects the request, as some debugging APIs do.
            "/echo" => {
                let mut reflected = String::new();
                for (name, value) in req.headers() {
                    reflected.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or("")));
                }
                let auth = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                Response::builder()
                    .header("x-echo-authorization", auth)
                    .body(Body::from(reflected))
                    .expect("response")
            }
            "/hang" => std::future::pending().await,
            "/hold" => {
                let now = pos.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                pos.max_in_flight.fetch_max(now, Ordering::SeqCst);
                pos.gate.acquire().await.expect("gate").forget();
                pos.in_flight.fetch_sub(1, Ordering::SeqCst);
                pos.released.fetch_add(1, Ordering::SeqCst);
                answer(StatusCode::OK, Vec::new())
            }
            "/redirect" => Response::builder()
                .status(StatusCode::FOUND)
                .header("location", "http://127.0.0.1:9/steal")
                .body(Body::empty())
                .expect("response"),
            _ => answer(StatusCode::OK, b"{}".to_vec()),
        }
    }

    async fn start_fake_pos() -> (String, Arc<FakePos>) {
        let pos = Arc::new(FakePos::new());
        let router = Router::new()
            .fallback(fake_pos)
            .with_state(Arc::clone(&pos));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, router).await });
        (format!("http://{addr}"), pos)
    }

    fn config() -> PosClientConfig {
        PosClientConfig {
            limits: PosLimits {
                requests_per_sec: 1000.0,
                burst: 1000,
                concurrency: 4,
                timeout: Duration::from_secs(60),
                max_response_bytes: LIMIT,
            },
            allow_insecure_http: true,
            connect_timeout: Duration::from_secs(60),
            retry: RetryPolicy {
                max_attempts: 3,
                backoff: Backoff {
                    base: Duration::from_millis(1),
                    cap: Duration::from_millis(1),
                },
                max_retry_after: Duration::from_secs(10),
            },
        }
    }

    fn bearer() -> PosAuth {
        PosAuth::Bearer(SecretString::from("host-token-7f3a"))
    }

    fn transport(config: &PosClientConfig, auth: Option<&PosAuth>) -> HttpPosTransport {
        HttpPosTransport::new("lagos-main", config, auth).expect("transport")
    }

    #[tokio::test]
    async fn a_pos_echoing_the_credential_never_hands_it_to_the_adapter() {
        let (base, _pos) = start_fake_pos().await;
        let cases = [
            (
                PosAuth::Bearer(SecretString::from("host-token-7f3a")),
                "host-token-7f3a",
            ),
            (
                PosAuth::Basic {
                    username: "merchant".into(),
                    password: SecretString::from("host-pass-9c1"),
                },
                "bWVyY2hhbnQ6aG9zdC1wYXNzLTljMQ==",
            ),
            (
                PosAuth::Header {
                    name: "X-Shop-Key".into(),
                    value: SecretString::from("host-shop-key-51"),
                },
                "host-shop-key-51",
            ),
        ];
        for (auth, secret) in cases {
            let t = transport(&config(), Some(&auth));
            let resp = t
                .send(request(PosMethod::Get, &format!("{base}/echo")))
                .await
                .expect("answered");
            let body = String::from_utf8_lossy(&resp.body).to_string();
            assert!(body.contains("[redacted]"), "{body}");
            assert!(!body.contains(secret), "{body}");
            for (name, value) in &resp.headers {
                assert!(!value.contains(secret), "{name}: {value}");
            }
        }
    }

    #[test]
    fn scrub_replaces_every_copy_and_leaves_short_needles() {
        let mut hay = b"a=tok123456;b=tok123456".to_vec();
        assert!(scrub(&mut hay, b"tok123456"));
        assert_eq!(hay, b"a=[redacted];b=[redacted]");
        let mut hay = b"abc".to_vec();
        assert!(!scrub(&mut hay, b"abc"), "too short to scrub safely");
    }

    /// A request carrying every credential a hostile adapter might try.
    fn request(method: PosMethod, url: &str) -> PosRequest {
        PosRequest {
            method,
            url: url.parse().expect("url"),
            headers: vec![
                ("Authorization".into(), "Bearer guest-token".into()),
                ("Cookie".into(), "session=guest".into()),
                ("X-Api-Key".into(), "guest-key".into()),
                ("X-Shop-Key".into(), "guest-shop-key".into()),
                ("Square-Version".into(), "2025-01-23".into()),
            ],
            body: Vec::new(),
            deadline: None,
        }
    }

    fn values(headers: &AxumHeaders, name: &str) -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().expect("ascii").to_string())
            .collect()
    }

    #[tokio::test]
    async fn the_shops_credential_arrives_and_the_adapters_never_do() {
        let (base, pos) = start_fake_pos().await;
        let basic = base64::engine::general_purpose::STANDARD.encode("merchant:host-pass-9c1");
        let cases = [
            (
                PosAuth::Bearer(SecretString::from("host-token-7f3a\n")),
                "authorization",
                "Bearer host-token-7f3a".to_string(),
            ),
            (
                PosAuth::Basic {
                    username: "merchant".into(),
                    password: SecretString::from("host-pass-9c1"),
                },
                "authorization",
                format!("Basic {basic}"),
            ),
            (
                PosAuth::Header {
                    name: "X-Shop-Key".into(),
                    value: SecretString::from("host-shop-key-51"),
                },
                "x-shop-key",
                "host-shop-key-51".to_string(),
            ),
        ];
        for (i, (auth, header, expected)) in cases.iter().enumerate() {
            let t = transport(&config(), Some(auth));
            let resp = t
                .send(request(PosMethod::Get, &format!("{base}/ok")))
                .await
                .expect("answered");
            assert_eq!(resp.status, 200);
            let (_, _, headers) = pos.seen().pop().expect("a request");
            assert_eq!(pos.seen().len(), i + 1);
            assert_eq!(values(&headers, header), [expected.as_str()], "{auth:?}");
            if *header != "authorization" {
                assert!(values(&headers, "authorization").is_empty(), "{auth:?}");
            }
            if *header != "x-shop-key" {
                // Only the shop's own header name is a credential here.
                assert_eq!(values(&headers, "x-shop-key"), ["guest-shop-key"]);
            }
            assert!(values(&headers, "cookie").is_empty(), "{auth:?}");
            assert!(values(&headers, "x-api-key").is_empty(), "{auth:?}");
            assert_eq!(values(&headers, "square-version"), ["2025-01-23"]);
        }
        // Without pos_auth nothing credential-like goes out at all.
        let t = transport(&config(), None);
        t.send(request(PosMethod::Get, &format!("{base}/ok")))
            .await
            .expect("answered");
        let (_, _, headers) = pos.seen().pop().expect("a request");
        for name in ["authorization", "cookie", "x-api-key"] {
            assert!(values(&headers, name).is_empty(), "{name}");
        }
    }

    #[tokio::test]
    async fn answers_come_back_without_cookies_and_redirects_are_not_followed() {
        let (base, pos) = start_fake_pos().await;
        let t = transport(&config(), Some(&bearer()));
        let resp = t
            .send(request(PosMethod::Get, &format!("{base}/ok")))
            .await
            .expect("answered");
        assert_eq!(resp.body, b"ok");
        let names: Vec<&str> = resp.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names.contains(&"x-request-id"), "{names:?}");
        assert!(!names.contains(&"set-cookie"), "{names:?}");

        let resp = t
            .send(request(PosMethod::Get, &format!("{base}/redirect")))
            .await
            .expect("answered");
        assert_eq!(resp.status, 302, "handed back, not followed");
        assert_eq!(pos.hits("/redirect"), 1);
        assert_eq!(pos.hits("/steal"), 0);
    }

    #[tokio::test]
    async fn plain_http_goes_only_to_this_machine_and_only_when_allowed() {
        let strict = transport(
            &PosClientConfig {
                allow_insecure_http: false,
                ..config()
            },
            Some(&bearer()),
        );
        let refused = |r: Result<PosResponse, PosError>| match r {
            Err(PosError::Refused(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        };
        let why = refused(
            strict
                .send(request(PosMethod::Get, "http://127.0.0.1:9/x"))
                .await,
        );
        assert!(why.contains("https"), "{why}");
        let lax = transport(&config(), Some(&bearer()));
        for url in [
            "http://pos.example.com/x",
            "http://10.0.0.8:8080/x",
            "ftp://127.0.0.1/x",
            "https://user:pw@pos.example.com/x",
        ] {
            let why = refused(lax.send(request(PosMethod::Get, url)).await);
            assert!(!why.contains("host-token"), "{why}");
        }
        let mut bad = request(PosMethod::Get, "http://127.0.0.1:9/x");
        bad.headers.push(("x-note".into(), "line\nbreak".into()));
        let why = refused(lax.send(bad).await);
        assert!(why.contains("x-note"), "{why}");
    }

    #[tokio::test]
    async fn a_response_over_the_limit_is_cut_off() {
        let (base, _pos) = start_fake_pos().await;
        let t = transport(&config(), Some(&bearer()));
        let resp = t
            .send(request(PosMethod::Get, &format!("{base}/exact")))
            .await
            .expect("exactly the limit is fine");
        assert_eq!(resp.body.len() as u64, LIMIT);
        // Declared too large up front.
        let err = t
            .send(request(PosMethod::Get, &format!("{base}/big")))
            .await
            .expect_err("too large");
        assert_eq!(err, PosError::ResponseTooLarge(LIMIT));

        // No declared length: chunks, cut once they pass the limit.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.expect("accept");
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).await.expect("read");
                if n == 0 {
                    return;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let mut answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
            for _ in 0..10 {
                answer.extend_from_slice(b"190\r\n");
                answer.extend_from_slice(&[b'y'; 400]);
                answer.extend_from_slice(b"\r\n");
            }
            answer.extend_from_slice(b"0\r\n\r\n");
            // The client may hang up once it has seen enough.
            let _ = conn.write_all(&answer).await;
            let _ = conn.read(&mut buf).await;
        });
        let err = t
            .send(request(PosMethod::Post, &format!("http://{addr}/stream")))
            .await
            .expect_err("too large");
        assert_eq!(err, PosError::ResponseTooLarge(LIMIT));
    }

    #[tokio::test]
    async fn a_pos_that_never_answers_times_out() {
        let (base, pos) = start_fake_pos().await;
        let short = PosClientConfig {
            limits: PosLimits {
                timeout: Duration::from_millis(200),
                ..config().limits
            },
            ..config()
        };
        let t = transport(&short, Some(&bearer()));
        let err = t
            .send(request(PosMethod::Post, &format!("{base}/hang")))
            .await
            .expect_err("no answer");
        assert_eq!(err, PosError::Timeout);
        let err = t
            .send(request(PosMethod::Get, &format!("{base}/hang")))
            .await
            .expect_err("no answer");
        assert_eq!(err, PosError::Timeout);
        // A request the server never received cannot be counted; one it
        // received more often than attempts were made would be a bug.
        assert!(pos.hits("/hang") <= 4, "{}", pos.hits("/hang"));
    }

    #[tokio::test]
    async fn a_deadline_already_passed_is_a_timeout_without_a_request() {
        let (base, pos) = start_fake_pos().await;
        let t = transport(&config(), Some(&bearer()));
        let mut req = request(PosMethod::Get, &format!("{base}/ok"));
        req.deadline = Some(std::time::Instant::now());
        assert_eq!(t.send(req).await, Err(PosError::Timeout));
        assert_eq!(pos.hits("/ok"), 0);
    }

    #[tokio::test]
    async fn no_more_than_the_concurrency_limit_reach_the_pos() {
        const LIMIT_IN_FLIGHT: usize = 2;
        const REQUESTS: usize = 6;
        let (base, pos) = start_fake_pos().await;
        let cfg = PosClientConfig {
            limits: PosLimits {
                concurrency: LIMIT_IN_FLIGHT,
                ..config().limits
            },
            ..config()
        };
        let t = Arc::new(transport(&cfg, Some(&bearer())));
        let calls: Vec<_> = (0..REQUESTS)
            .map(|_| {
                let t = Arc::clone(&t);
                let req = request(PosMethod::Post, &format!("{base}/hold"));
                tokio::spawn(async move { t.send(req).await })
            })
            .collect();
        for released in 0..REQUESTS {
            // Wait until as many as may be in flight are held by the POS.
            let want = LIMIT_IN_FLIGHT.min(REQUESTS - released);
            wait_for(|| pos.in_flight.load(Ordering::SeqCst) >= want).await;
            pos.gate.add_permits(1);
            wait_for(|| pos.released.load(Ordering::SeqCst) > released).await;
        }
        for call in calls {
            let resp = call.await.expect("task").expect("answered");
            assert_eq!(resp.status, 200);
        }
        assert_eq!(pos.hits("/hold"), REQUESTS);
        assert_eq!(pos.max_in_flight.load(Ordering::SeqCst), LIMIT_IN_FLIGHT);
    }

    /// Poll `condition` until it holds; fail after a generous minute.
    async fn wait_for(condition: impl Fn() -> bool) {
        let give_up = Instant::now() + Duration::from_secs(60);
        while !condition() {
            assert!(Instant::now() < give_up, "condition not reached in 60 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn get_is_retried_on_503_and_post_never() {
        let (base, pos) = start_fake_pos().await;
        let t = transport(&config(), Some(&bearer()));
        let resp = t
            .send(request(PosMethod::Get, &format!("{base}/flaky")))
            .await
            .expect("answered");
        assert_eq!(resp.status, 200, "the third attempt succeeds");
        assert_eq!(pos.hits("/flaky"), 3);

        let resp = t
            .send(request(PosMethod::Post, &format!("{base}/unavailable")))
            .await
            .expect("answered");
        assert_eq!(resp.status, 503);
        assert_eq!(pos.hits("/unavailable"), 1, "POST is never retried");
        let resp = t
            .send(request(PosMethod::Patch, &format!("{base}/unavailable")))
            .await
            .expect("answered");
        assert_eq!(resp.status, 503);
        assert_eq!(pos.hits("/unavailable"), 2, "PATCH is never retried");
        let resp = t
            .send(request(PosMethod::Delete, &format!("{base}/unavailable")))
            .await
            .expect("answered");
        assert_eq!(resp.status, 503, "the last answer after 3 attempts");
        assert_eq!(pos.hits("/unavailable"), 5);

        let resp = t
            .send(request(PosMethod::Put, &format!("{base}/slow-down")))
            .await
            .expect("answered");
        assert_eq!(resp.status, 200, "429 with Retry-After: 0, then 200");
        assert_eq!(pos.hits("/slow-down"), 2);
    }

    /// A `tracing` writer into a buffer.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_credential_never_shows_in_logs_errors_or_debug() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let (base, _pos) = start_fake_pos().await;
        let t = transport(&config(), Some(&bearer()));
        let query = "?access_token=guest-query-secret";
        let resp = t
            .send(request(
                PosMethod::Get,
                &format!("{base}/unavailable{query}"),
            ))
            .await
            .expect("answered");
        assert_eq!(resp.status, 503);
        // Nothing listens on a port we just released: connection refused.
        let closed = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind")
            .local_addr()
            .expect("addr");
        let mut errors = Vec::new();
        for method in [PosMethod::Get, PosMethod::Post] {
            let err = t
                .send(request(method, &format!("http://{closed}/v2/items{query}")))
                .await
                .expect_err("refused");
            assert!(matches!(err, PosError::Connection(_)), "{err:?}");
            errors.push(format!("{err} {err:?}"));
        }
        let short = PosClientConfig {
            limits: PosLimits {
                timeout: Duration::from_millis(100),
                ..config().limits
            },
            ..config()
        };
        let timed_out = transport(&short, Some(&bearer()))
            .send(request(PosMethod::Post, &format!("{base}/hang{query}")))
            .await
            .expect_err("timeout");
        errors.push(format!("{timed_out} {timed_out:?}"));

        let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
        for expected in [
            "method=\"GET\"",
            "path=/unavailable",
            "status=503",
            "attempt=3",
            "latency_ms=",
            "retrying POS request after HTTP 503",
            "POS request failed: could not reach the POS: could not connect",
            &format!("host={closed}"),
        ] {
            assert!(
                logs.contains(expected),
                "{expected:?} missing from logs:\n{logs}"
            );
        }
        let debug_of_transports = [
            None,
            Some(bearer()),
            Some(basic_auth()),
            Some(header_auth()),
        ]
        .iter()
        .map(|auth| format!("{:?}", transport(&config(), auth.as_ref())))
        .collect::<Vec<_>>()
        .join("\n");
        let everything = format!("{logs}\n{}\n{debug_of_transports}", errors.join("\n"));
        let basic_encoded =
            base64::engine::general_purpose::STANDARD.encode("merchant:host-pass-9c1");
        for secret in [
            "host-token-7f3a",
            "host-pass-9c1",
            basic_encoded.as_str(),
            "host-shop-key-51",
            "guest-query-secret",
            "access_token",
            "guest-token",
        ] {
            assert!(
                !everything.contains(secret),
                "{secret:?} leaked:\n{everything}"
            );
        }
    }

    fn basic_auth() -> PosAuth {
        PosAuth::Basic {
            username: "merchant".into(),
            password: SecretString::from("host-pass-9c1"),
        }
    }

    fn header_auth() -> PosAuth {
        PosAuth::Header {
            name: "X-Shop-Key".into(),
            value: SecretString::from("host-shop-key-51"),
        }
    }

    #[test]
    fn a_credential_http_cannot_carry_is_a_setup_error_naming_the_key() {
        let cases = [
            (
                PosAuth::Bearer(SecretString::from("tok\nen-abc")),
                "shop[lagos-main].pos_auth.bearer",
            ),
            (
                PosAuth::Header {
                    name: "X Shop".into(),
                    value: SecretString::from("v"),
                },
                "shop[lagos-main].pos_auth.header.name",
            ),
            (
                PosAuth::Basic {
                    username: "a:b".into(),
                    password: SecretString::from("pw-secret"),
                },
                "shop[lagos-main].pos_auth.basic.username",
            ),
        ];
        for (auth, key) in cases {
            let err =
                HttpPosTransport::new("lagos-main", &config(), Some(&auth)).expect_err("refused");
            let shown = format!("{err} {err:?}");
            assert!(shown.starts_with(key), "{shown}");
            assert!(
                !shown.contains("en-abc") && !shown.contains("pw-secret"),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_shop_without_a_pos_url_has_no_transport() {
        let config = crate::config::Config::from_toml(
            "[[shop]]\nid = \"s\"\nadapter = \"square\"\nsnapact_key = { env = \"K\" }\n",
            "t",
            &crate::config::Overrides::default(),
            &std::collections::BTreeMap::from([("K".to_string(), "k".to_string())]),
        )
        .expect("config");
        let shop = config.shop("s").expect("shop");
        assert!(super::super::transport_for(shop).expect("ok").is_none());
        let mut with_url = shop.clone();
        with_url.pos_base_url = Some("https://connect.squareup.com".into());
        assert!(
            super::super::transport_for(&with_url)
                .expect("ok")
                .is_some()
        );
    }
}
