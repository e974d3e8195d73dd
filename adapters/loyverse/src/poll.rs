//! Polling Loyverse: request building and response reading, pure.
//!
//! A cycle has two phases. `items`: `GET /v1.0/items` changed since the
//! last cycle (deleted ones included), each page mapped with its variants'
//! stock and the shop's category names. `inventory`: `GET /v1.0/inventory`
//! levels changed since the last cycle, because a sale changes stock without
//! touching the item. The cursor the host stores is opaque JSON holding both
//! watermarks, the phase and Loyverse's own page cursor.

use snapact_adapter_sdk::json::{self, Node, Value};
use snapact_adapter_sdk::{AdapterError, invalid_input};

/// Items and inventory levels per page: Loyverse's maximum.
pub const PAGE_LIMIT: &str = "250";
/// Variant ids per inventory request, so the URL stays short (UUIDs).
pub const VARIANT_IDS_PER_REQUEST: usize = 100;
/// Category pages fetched at most per call (250 categories each).
pub const MAX_CATEGORY_PAGES: usize = 20;

/// `GET /v1.0/items`.
pub const ITEMS_PATH: &str = "/v1.0/items";
/// `GET /v1.0/inventory`.
pub const INVENTORY_PATH: &str = "/v1.0/inventory";
/// `GET /v1.0/categories`.
pub const CATEGORIES_PATH: &str = "/v1.0/categories";

/// Which half of a cycle the next call fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Items changed since `items_since`.
    Items,
    /// Inventory levels changed since `stock_since`.
    Inventory,
}

/// Where polling stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The phase the next call runs.
    pub phase: Phase,
    /// `updated_at_min` for items (`None`: everything).
    pub items_since: Option<String>,
    /// `updated_at_min` for inventory levels (`None`: everything).
    pub stock_since: Option<String>,
    /// Loyverse's cursor for the next page of the current phase.
    pub page: Option<String>,
    /// The newest `updated_at` seen so far in the current phase.
    pub high: Option<String>,
}

impl Cursor {
    /// A first cycle: everything.
    pub fn start() -> Cursor {
        Cursor {
            phase: Phase::Items,
            items_since: None,
            stock_since: None,
            page: None,
            high: None,
        }
    }

    /// Read the cursor this adapter wrote; `None` starts from the beginning.
    pub fn decode(raw: Option<&str>) -> Result<Cursor, AdapterError> {
        let Some(raw) = raw else {
            return Ok(Cursor::start());
        };
        let bad = |why: &str| {
            invalid_input(
                "cursor",
                format!(
                    "poll cursor {raw:?} was not written by this adapter ({why}); \
                     clear the shop's cursor to poll from the beginning"
                ),
            )
        };
        let doc = json::parse(raw.as_bytes()).map_err(|_| bad("not JSON"))?;
        let root = Node::root(&doc);
        if root.opt_i64("v").ok().flatten() != Some(1) {
            return Err(bad("unknown version"));
        }
        let text = |key: &str| {
            root.opt_str(key)
                .map(|v| v.map(str::to_string))
                .map_err(|_| bad(key))
        };
        let phase = match root.opt_str("phase").map_err(|_| bad("phase"))? {
            Some("items") => Phase::Items,
            Some("inventory") => Phase::Inventory,
            _ => return Err(bad("unknown phase")),
        };
        Ok(Cursor {
            phase,
            items_since: text("items_since")?,
            stock_since: text("stock_since")?,
            page: text("page")?,
            high: text("high")?,
        })
    }

    /// The opaque text the host stores.
    pub fn encode(&self) -> String {
        let phase = match self.phase {
            Phase::Items => "items",
            Phase::Inventory => "inventory",
        };
        serde_json::json!({
            "v": 1,
            "phase": phase,
            "items_since": self.items_since,
            "stock_since": self.stock_since,
            "page": self.page,
            "high": self.high,
        })
        .to_string()
    }

    /// The query for this phase's next page.
    pub fn request(&self, store_id: &str) -> (&'static str, Vec<(String, String)>) {
        let mut query = vec![("limit".to_string(), PAGE_LIMIT.to_string())];
        let (path, since) = match self.phase {
            Phase::Items => {
                // Deleted items must come too, or SnapAct would keep selling them.
                query.push(("show_deleted".into(), "true".into()));
                (ITEMS_PATH, &self.items_since)
            }
            Phase::Inventory => {
                query.push(("store_ids".into(), store_id.to_string()));
                (INVENTORY_PATH, &self.stock_since)
            }
        };
        if let Some(since) = since {
            query.push(("updated_at_min".into(), since.clone()));
        }
        if let Some(page) = &self.page {
            query.push(("cursor".into(), page.clone()));
        }
        (path, query)
    }

    /// The cursor after a page whose records' newest time is `newest` and
    /// whose Loyverse cursor is `next_page`; the bool is `more`.
    ///
    /// `updated_at_min` is inclusive, so records at the watermark come again
    /// next cycle: harmless, upserts are idempotent, and nothing is missed.
    pub fn advance(&self, newest: Option<String>, next_page: Option<String>) -> (Cursor, bool) {
        let high = match (self.high.clone(), newest) {
            (Some(a), Some(b)) => Some(if b > a { b } else { a }),
            (a, b) => a.or(b),
        };
        if next_page.is_some() {
            let mut next = self.clone();
            next.page = next_page;
            next.high = high;
            return (next, true);
        }
        match self.phase {
            Phase::Items => (
                Cursor {
                    phase: Phase::Inventory,
                    items_since: high.or_else(|| self.items_since.clone()),
                    stock_since: self.stock_since.clone(),
                    page: None,
                    high: None,
                },
                true,
            ),
            Phase::Inventory => (
                Cursor {
                    phase: Phase::Items,
                    items_since: self.items_since.clone(),
                    stock_since: high.or_else(|| self.stock_since.clone()),
                    page: None,
                    high: None,
                },
                false,
            ),
        }
    }
}

