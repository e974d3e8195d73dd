//! `pos-http`: the adapter's only way out. The path is resolved against the
//! shop's POS base URL, the resulting host must be in the manifest's
//! `http_hosts`, and credential headers the adapter set are removed; the
//! shop's [`PosTransport`](crate::pos::PosTransport) sends what is left.

use super::HostState;
use crate::pos::{PosError, PosMethod, PosRequest, headers};
use crate::runtime::bindings::pos_http::{Host, HttpError, Method, Request, Response};

impl Host for HostState {
    async fn send(&mut self, req: Request) -> Result<Response, HttpError> {
        let method = req.method;
        let path = req.path.clone();
        let prepared = prepare(
            &self.manifest.capabilities.http_hosts,
            self.pos_base_url.as_deref(),
            self.local_pos,
            req,
        );
        let mut request = match prepared {
            Ok(request) => request,
            Err(e) => {
                if let HttpError::Denied(why) = &e {
                    tracing::warn!(shop = %self.shop, adapter = %self.adapter, version = %self.version,
                        method = method_name(method), path = %path, "pos-http request refused: {why}");
                    if let Some(m) = &self.metrics {
                        m.pos_request_refused();
                    }
                }
                return Err(e);
            }
        };
        let Some(transport) = self.pos.clone() else {
            return Err(HttpError::NotConfigured(format!(
                "shop `{}` has no POS connection for outbound calls",
                self.shop
            )));
        };
        request.deadline = Some(self.deadline);
        let sent = tokio::time::timeout_at(self.deadline.into(), transport.send(request)).await;
        if let Some(m) = &self.metrics {
            match &sent {
                Ok(Ok(resp)) => m.pos_request(Some(resp.status)),
                Ok(Err(PosError::Refused(_))) => m.pos_request_refused(),
                Ok(Err(_)) | Err(_) => m.pos_request(None),
            }
        }
        match sent {
            Err(_) => Err(HttpError::Timeout),
            Ok(Ok(resp)) => Ok(Response {
                status: resp.status,
                headers: resp
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect(),
                body: resp.body,
            }),
            Ok(Err(e)) => Err(match e {
                PosError::Timeout => HttpError::Timeout,
                PosError::Connection(m) => HttpError::Connection(m),
                PosError::ResponseTooLarge(n) => HttpError::ResponseTooLarge(n),
                PosError::RateLimited => HttpError::RateLimited,
                PosError::Refused(why) => HttpError::Denied(why),
            }),
        }
    }
}

fn method_name(m: Method) -> &'static str {
    pos_method(m).as_str()
}

fn pos_method(m: Method) -> PosMethod {
    match m {
        Method::Get => PosMethod::Get,
        Method::Post => PosMethod::Post,
        Method::Put => PosMethod::Put,
        Method::Patch => PosMethod::Patch,
        Method::Delete => PosMethod::Delete,
    }
}

