//! Polling products by `updated_at_min` with Shopify's cursor pagination.
//!
//! A cycle starts at `updated_at_min` (the newest `updated_at` the last
//! cycle saw; nothing on the first cycle) and follows the `Link` header's
//! `rel="next"` `page_info` until there is none. Shopify forbids other
//! filters next to `page_info`, so the cursor carries the cycle's start and
//! the newest timestamp seen so far. `updated_at_min` is inclusive: the
//! product(s) at the boundary are sent again, which the host's
//! `source_version` check makes harmless.

use snapact_adapter_sdk::http::{Method, Request};
use snapact_adapter_sdk::json::Node;
use snapact_adapter_sdk::{AdapterError, invalid_input};

use crate::catalog::opt_timestamp;
use crate::timestamp;

/// Products per page: Shopify's maximum.
pub const PAGE_SIZE: &str = "250";

const VERSION_TAG: &str = "v1";

/// Where a poll stands. Its text form is the opaque cursor the host stores.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The cycle's `updated_at_min` (UTC), `None` for everything.
    pub updated_at_min: Option<String>,
    /// The next page within the cycle.
    pub page_info: Option<String>,
    /// The newest product `updated_at` (UTC) seen in this cycle so far.
    pub newest_seen: Option<String>,
}

impl Cursor {
    /// Read the host's stored cursor; `None` starts from the beginning.
    pub fn decode(text: Option<&str>) -> Result<Cursor, AdapterError> {
        let Some(text) = text else {
            return Ok(Cursor::default());
        };
        let bad = |why: &str| {
            invalid_input(
                "cursor",
                format!(
                    "poll cursor {text:?} was not written by this adapter version ({why}); clear the shop's cursor to poll from the beginning"
                ),
            )
        };
        let parts: Vec<&str> = text.split('|').collect();
        let [tag, min, page, newest] = parts.as_slice() else {
            return Err(bad("expected 4 fields"));
        };
        if *tag != VERSION_TAG {
            return Err(bad("unknown version"));
        }
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        for ts in [min, newest] {
            if !ts.is_empty() && timestamp::normalize(ts).as_deref() != Some(*ts) {
                return Err(bad("bad timestamp"));
            }
        }
        if !page.bytes().all(is_page_info_byte) {
            return Err(bad("bad page_info"));
        }
        Ok(Cursor {
            updated_at_min: opt(min),
            page_info: opt(page),
            newest_seen: opt(newest),
        })
    }

    /// The opaque text form.
    pub fn encode(&self) -> String {
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        format!(
            "{VERSION_TAG}|{}|{}|{}",
            s(&self.updated_at_min),
            s(&self.page_info),
            s(&self.newest_seen)
        )
    }

    /// The request for this cursor's page.
    pub fn request(&self, api_version: &str) -> Request {
        let mut query = vec![("limit".to_string(), PAGE_SIZE.to_string())];
        match (&self.page_info, &self.updated_at_min) {
            (Some(page), _) => query.push(("page_info".into(), page.clone())),
            (None, Some(min)) => query.push(("updated_at_min".into(), min.clone())),
            (None, None) => {}
        }
        Request {
            method: Method::Get,
            path: format!("/admin/api/{api_version}/products.json"),
            query,
            headers: vec![("accept".into(), "application/json".into())],
            body: Vec::new(),
        }
    }

    /// The cursor after a page whose newest product was `page_newest` and
    /// whose `Link` header gave `next` (`None`: last page). Returns the new
    /// cursor and whether to poll again now.
    pub fn advance(&self, page_newest: Option<String>, next: Option<String>) -> (Cursor, bool) {
        let newest = [self.newest_seen.clone(), page_newest]
            .into_iter()
            .flatten()
            .max();
        match next {
            Some(page) => (
                Cursor {
                    updated_at_min: self.updated_at_min.clone(),
                    page_info: Some(page),
                    newest_seen: newest,
                },
                true,
            ),
            None => (
                Cursor {
                    updated_at_min: newest.or_else(|| self.updated_at_min.clone()),
                    page_info: None,
                    newest_seen: None,
                },
                false,
            ),
        }
    }
}

fn is_page_info_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'.' | b'~')
}

/// The newest readable `updated_at` of a page's products, normalised.
pub fn newest_updated_at(products: &[Node]) -> Option<String> {
    products
        .iter()
        .filter_map(|p| opt_timestamp(p, "updated_at").ok().flatten())
        .max()
}

