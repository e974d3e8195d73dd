//! SnapAct adapter for Shopify (Admin REST API and webhooks).
//!
//! Maps Shopify products to SnapAct items, one per variant (`external_ref`
//! = variant id, kept exact above 2^53), with stock from InventoryLevels at
//! the shop's `location_id`; verifies and maps the `products/*` and
//! `inventory_levels/update` webhooks; polls products by `updated_at_min`
//! with `page_info` cursors; and creates paid orders idempotently. See
//! `README.md` for the field-by-field mapping, settings and limits.
//!
//! The mapping is plain Rust with no host calls, so it runs natively too:
//!
//! ```
//! use snapact_adapter_shopify::{catalog, config::Settings};
//! use snapact_adapter_sdk::{Change, json};
//!
//! let settings = Settings::from_lookup(|key| match key {
//!     "currency" => Some("USD".into()),
//!     "prices_include_tax" => Some("true".into()),
//!     _ => None,
//! })
//! .unwrap();
//! let doc = json::parse(br#"{"product":{"id":788032119674292922,"title":"Example T-Shirt",
//!     "variants":[{"id":642667041472713922,"title":"Small","price":"19.99"}]}}"#).unwrap();
//! let mapped = catalog::map_document(&doc, &settings).unwrap();
//! let Change::Upsert(item) = &mapped.changes[0] else { panic!() };
//! assert_eq!(item.external_ref, "642667041472713922");
//! assert_eq!(item.name, "Example T-Shirt (Small)");
//! assert_eq!(item.price.as_ref().map(|p| p.amount_minor), Some(1999));
//! ```

pub mod catalog;
pub mod config;
pub mod html;
pub mod inventory;
pub mod order;
pub mod poll;
pub mod timestamp;
pub mod webhook;

use std::collections::HashSet;

#[cfg(target_arch = "wasm32")]
use snapact_adapter_sdk::export_adapter;
use snapact_adapter_sdk::http::{self, Request, Response};
use snapact_adapter_sdk::json::{self, Node};
use snapact_adapter_sdk::signatures::{self, HmacAlgorithm, SignatureEncoding};
use snapact_adapter_sdk::{
    Adapter, AdapterError, IncomingWebhook, Mapped, Order, PollPage, PosOrderRef, Rejection,
    UpstreamError, WebhookOutcome, log, settings,
};

use catalog::LocationStock;
use config::Settings;
use webhook::Topic;

/// The Shopify adapter.
pub struct Shopify;

fn shop_settings() -> Result<Settings, AdapterError> {
    Settings::from_lookup(settings::get)
}

impl Adapter for Shopify {
    fn map_records(payload: &[u8], _content_type: &str) -> Result<Mapped, AdapterError> {
        let settings = shop_settings()?;
        let doc = json::parse(payload)?;
        catalog::map_document(&doc, &settings)
    }

    fn handle_webhook(req: IncomingWebhook) -> Result<WebhookOutcome, AdapterError> {
        let signature = webhook::signature(&req.headers)?;
        signatures::require_hmac(
            webhook::SECRET_NAME,
            HmacAlgorithm::Sha256,
            webhook::signed_message(&req.body),
            signature,
            SignatureEncoding::Base64,
        )?;
        let topic = webhook::topic(&req.headers)?;
        let settings = shop_settings()?;
        match topic {
            Topic::ProductsCreate | Topic::ProductsUpdate => {
                let doc = json::parse(&req.body)?;
                let product = Node::root(&doc);
                let stock = fetch_stock(&settings, std::slice::from_ref(&product))?;
                let mut out = Mapped::empty();
                catalog::map_product(&product, &settings, &stock, &mut out, &mut HashSet::new());
                Ok(outcome(out))
            }
            Topic::ProductsDelete => {
                let doc = json::parse(&req.body)?;
                let root = Node::root(&doc);
                let id = root.req("id")?.id_string()?;
                Ok(WebhookOutcome {
                    changes: Vec::new(),
                    rejected: vec![product_deleted(&id)],
                    request_poll: false,
                })
            }
            Topic::InventoryLevelsUpdate => {
                let doc = json::parse(&req.body)?;
                let level = catalog::read_level(&Node::root(&doc))?;
                let location = settings.require_location()?;
                if level.location_id != location {
                    return Ok(outcome(Mapped::empty()));
                }
                let continue_selling = inventory::needs_policy(&level) && {
                    let resp = send_ok(inventory::policy_request(
                        &settings.api_version,
                        &level.inventory_item_id,
                    ))?;
                    inventory::read_policy_response(&resp.body)?
                };
                let mut out = Mapped::empty();
                out.changes
                    .push(catalog::stock_change(&level, &settings, continue_selling));
                Ok(outcome(out))
            }
            Topic::Other(name) => {
                log::info(&format!(
                    "ignoring Shopify webhook topic {name:?}: this adapter maps products/create, products/update, products/delete and inventory_levels/update"
                ));
                Ok(outcome(Mapped::empty()))
            }
        }
    }

