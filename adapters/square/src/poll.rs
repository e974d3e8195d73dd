//! Polling Square: catalog pages with their stock, then the stock that
//! changed on its own.
//!
//! A poll cycle is a series of `poll` calls the host makes while `more` is
//! true. Each cycle:
//!
//! 1. **catalog**: SearchCatalogObjects (ITEMs with related objects; after
//!    the first cycle, only objects changed since the last cycle, deleted
//!    ones and lone variations included), page by page; for a variation that
//!    changed without its item, BatchRetrieveCatalogObjects of the item (its
//!    taxes, category and image are one level further than related objects
//!    reach); for each page, BatchRetrieveInventoryCounts for its variations
//!    at the shop's location, merged into the upserts.
//! 2. **inventory** (incremental cycles only): BatchRetrieveInventoryCounts
//!    for counts at the location changed since the last cycle, as stock
//!    changes. This repairs stock whose `inventory.count.updated` webhook
//!    was missed; stock changes do not change the catalog version.
//!
//! The cursor the host stores is this module's [`PollState`] as JSON. The
//! next cycle starts from the catalog's `latest_time` as of the cycle's
//! first page (so an object changed while paging is fetched again next
//! cycle, never missed).

use std::collections::HashMap;

use snapact_adapter_sdk::json::{self, Node, Value};
use snapact_adapter_sdk::{AdapterError, PollPage, Rejection, UpstreamError, invalid_input};

use crate::client::{self, Square};
use crate::inventory;
use crate::mapping::{self, Catalog};
use crate::settings::MappingSettings;

/// SearchCatalogObjects.
pub const SEARCH_PATH: &str = "/v2/catalog/search";
/// BatchRetrieveCatalogObjects.
pub const BATCH_RETRIEVE_PATH: &str = "/v2/catalog/batch-retrieve";
/// BatchRetrieveInventoryCounts.
pub const COUNTS_PATH: &str = "/v2/inventory/counts/batch-retrieve";
/// Objects per catalog page (Square caps it at 1,000; 100 keeps each page's
/// inventory request and the host's batch small).
pub const PAGE_LIMIT: u32 = 100;
/// Variation ids per inventory request (Square's documented maximum).
pub const IDS_PER_COUNTS_REQUEST: usize = 1000;
/// Pages of one inventory query before the adapter gives up on a cursor
/// that never ends.
const MAX_COUNT_PAGES: usize = 1000;

/// Which half of the cycle a cursor is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Catalog pages.
    #[default]
    Catalog,
    /// Changed inventory counts.
    Inventory,
}

/// Everything a poll needs to carry from one call to the next.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PollState {
    /// The half of the cycle the next call does.
    pub phase: Phase,
    /// Catalog changes after this time (`begin_time`); `None`: everything.
    pub since: Option<String>,
    /// Counts changed after this time (`updated_after`).
    pub inventory_since: Option<String>,
    /// Square's page cursor within the current phase.
    pub page: Option<String>,
    /// `latest_time` of this cycle's first catalog page: the next `since`.
    pub next_since: Option<String>,
    /// Latest `calculated_at` seen in this cycle's inventory phase.
    pub inventory_max: Option<String>,
}

impl PollState {
    /// Read the host's opaque cursor (`None`: start with a full sync).
    pub fn decode(cursor: Option<&str>) -> Result<PollState, AdapterError> {
        let Some(text) = cursor.filter(|c| !c.trim().is_empty()) else {
            return Ok(PollState::default());
        };
        let bad = || {
            invalid_input(
                "$",
                "the poll cursor was not written by this Square adapter version: clear the shop's cursor to resync",
            )
        };
        let doc = json::parse(text.as_bytes()).map_err(|_| bad())?;
        let root = Node::root(&doc);
        if root.value.get("v").and_then(|v| v.as_u64()) != Some(1) {
            return Err(bad());
        }
        let field = |key: &str| -> Result<Option<String>, AdapterError> {
            Ok(root.opt_str(key).map_err(|_| bad())?.map(str::to_string))
        };
        let phase = match root.opt_str("phase").map_err(|_| bad())? {
            None | Some("catalog") => Phase::Catalog,
            Some("inventory") => Phase::Inventory,
            Some(_) => return Err(bad()),
        };
        Ok(PollState {
            phase,
            since: field("since")?,
            inventory_since: field("inventory_since")?,
            page: field("page")?,
            next_since: field("next_since")?,
            inventory_max: field("inventory_max")?,
        })
    }