/// Check and resolve an adapter's request. Pure, so every refusal is
/// unit-tested.
pub(crate) fn prepare(
    http_hosts: &[String],
    base_url: Option<&str>,
    local_pos: bool,
    req: Request,
) -> Result<PosRequest, HttpError> {
    let base = base_url.ok_or_else(|| {
        HttpError::NotConfigured("the shop has no `pos_base_url` configured".to_string())
    })?;
    let absolute = absolute_https(&req.path)?;
    let relative = absolute.is_none();
    let mut url = match absolute {
        // A vendor serving its API from several hosts (Zettle: products and
        // inventory) names the other host in full; the allowlist below still
        // decides, and only https is accepted.
        Some(url) => url,
        None => {
            check_path(&req.path).map_err(HttpError::Denied)?;
            let mut url = url::Url::parse(base).map_err(|e| {
                HttpError::NotConfigured(format!(
                    "the shop's `pos_base_url` {base:?} is not a URL ({e})"
                ))
            })?;
            if !matches!(url.scheme(), "https" | "http") {
                return Err(HttpError::NotConfigured(format!(
                    "the shop's `pos_base_url` {base:?} is not an http(s) URL"
                )));
            }
            let joined = format!("{}{}", url.path().trim_end_matches('/'), req.path);
            url.set_path(&joined);
            url
        }
    };
    url.set_fragment(None);
    if !req.query.is_empty() {
        url.query_pairs_mut().extend_pairs(req.query.iter());
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let host_matches = |pattern: &str| match pattern.strip_prefix("*.") {
        // One more label, no more: `*.myshopify.com` allows `shop.myshopify.com`.
        Some(domain) => host
            .strip_suffix(domain)
            .and_then(|sub| sub.strip_suffix('.'))
            .is_some_and(|sub| !sub.is_empty() && !sub.contains('.')),
        None => pattern == host,
    };
    let local_stand_in = local_pos
        && relative
        && url.host().is_some_and(|h| match h {
            url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        });
    let allowed = local_stand_in
        || http_hosts.iter().any(|entry| match entry.rsplit_once(':') {
            Some((h, p)) => {
                host_matches(h)
                    && url.port_or_known_default().map(|x| x.to_string()) == Some(p.to_string())
            }
            None => host_matches(entry) && url.port().is_none(),
        });
    if !allowed {
        let shown = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        };
        return Err(HttpError::Denied(format!(
            "host `{shown}` is not in the adapter's [capabilities] http_hosts ({})",
            if http_hosts.is_empty() {
                "none declared".to_string()
            } else {
                http_hosts.join(", ")
            }
        )));
    }
    let headers = req
        .headers
        .into_iter()
        .filter(|(name, _)| !headers::forbidden(name))
        .collect();
    Ok(PosRequest {
        method: pos_method(req.method),
        url,
        headers,
        body: req.body,
        deadline: None,
    })
}

/// `Some(url)` when the adapter gave a full `https://` URL, checked like a
/// path (no credentials in it, no dot segments, no fragment).
fn absolute_https(path: &str) -> Result<Option<url::Url>, HttpError> {
    let lower = path.get(..8).map(str::to_ascii_lowercase);
    if lower.as_deref() != Some("https://") {
        return Ok(None);
    }
    let url = url::Url::parse(path)
        .map_err(|e| HttpError::Denied(format!("{path:?} is not a URL ({e})")))?;
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(HttpError::Denied(format!(
            "{path:?} must not carry credentials, a query or a fragment; pass query parameters in `query`"
        )));
    }
    let raw_path = &path[8..];
    let raw_path = raw_path.find('/').map_or("/", |i| &raw_path[i..]);
    check_path(raw_path).map_err(HttpError::Denied)?;
    Ok(Some(url))
}

fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!(
            "path {path:?} must start with '/' (it is relative to the shop's POS base URL)"
        ));
    }
    if path.starts_with("//") || path.contains("//") {
        return Err(format!("path {path:?} contains '//'"));
    }
    if path.contains("://") {
        return Err(format!(
            "path {path:?} contains a scheme; give a path below the POS base URL"
        ));
    }
    if path
        .chars()
        .any(|c| c == '\\' || c == '?' || c == '#' || c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "path {path:?} contains '\\', '?', '#', whitespace or a control character; pass query parameters in `query`"
        ));
    }
    let dot_segment = path.split('/').any(|segment| {
        let s = segment.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    });
    if dot_segment {
        return Err(format!("path {path:?} contains a '.' or '..' segment"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str) -> Request {
        Request {
            method: Method::Get,
            path: path.into(),
            query: vec![("cursor".into(), "a b&c".into())],
            headers: vec![
                ("Authorization".into(), "Bearer stolen".into()),
                ("X-Api-Key".into(), "stolen".into()),
                ("Cookie".into(), "s=1".into()),
                ("Square-Version".into(), "2025-01-23".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: Vec::new(),
        }
    }

    fn hosts() -> Vec<String> {
        vec!["connect.squareup.com".into(), "localhost:8080".into()]
    }

    fn denied(r: Result<PosRequest, HttpError>) -> String {
        match r {
            Err(HttpError::Denied(why)) => why,
            other => panic!("expected denied, got {other:?}"),
        }
    }

    #[test]
    fn full_https_urls_and_wildcards_obey_the_allowlist() {
        let hosts = vec![
            "products.izettle.com".to_string(),
            "inventory.izettle.com".to_string(),
            "*.myshopify.com".to_string(),
        ];
        let ok = prepare(
            &hosts,
            Some("https://products.izettle.com"),
            false,
            req("https://inventory.izettle.com/v3/stock"),
        )
        .expect("declared second host");
        assert_eq!(ok.url.host_str(), Some("inventory.izettle.com"));
        for bad in [
            "https://evil.example/x",
            "http://inventory.izettle.com/x",
            "https://user:pw@inventory.izettle.com/x",
            "https://inventory.izettle.com/../x",
        ] {
            denied(prepare(
                &hosts,
                Some("https://products.izettle.com"),
                false,
                req(bad),
            ));
        }
        assert!(
            prepare(
                &hosts,
                Some("https://acme.myshopify.com"),
                false,
                req("/admin/api/2025-07/products.json")
            )
            .is_ok()
        );
        denied(prepare(
            &hosts,
            Some("https://a.b.myshopify.com"),
            false,
            req("/x"),
        ));
        denied(prepare(
            &hosts,
            Some("https://myshopify.com"),
            false,
            req("/x"),
        ));
        denied(prepare(
            &hosts,
            Some("https://evilmyshopify.com"),
            false,
            req("/x"),
        ));
    }

    #[test]
    fn resolves_below_the_base_url_and_strips_credentials() {
        let r = prepare(
            &hosts(),
            Some("https://connect.squareup.com/api/"),
            false,
            req("/v2/catalog/list"),
        )
        .expect("allowed");
        assert_eq!(
            r.url.as_str(),
            "https://connect.squareup.com/api/v2/catalog/list?cursor=a+b%26c"
        );
        let names: Vec<&str> = r.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["Square-Version", "content-type"]);
        assert_eq!(r.method, PosMethod::Get);
    }

    #[test]
    fn refuses_hosts_outside_the_allowlist() {
        let why = denied(prepare(
            &hosts(),
            Some("https://evil.example"),
            false,
            req("/x"),
        ));
        assert_eq!(
            why,
            "host `evil.example` is not in the adapter's [capabilities] http_hosts (connect.squareup.com, localhost:8080)"
        );
        let why = denied(prepare(
            &hosts(),
            Some("http://localhost:9090"),
            false,
            req("/x"),
        ));
        assert!(why.contains("`localhost:9090`"), "{why}");
        assert!(prepare(&hosts(), Some("http://localhost:8080"), false, req("/x")).is_ok());
        let why = denied(prepare(
            &[],
            Some("https://connect.squareup.com"),
            false,
            req("/x"),
        ));
        assert!(why.contains("none declared"), "{why}");
    }

    #[test]
    fn a_local_stand_in_takes_relative_paths_only() {
        // The operator pointed the shop at a fake POS on loopback.
        let base = Some("http://127.0.0.1:9911");
        let ok = prepare(&hosts(), base, true, req("/v2/orders")).expect("allowed");
        assert_eq!(ok.url.host_str(), Some("127.0.0.1"));
        assert_eq!(ok.url.port(), Some(9911));
        assert_eq!(ok.url.path(), "/v2/orders");
        // Without the shop's permission it is an ordinary unlisted host.
        denied(prepare(&hosts(), base, false, req("/v2/orders")));
        // Absolute URLs still need the allowlist.
        denied(prepare(&hosts(), base, true, req("https://evil.example/x")));
        // A non-loopback base is never a stand-in.
        denied(prepare(
            &hosts(),
            Some("https://evil.example"),
            true,
            req("/x"),
        ));
    }

    #[test]
    fn refuses_escaping_paths() {
        let base = Some("https://connect.squareup.com/api");
        for path in [
            "https://evil.example/x",
            "//evil.example/x",
            "/a//b",
            "/api/../../admin",
            "/api/%2e%2e/admin",
            "/api/.%2E/admin",
            "/./x",
            "v2/catalog",
            "/a\\..\\b",
            "/x?y=1",
            "/x#frag",
            "/x y",
        ] {
            denied(prepare(&hosts(), base, false, req(path)));
        }
    }

    #[test]
    fn no_base_url_is_not_configured() {
        assert!(matches!(
            prepare(&hosts(), None, false, req("/v2")),
            Err(HttpError::NotConfigured(_))
        ));
    }
}
