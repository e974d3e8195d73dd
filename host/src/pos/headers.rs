//! Which request headers an adapter may set. The `pos-http` import drops
//! the rest before a request reaches a transport, and
//! [`HttpPosTransport`](super::HttpPosTransport) drops them again before
//! it adds the shop's own credential, so a bug in one layer is not a leak.

/// Headers an adapter may not set: credentials (the host injects its own)
/// and hop-by-hop headers (the transport owns the connection).
pub(crate) fn forbidden(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    const EXACT: &[&str] = &[
        "authorization",
        "proxy-authorization",
        "cookie",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    ];
    const CONTAINS: &[&str] = &[
        "api-key", "apikey", "api_key", "token", "secret", "auth", "password", "session",
    ];
    EXACT.contains(&name.as_str()) || CONTAINS.iter().any(|c| name.contains(c))
}

/// Response headers an adapter does not get: a POS session cookie is a
/// credential, and an adapter has no use for one (it cannot send cookies).
pub(crate) fn withheld_from_adapter(name: &str) -> bool {
    name.eq_ignore_ascii_case("set-cookie") || name.eq_ignore_ascii_case("set-cookie2")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_hop_by_hop_headers_are_forbidden() {
        for name in [
            "Authorization",
            "cookie",
            "X-Api-Key",
            "x-apikey",
            "X-Shopify-Access-Token",
            "X-Session-Id",
            "Proxy-Authorization",
            "Transfer-Encoding",
            "Host",
        ] {
            assert!(forbidden(name), "{name}");
        }
        for name in [
            "accept",
            "content-type",
            "Square-Version",
            "Idempotency-Key",
        ] {
            assert!(!forbidden(name), "{name}");
        }
    }
}