    /// The cursor string the host stores.
    pub fn encode(&self) -> String {
        let mut m = serde_json::Map::new();
        m.insert("v".into(), 1.into());
        let phase = match self.phase {
            Phase::Catalog => "catalog",
            Phase::Inventory => "inventory",
        };
        m.insert("phase".into(), phase.into());
        for (key, value) in [
            ("since", &self.since),
            ("inventory_since", &self.inventory_since),
            ("page", &self.page),
            ("next_since", &self.next_since),
            ("inventory_max", &self.inventory_max),
        ] {
            if let Some(v) = value {
                m.insert(key.into(), v.clone().into());
            }
        }
        Value::Object(m).to_string()
    }

    /// The state after a catalog page that answered `cursor` and
    /// `latest_time`, and whether the host should call again now.
    pub fn after_catalog_page(
        &self,
        cursor: Option<String>,
        latest_time: Option<String>,
    ) -> (PollState, bool) {
        let mut next = self.clone();
        if self.page.is_none() {
            next.next_since = latest_time.or_else(|| self.since.clone());
        }
        if cursor.is_some() {
            next.page = cursor;
            return (next, true);
        }
        next.page = None;
        if self.since.is_some() {
            next.phase = Phase::Inventory;
            return (next, true);
        }
        // A full sync fetched every variation's stock with its page.
        next.inventory_since = next.next_since.clone();
        (next.finish_cycle(), false)
    }

    /// The state after an inventory page that answered `cursor`, having
    /// seen counts up to `latest_count` (`calculated_at`, normalised).
    pub fn after_inventory_page(
        &self,
        cursor: Option<String>,
        latest_count: Option<String>,
    ) -> (PollState, bool) {
        let mut next = self.clone();
        next.inventory_max = max_time(next.inventory_max.take(), latest_count);
        if cursor.is_some() {
            next.page = cursor;
            return (next, true);
        }
        next.inventory_since = max_time(next.inventory_since.take(), next.inventory_max.take());
        (next.finish_cycle(), false)
    }

    fn finish_cycle(self) -> PollState {
        PollState {
            phase: Phase::Catalog,
            since: self.next_since.or(self.since),
            inventory_since: self.inventory_since,
            page: None,
            next_since: None,
            inventory_max: None,
        }
    }
}

fn max_time(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let (na, nb) = (inventory::version_of(&a), inventory::version_of(&b));
            Some(if nb > na { b } else { a })
        }
        (a, b) => a.or(b),
    }
}

/// SearchCatalogObjects body for a catalog page.
pub fn search_body(state: &PollState) -> Value {
    let incremental = state.since.is_some();
    let types: &[&str] = if incremental {
        // Variations removed from an item come back only as deleted
        // ITEM_VARIATION objects.
        &["ITEM", "ITEM_VARIATION"]
    } else {
        &["ITEM"]
    };
    let mut body = serde_json::json!({
        "object_types": types,
        "include_related_objects": true,
        "include_deleted_objects": incremental,
        "limit": PAGE_LIMIT,
    });
    if let Some(since) = &state.since {
        body["begin_time"] = since.clone().into();
    }
    if let Some(page) = &state.page {
        body["cursor"] = page.clone().into();
    }
    body
}

/// BatchRetrieveInventoryCounts body: `IN_STOCK` at `location`, for `ids`
/// (or every variation), changed after `updated_after`.
pub fn counts_body(
    location: &str,
    ids: Option<&[String]>,
    updated_after: Option<&str>,
    cursor: Option<&str>,
) -> Value {
    let mut body = serde_json::json!({
        "location_ids": [location],
        "states": ["IN_STOCK"],
        "limit": 1000,
    });
    if let Some(ids) = ids {
        body["catalog_object_ids"] = ids.into();
    }
    if let Some(t) = updated_after {
        body["updated_after"] = t.into();
    }
    if let Some(c) = cursor {
        body["cursor"] = c.into();
    }
    body
}

/// One `poll` call: the next page of the cycle `cursor` is in.
pub fn poll(
    square: &mut impl Square,
    cursor: Option<&str>,
    settings: &MappingSettings,
) -> Result<PollPage, AdapterError> {
    let location = settings.require_location("to poll Square")?.to_string();
    let state = PollState::decode(cursor)?;
    match state.phase {
        Phase::Catalog => catalog_page(square, &state, settings, &location),
        Phase::Inventory => inventory_page(square, &state, settings, &location),
    }
}