    fn poll(cursor: Option<String>) -> Result<PollPage, AdapterError> {
        let settings = shop_settings()?;
        let cursor = poll::Cursor::decode(cursor.as_deref())?;
        let resp = send_ok(cursor.request(&settings.api_version))?;
        let doc = json::parse(&resp.body).map_err(|_| unexpected("products.json", "not JSON"))?;
        let products = Node::root(&doc)
            .req("products")
            .and_then(|n| n.array())
            .map_err(|e| unexpected("products.json", &e.message))?;
        let stock = fetch_stock(&settings, &products)?;
        let mut out = Mapped::empty();
        let mut joined = HashSet::new();
        for product in &products {
            catalog::map_product(product, &settings, &stock, &mut out, &mut joined);
        }
        let (next, more) = cursor.advance(
            poll::newest_updated_at(&products),
            poll::next_page_info(&resp.headers),
        );
        Ok(PollPage {
            changes: out.changes,
            rejected: out.rejected,
            cursor: Some(next.encode()),
            more,
        })
    }

    fn push_order(order: Order) -> Result<PosOrderRef, AdapterError> {
        let settings = shop_settings()?;
        if order.total.currency != settings.currency {
            return Err(snapact_adapter_sdk::invalid_input(
                "$.total.currency",
                format!(
                    "order currency {} differs from the shop currency {} (setting `currency`)",
                    order.total.currency, settings.currency
                ),
            ));
        }
        let create = order::create_request(&settings.api_version, &order)?;
        let found = send_ok(order::lookup_request(&settings.api_version, &order)?)?;
        if let Some(existing) = order::find_existing(&found.body, &order.idempotency_key)? {
            log::info(&format!(
                "SnapAct order {} already exists in Shopify as {}; not creating it again",
                order.order_id, existing.id
            ));
            return Ok(existing);
        }
        let created = send_ok(create)?;
        order::read_created(&created.body)
    }
}

/// Stock at the shop's location for the tracked variants of `products`,
/// fetched in batches Shopify accepts. Empty when the shop uses the summed
/// `inventory_quantity` instead, or nothing is tracked.
fn fetch_stock(settings: &Settings, products: &[Node]) -> Result<LocationStock, AdapterError> {
    let mut stock = LocationStock::default();
    if settings.use_total_inventory_quantity {
        return Ok(stock);
    }
    let items: Vec<String> = products
        .iter()
        .flat_map(catalog::tracked_inventory_items)
        .collect();
    if items.is_empty() {
        return Ok(stock);
    }
    let location = settings.require_location()?;
    for batch in items.chunks(inventory::ITEMS_PER_REQUEST) {
        let resp = send_ok(inventory::levels_request(
            &settings.api_version,
            location,
            batch,
        ))?;
        inventory::read_levels_response(&resp.body, location, &mut stock)?;
    }
    Ok(stock)
}

fn send_ok(req: Request) -> Result<Response, AdapterError> {
    http::ensure_success(http::send(req)?)
}

fn outcome(mapped: Mapped) -> WebhookOutcome {
    WebhookOutcome {
        changes: mapped.changes,
        rejected: mapped.rejected,
        request_poll: false,
    }
}

/// `products/delete` carries only the product id, and the host deletes by
/// variant id: the adapter cannot name the items, so it parks the event
/// for the operator instead of guessing.
fn product_deleted(product_id: &str) -> Rejection {
    Rejection {
        record_id: Some(product_id.to_string()),
        path: Some("$.id".into()),
        message: format!(
            "Shopify deleted product {product_id}; its webhook names no variants, so remove the SnapAct items whose parent_ref is {product_id} (or archive products in Shopify before deleting them, which this adapter maps to deletions)"
        ),
    }
}

fn unexpected(what: &str, why: &str) -> AdapterError {
    AdapterError::Upstream(UpstreamError {
        message: format!("unexpected Shopify response from {what}: {why}"),
        status: None,
        retryable: false,
    })
}

// Native builds (tests, docs) link this crate as a plain library: the
// component exports' names (`snapact:adapter/...`) are only valid in Wasm.
#[cfg(target_arch = "wasm32")]
export_adapter!(Shopify);
