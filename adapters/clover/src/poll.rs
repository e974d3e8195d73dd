//! Polling Clover items by `modifiedTime`.
//!
//! `GET /v3/merchants/{mId}/items?expand=itemStock,categories,taxRates
//! &filter=modifiedTime>=SINCE&orderBy=modifiedTime ASC&limit=100&offset=SKIP`.
//! The cursor is keyset, not a plain offset: after a full page it moves
//! `SINCE` to the page's newest `modifiedTime` and skips only the items of
//! that same millisecond already seen. An item edited while a cycle pages
//! moves to the end of the order, past the cursor, so it is read again
//! rather than shifting unread items under an offset and losing one.
//! A cycle ends on a short page; the next cycle starts at the newest
//! `modifiedTime` seen, re-reading that millisecond (the host drops
//! unchanged items), so nothing modified at the boundary is missed.

use crate::config::Settings;
use crate::records::map_all;
use crate::upstream::from_clover;
use snapact_adapter_sdk::json::{self, Node};
use snapact_adapter_sdk::{AdapterError, PollPage, invalid_input};

/// Items per page.
pub const PAGE_SIZE: usize = 100;

/// Where the next page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// `modifiedTime >= since` (epoch ms).
    pub since: i64,
    /// Items at exactly `since` already delivered in this cycle.
    pub skip: u64,
}

impl Cursor {
    /// The start of time: every item.
    pub const START: Cursor = Cursor { since: 0, skip: 0 };

    /// Read the host's stored cursor (`None`: start from the beginning).
    pub fn parse(cursor: Option<&str>) -> Result<Cursor, AdapterError> {
        let Some(text) = cursor else {
            return Ok(Cursor::START);
        };
        let bad = || {
            invalid_input(
                "cursor",
                format!(
                    "cursor {text:?} was not written by this adapter (expected \"v1:<modifiedTime>:<skip>\"); clear the shop's cursor to poll from the beginning"
                ),
            )
        };
        let mut parts = text.split(':');
        let (Some("v1"), Some(since), Some(skip), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let since: i64 = since.parse().map_err(|_| bad())?;
        let skip: u64 = skip.parse().map_err(|_| bad())?;
        if since < 0 {
            return Err(bad());
        }
        Ok(Cursor { since, skip })
    }

    /// The opaque form the host stores.
    pub fn encode(self) -> String {
        format!("v1:{}:{}", self.since, self.skip)
    }
}

/// Path and query of the request for the page at `cursor`.
pub fn request(merchant_id: &str, cursor: Cursor) -> (String, Vec<(String, String)>) {
    (
        format!("/v3/merchants/{merchant_id}/items"),
        vec![
            ("expand".into(), crate::ITEM_EXPAND.into()),
            ("filter".into(), format!("modifiedTime>={}", cursor.since)),
            ("orderBy".into(), "modifiedTime ASC".into()),
            ("limit".into(), PAGE_SIZE.to_string()),
            ("offset".into(), cursor.skip.to_string()),
        ],
    )
}

/// Map one page of Clover's answer and say where the next one starts.
pub fn page(body: &[u8], cursor: Cursor, settings: &Settings) -> Result<PollPage, AdapterError> {
    let doc = json::parse(body).map_err(from_clover)?;
    let root = Node::root(&doc);
    let elements = root
        .req("elements")
        .and_then(|e| e.array())
        .map_err(|d| from_clover(d.into()))?;
    let mapped = map_all(&elements, settings);

    // The newest modification time on the page and how many items share it.
    let mut newest = cursor.since;
    let mut at_newest: u64 = 0;
    for element in &elements {
        let Some(time) = element.get("modifiedTime").and_then(|n| n.i64().ok()) else {
            continue;
        };
        if time > newest {
            newest = time;
            at_newest = 1;
        } else if time == newest {
            at_newest += 1;
        }
    }
    let full = elements.len() >= PAGE_SIZE;
    let next = if !full {
        Cursor {
            since: newest,
            skip: 0,
        }
    } else if newest == cursor.since {
        // A whole page inside one millisecond: step over it.
        Cursor {
            since: newest,
            skip: cursor.skip + at_newest,
        }
    } else {
        Cursor {
            since: newest,
            skip: at_newest,
        }
    };
    Ok(PollPage {
        changes: mapped.changes,
        rejected: mapped.rejected,
        cursor: Some(next.encode()),
        more: full,
    })
}