fn catalog_page(
    square: &mut impl Square,
    state: &PollState,
    settings: &MappingSettings,
    location: &str,
) -> Result<PollPage, AdapterError> {
    const ENDPOINT: &str = "SearchCatalogObjects";
    let raw = square.post(SEARCH_PATH, &search_body(state))?;
    let doc = client::parse_body(&raw, ENDPOINT)?;
    let root = Node::root(&doc);
    let catalog = client::read(ENDPOINT, &root, |r| {
        Ok(Catalog {
            objects: r.opt_array("objects")?,
            related: r.opt_array("related_objects")?,
        })
    })?;
    let cursor = client::read(ENDPOINT, &root, |r| r.opt_str("cursor"))?.map(str::to_string);
    let latest = client::read(ENDPOINT, &root, |r| r.opt_str("latest_time"))?.map(str::to_string);
    if cursor.is_some() && cursor == state.page {
        return Err(stuck_cursor(ENDPOINT));
    }
    // A variation changed on its own comes with its parent ITEM but not the
    // item's taxes, categories or images: fetch those items in full.
    let parents = mapping::orphan_parent_ids(&catalog);
    let parents_doc = if parents.is_empty() {
        None
    } else {
        let body = serde_json::json!({"object_ids": parents, "include_related_objects": true});
        let raw = square.post(BATCH_RETRIEVE_PATH, &body)?;
        Some(client::parse_body(&raw, "BatchRetrieveCatalogObjects")?)
    };
    let mut catalog = catalog;
    if let Some(doc) = &parents_doc {
        let parents_root = Node::root(doc);
        let (objects, related) = client::read("BatchRetrieveCatalogObjects", &parents_root, |r| {
            Ok((r.opt_array("objects")?, r.opt_array("related_objects")?))
        })?;
        catalog.objects.extend(objects);
        catalog.related.extend(related);
    }
    let ids = mapping::live_variation_ids(&catalog);
    let mut count_rejections = Vec::new();
    let stock = fetch_stock(square, location, &ids, &mut count_rejections)?;
    let mut mapped = mapping::map_catalog(&catalog, settings, Some(&stock));
    mapped.rejected.extend(count_rejections);
    let (next, more) = state.after_catalog_page(cursor, latest);
    Ok(PollPage {
        changes: mapped.changes,
        rejected: mapped.rejected,
        cursor: Some(next.encode()),
        more,
    })
}

/// Whole units in stock at `location` for `ids`, following Square's pages.
fn fetch_stock(
    square: &mut impl Square,
    location: &str,
    ids: &[String],
    rejected: &mut Vec<Rejection>,
) -> Result<HashMap<String, i64>, AdapterError> {
    const ENDPOINT: &str = "BatchRetrieveInventoryCounts";
    let mut stock = HashMap::new();
    for chunk in ids.chunks(IDS_PER_COUNTS_REQUEST) {
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_COUNT_PAGES {
            let body = counts_body(location, Some(chunk), None, cursor.as_deref());
            let raw = square.post(COUNTS_PATH, &body)?;
            let doc = client::parse_body(&raw, ENDPOINT)?;
            let root = Node::root(&doc);
            let counts = client::read(ENDPOINT, &root, |r| r.opt_array("counts"))?;
            stock.extend(inventory::stock_by_variation(&counts, location, rejected));
            let next = client::read(ENDPOINT, &root, |r| r.opt_str("cursor"))?.map(str::to_string);
            if next.is_none() {
                break;
            }
            if next == cursor {
                return Err(stuck_cursor(ENDPOINT));
            }
            cursor = next;
        }
    }
    Ok(stock)
}

fn inventory_page(
    square: &mut impl Square,
    state: &PollState,
    settings: &MappingSettings,
    location: &str,
) -> Result<PollPage, AdapterError> {
    const ENDPOINT: &str = "BatchRetrieveInventoryCounts";
    let body = counts_body(
        location,
        None,
        state.inventory_since.as_deref(),
        state.page.as_deref(),
    );
    let raw = square.post(COUNTS_PATH, &body)?;
    let doc = client::parse_body(&raw, ENDPOINT)?;
    let root = Node::root(&doc);
    let counts = client::read(ENDPOINT, &root, |r| r.opt_array("counts"))?;
    let cursor = client::read(ENDPOINT, &root, |r| r.opt_str("cursor"))?.map(str::to_string);
    if cursor.is_some() && cursor == state.page {
        return Err(stuck_cursor(ENDPOINT));
    }
    let latest = counts
        .iter()
        .filter_map(|c| c.value.get("calculated_at").and_then(|t| t.as_str()))
        .map(str::to_string)
        .fold(None, |acc, t| max_time(acc, Some(t)));
    let mapped = inventory::map_counts(&counts, settings, location);
    let (next, more) = state.after_inventory_page(cursor, latest);
    Ok(PollPage {
        changes: mapped.changes,
        rejected: mapped.rejected,
        cursor: Some(next.encode()),
        more,
    })
}

fn stuck_cursor(endpoint: &str) -> AdapterError {
    AdapterError::Upstream(UpstreamError {
        message: format!(
            "Square's {endpoint} returned the same page cursor twice; stopping instead of looping"
        ),
        status: None,
        retryable: true,
    })
}

#[cfg(test)]
mod tests;