/// Loyverse's cursor for the next page, when there is one.
pub fn next_page(doc: &Value) -> Result<Option<String>, AdapterError> {
    Ok(Node::root(doc)
        .opt_str("cursor")?
        .filter(|c| !c.is_empty())
        .map(str::to_string))
}

/// The newest `updated_at` (or `deleted_at`) among `records`.
pub fn newest_time(records: &[Node<'_>]) -> Option<String> {
    records
        .iter()
        .flat_map(|r| ["updated_at", "deleted_at"].map(|k| r.opt_str(k).ok().flatten()))
        .flatten()
        .max()
        .map(str::to_string)
}

/// Queries for the stock of `variant_ids` at the shop's store, in chunks.
pub fn inventory_queries(store_id: &str, variant_ids: &[String]) -> Vec<Vec<(String, String)>> {
    variant_ids
        .chunks(VARIANT_IDS_PER_REQUEST)
        .map(|chunk| {
            vec![
                ("store_ids".to_string(), store_id.to_string()),
                ("variant_ids".to_string(), chunk.join(",")),
                ("limit".to_string(), PAGE_LIMIT.to_string()),
            ]
        })
        .collect()
}

/// The query for a page of categories.
pub fn categories_query(page: Option<&str>) -> Vec<(String, String)> {
    let mut query = vec![("limit".to_string(), PAGE_LIMIT.to_string())];
    if let Some(page) = page {
        query.push(("cursor".to_string(), page.to_string()));
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_cycle_walks_items_then_inventory_and_keeps_watermarks() {
        let start = Cursor::decode(None).expect("start");
        assert_eq!(
            start.request("S1"),
            (ITEMS_PATH, q(&[("limit", "250"), ("show_deleted", "true")]))
        );
        let (second, more) =
            start.advance(Some("2024-01-02T00:00:00.000Z".into()), Some("p2".into()));
        assert!(more);
        assert_eq!(
            second.request("S1"),
            (
                ITEMS_PATH,
                q(&[("limit", "250"), ("show_deleted", "true"), ("cursor", "p2")])
            )
        );
        let (inventory, more) = second.advance(Some("2024-01-01T00:00:00.000Z".into()), None);
        assert!(more);
        assert_eq!(inventory.phase, Phase::Inventory);
        assert_eq!(
            inventory.items_since.as_deref(),
            Some("2024-01-02T00:00:00.000Z")
        );
        assert_eq!(
            inventory.request("S1"),
            (INVENTORY_PATH, q(&[("limit", "250"), ("store_ids", "S1")]))
        );
        let (done, more) = inventory.advance(Some("2024-01-03T00:00:00.000Z".into()), None);
        assert!(!more);
        assert_eq!(done.phase, Phase::Items);
        assert_eq!(
            done.stock_since.as_deref(),
            Some("2024-01-03T00:00:00.000Z")
        );
        assert_eq!(
            done.request("S1"),
            (
                ITEMS_PATH,
                q(&[
                    ("limit", "250"),
                    ("show_deleted", "true"),
                    ("updated_at_min", "2024-01-02T00:00:00.000Z")
                ])
            )
        );
        // Round trip through the opaque text the host stores.
        assert_eq!(Cursor::decode(Some(&done.encode())).expect("decode"), done);
    }

    #[test]
    fn an_empty_cycle_keeps_the_old_watermark() {
        let mut c = Cursor::start();
        c.phase = Phase::Inventory;
        c.stock_since = Some("2024-05-01T00:00:00.000Z".into());
        let (next, more) = c.advance(None, None);
        assert!(!more);
        assert_eq!(
            next.stock_since.as_deref(),
            Some("2024-05-01T00:00:00.000Z")
        );
    }

    #[test]
    fn a_foreign_cursor_is_a_clear_error() {
        for bad in ["p2", "{\"v\":2}", "{\"v\":1,\"phase\":\"x\"}"] {
            match Cursor::decode(Some(bad)) {
                Err(AdapterError::InvalidInput(d)) => {
                    assert_eq!(d.path.as_deref(), Some("cursor"));
                    assert!(
                        d.message.contains("clear the shop's cursor"),
                        "{}",
                        d.message
                    );
                }
                other => panic!("{bad}: expected invalid input, got {other:?}"),
            }
        }
    }

    #[test]
    fn reads_pages_and_chunks_variant_queries() {
        let doc = json::parse(
            br#"{"items":[{"updated_at":"2024-01-01T00:00:00.000Z"},{"updated_at":"2024-01-01T00:00:00.000Z","deleted_at":"2024-02-01T00:00:00.000Z"}],"cursor":"c2"}"#,
        )
        .expect("json");
        assert_eq!(next_page(&doc).expect("ok").as_deref(), Some("c2"));
        let items = Node::root(&doc)
            .req("items")
            .expect("items")
            .array()
            .expect("array");
        assert_eq!(
            newest_time(&items).as_deref(),
            Some("2024-02-01T00:00:00.000Z")
        );
        let ids: Vec<String> = (0..250).map(|i| format!("v{i}")).collect();
        let queries = inventory_queries("S1", &ids);
        assert_eq!(queries.len(), 3);
        assert_eq!(queries[2][1].1.split(',').count(), 50);
        assert_eq!(queries[0][0], ("store_ids".to_string(), "S1".to_string()));
    }
}