/// The `page_info` of the `rel="next"` link in a `Link` header.
pub fn next_page_info(headers: &[(String, String)]) -> Option<String> {
    let link = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("link"))
        .map(|(_, v)| v.as_str())?;
    let mut rest = link;
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>')?;
        let url = &rest[open + 1..close];
        let params_end = rest[close..].find('<').map_or(rest.len(), |i| close + i);
        let params = &rest[close + 1..params_end];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
        });
        if is_next {
            let query = url.split_once('?')?.1;
            return query.split('&').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                (k == "page_info")
                    .then(|| percent_decode(v))
                    .flatten()
                    .filter(|v| !v.is_empty() && v.bytes().all(is_page_info_byte))
            });
        }
        rest = &rest[params_end..];
    }
    None
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(v: &str) -> Vec<(String, String)> {
        vec![("link".to_string(), v.to_string())]
    }

    #[test]
    fn first_poll_lists_everything_then_follows_pages() {
        let c = Cursor::decode(None).expect("start");
        let req = c.request("2026-07");
        assert_eq!(req.path, "/admin/api/2026-07/products.json");
        assert_eq!(req.query, vec![("limit".to_string(), "250".to_string())]);

        let (c, more) = c.advance(
            Some("2025-07-02T16:29:59Z".into()),
            Some("eyJsYXN0X2lkIjo0MDAsImxhc3RfdmFsdWUiOiI0MDAifQ".into()),
        );
        assert!(more);
        let text = c.encode();
        assert_eq!(
            text,
            "v1||eyJsYXN0X2lkIjo0MDAsImxhc3RfdmFsdWUiOiI0MDAifQ|2025-07-02T16:29:59Z"
        );
        let c = Cursor::decode(Some(&text)).expect("round trip");
        // Shopify allows only limit (and fields) next to page_info.
        assert_eq!(
            c.request("2026-07").query,
            vec![
                ("limit".to_string(), "250".to_string()),
                (
                    "page_info".to_string(),
                    "eyJsYXN0X2lkIjo0MDAsImxhc3RfdmFsdWUiOiI0MDAifQ".to_string()
                )
            ]
        );

        let (c, more) = c.advance(Some("2025-01-01T00:00:00Z".into()), None);
        assert!(!more);
        assert_eq!(c.encode(), "v1|2025-07-02T16:29:59Z||");
        assert_eq!(
            c.request("2026-07").query,
            vec![
                ("limit".to_string(), "250".to_string()),
                (
                    "updated_at_min".to_string(),
                    "2025-07-02T16:29:59Z".to_string()
                )
            ]
        );

        // An empty cycle keeps its start.
        let (c, more) = c.advance(None, None);
        assert!(!more);
        assert_eq!(c.encode(), "v1|2025-07-02T16:29:59Z||");
    }

    #[test]
    fn foreign_cursors_are_refused_with_what_to_do() {
        for bad in ["", "v2|||", "v1|yesterday||", "v1||a b|", "v1|||", "v1||"] {
            let r = Cursor::decode(Some(bad));
            if bad == "v1|||" {
                assert_eq!(r.expect("empty is the start"), Cursor::default());
                continue;
            }
            match r {
                Err(AdapterError::InvalidInput(d)) => {
                    assert_eq!(d.path.as_deref(), Some("cursor"));
                    assert!(
                        d.message.contains("clear the shop's cursor"),
                        "{}",
                        d.message
                    );
                }
                other => panic!("{bad:?}: expected invalid input, got {other:?}"),
            }
        }
    }

    #[test]
    fn reads_the_next_page_from_the_link_header() {
        // The format of Shopify's "Make paginated requests to the REST Admin API" guide.
        let both = link(
            "<https://shop.myshopify.com/admin/api/2019-07/products.json?page_info=vwxyzab&limit=6>; rel=\"previous\", <https://shop.myshopify.com/admin/api/2019-07/products.json?page_info=opqrstu&limit=6>; rel=\"next\"",
        );
        assert_eq!(next_page_info(&both).as_deref(), Some("opqrstu"));
        let last = link(
            "<https://shop.myshopify.com/admin/api/2019-07/products.json?page_info=vwxyzab&limit=6>; rel=\"previous\"",
        );
        assert_eq!(next_page_info(&last), None);
        let first = link(
            "<https://shop.myshopify.com/admin/api/2019-07/products.json?limit=6&page_info=hijklmn>; rel=\"next\"",
        );
        assert_eq!(next_page_info(&first).as_deref(), Some("hijklmn"));
        let encoded = link("<https://s.myshopify.com/p.json?page_info=ab%3D%3D>; rel=next");
        assert_eq!(next_page_info(&encoded).as_deref(), Some("ab=="));
        assert_eq!(next_page_info(&[]), None);
        assert_eq!(next_page_info(&link("garbage <no close")), None);
    }
}
