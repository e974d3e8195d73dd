//! SnapAct adapter for Loyverse POS.
//!
//! Maps Loyverse items (one SnapAct item per variant, priced and stocked for
//! the shop's `store_id`), inventory levels and the `items.update` /
//! `inventory_levels.update` webhooks to catalog changes, polls the Loyverse
//! API, and records SnapAct orders as Loyverse receipts. The mapping lives in
//! [`mapping`] and is pure, so it is tested natively:
//!
//! ```
//! use snapact_adapter_loyverse::{mapping, settings::Settings};
//! let settings = Settings::from_lookup(|k| match k {
//!     "store_id" => Some("S1".into()),
//!     "currency" => Some("NGN".into()),
//!     _ => None,
//! })
//! .unwrap();
//! let doc = snapact_adapter_sdk::json::parse(br#"{"items":[{"id":"I1","item_name":"Zobo",
//!   "track_stock":false,"variants":[{"variant_id":"V1","default_pricing_type":"FIXED",
//!   "default_price":500,"stores":[]}]}]}"#).unwrap();
//! let mapped = mapping::map_records(&mapping::read_records(&doc).unwrap(), &settings);
//! let json = snapact_adapter_sdk::testing::changes_to_json(&mapped.changes);
//! assert_eq!(json[0]["item"]["price_minor"], 50000);
//! ```
//!
//! The component (`export_adapter!`) reads settings from the host, and
//! reaches Loyverse only through the host's `pos-http`.

pub mod mapping;
pub mod poll;
pub mod receipt;
pub mod settings;
pub mod webhook;

use settings::Settings;
#[cfg(target_arch = "wasm32")]
use snapact_adapter_sdk::export_adapter;
use snapact_adapter_sdk::http::{self, Method, Request};
use snapact_adapter_sdk::json::{self, Node, Value};
use snapact_adapter_sdk::signatures::{self, HmacAlgorithm};
use snapact_adapter_sdk::{
    Adapter, AdapterError, IncomingWebhook, Mapped, Order, PollPage, PosOrderRef, UpstreamError,
    WebhookOutcome, log, not_configured,
};

/// The Loyverse adapter component.
pub struct Loyverse;

impl Adapter for Loyverse {
    fn map_records(payload: &[u8], _content_type: &str) -> Result<Mapped, AdapterError> {
        let settings = shop_settings()?;
        let doc = json::parse(payload)?;
        let records = mapping::read_records(&doc)?;
        Ok(mapping::map_records(&records, &settings))
    }

    fn handle_webhook(req: IncomingWebhook) -> Result<WebhookOutcome, AdapterError> {
        authenticate(&req)?;
        let settings = shop_settings()?;
        let doc = json::parse(&req.body)?;
        let mapped = match webhook::event(&doc)? {
            webhook::Event::Ignored(kind) => {
                log::info(&format!(
                    "ignoring Loyverse webhook {kind:?}: it carries no catalog changes"
                ));
                Mapped::empty()
            }
            webhook::Event::InventoryLevels => {
                mapping::map_records(&mapping::read_records(&doc)?, &settings)
            }
            webhook::Event::Items => {
                let mut records = mapping::read_records(&doc)?;
                // The body has items but not their stock: fetch it, so an
                // upsert never resets a tracked variant's quantity.
                let levels =
                    fetch_levels(&settings, &mapping::tracked_variant_ids(&records.items))?;
                let categories = fetch_categories()?;
                records.levels = levels_of(&levels)?;
                records.categories = categories_of(&categories)?;
                mapping::map_records(&records, &settings)
            }
        };
        Ok(WebhookOutcome {
            changes: mapped.changes,
            rejected: mapped.rejected,
            request_poll: false,
        })
    }

    fn poll(cursor: Option<String>) -> Result<PollPage, AdapterError> {
        let settings = shop_settings()?;
        let cursor = poll::Cursor::decode(cursor.as_deref())?;
        let (path, query) = cursor.request(&settings.store_id);
        let page = get_json(path, query)?;
        let next_page = poll::next_page(&page)?;
        let (mapped, newest) = match cursor.phase {
            poll::Phase::Items => {
                let mut records = mapping::read_records_of(&page, "items")?;
                let newest = poll::newest_time(&records.items);
                let levels =
                    fetch_levels(&settings, &mapping::tracked_variant_ids(&records.items))?;
                let categories = fetch_categories()?;
                records.levels = levels_of(&levels)?;
                records.categories = categories_of(&categories)?;
                (mapping::map_records(&records, &settings), newest)
            }
            poll::Phase::Inventory => {
                let records = mapping::read_records_of(&page, "inventory_levels")?;
                let newest = poll::newest_time(&records.levels);
                (mapping::map_records(&records, &settings), newest)
            }
        };
        let (next, more) = cursor.advance(newest, next_page);
        Ok(PollPage {
            changes: mapped.changes,
            rejected: mapped.rejected,
            cursor: Some(next.encode()),
            more,
        })
    }

    fn push_order(order: Order) -> Result<PosOrderRef, AdapterError> {
        let settings = shop_settings()?;
        let payment_type_id =
            snapact_adapter_sdk::settings::require(settings::keys::PAYMENT_TYPE_ID)?;
        let body = receipt::receipt_body(
            &order,
            &settings.store_id,
            &payment_type_id,
            &settings.currency,
        )?;
        if let Some(existing) = find_receipt(&settings.store_id, &order)? {
            log::info(&format!(
                "SnapAct order {} already has Loyverse receipt {}",
                order.order_id, existing.id
            ));
            return Ok(existing);
        }
        let resp = http::ensure_success(http::send_json(
            Method::Post,
            receipt::RECEIPTS_PATH,
            &body,
        )?)?;
        receipt::created(&parse_response(&resp.body, receipt::RECEIPTS_PATH)?)
    }
}

// Native builds (tests, the rlib) have no component exports: export names
// such as `snapact:adapter/pos-adapter@0.1.0#poll` are not valid symbols for a
// native cdylib's linker.
#[cfg(target_arch = "wasm32")]
export_adapter!(Loyverse);

fn shop_settings() -> Result<Settings, AdapterError> {
    Settings::from_lookup(snapact_adapter_sdk::settings::get).map_err(|e| not_configured(e.0))
}

fn authenticate(req: &IncomingWebhook) -> Result<(), AdapterError> {
    match webhook::credential(&req.headers, &req.url) {
        webhook::Credential::Signature(sig, encoding) => signatures::require_hmac(
            webhook::SIGNATURE_SECRET,
            HmacAlgorithm::Sha1,
            &req.body,
            &sig,
            encoding,
        ),
        webhook::Credential::UrlToken(token) => {
            if signatures::secret_equals(webhook::URL_TOKEN_SECRET, &token)? {
                Ok(())
            } else {
                Err(AdapterError::Unauthenticated(
                    "the webhook URL's token does not match the shop's `webhook_url_token`".into(),
                ))
            }
        }
        webhook::Credential::Missing => Err(webhook::missing_credential()),
    }
}

/// `GET path?query`, a 2xx JSON body, parsed.
fn get_json(path: &str, query: Vec<(String, String)>) -> Result<Value, AdapterError> {
    let resp = http::ensure_success(http::send(Request {
        method: Method::Get,
        path: path.into(),
        query,
        headers: vec![("accept".into(), "application/json".into())],
        body: Vec::new(),
    })?)?;
    parse_response(&resp.body, path)
}

/// A Loyverse answer that is not JSON is Loyverse's fault, not the input's.
fn parse_response(body: &[u8], path: &str) -> Result<Value, AdapterError> {
    json::parse(body).map_err(|e| {
        let detail = match e {
            AdapterError::InvalidInput(d) => d.message,
            other => format!("{other:?}"),
        };
        AdapterError::Upstream(UpstreamError {
            message: format!("Loyverse answered {path} with a body that is not JSON: {detail}"),
            status: None,
            retryable: true,
        })
    })
}

/// Inventory levels at the shop's store for `variant_ids`, one response
/// document per request.
fn fetch_levels(settings: &Settings, variant_ids: &[String]) -> Result<Vec<Value>, AdapterError> {
    let mut docs = Vec::new();
    for base in poll::inventory_queries(&settings.store_id, variant_ids) {
        let mut page: Option<String> = None;
        loop {
            let mut query = base.clone();
            if let Some(p) = &page {
                query.push(("cursor".into(), p.clone()));
            }
            let doc = get_json(poll::INVENTORY_PATH, query)?;
            page = poll::next_page(&doc)?;
            docs.push(doc);
            if page.is_none() {
                break;
            }
        }
    }
    Ok(docs)
}

/// The shop's categories, to name items' `category_id`.
fn fetch_categories() -> Result<Vec<Value>, AdapterError> {
    let mut docs = Vec::new();
    let mut page: Option<String> = None;
    for _ in 0..poll::MAX_CATEGORY_PAGES {
        let doc = get_json(
            poll::CATEGORIES_PATH,
            poll::categories_query(page.as_deref()),
        )?;
        page = poll::next_page(&doc)?;
        docs.push(doc);
        if page.is_none() {
            break;
        }
    }
    Ok(docs)
}

fn levels_of(docs: &[Value]) -> Result<Vec<Node<'_>>, AdapterError> {
    array_field(docs, "inventory_levels")
}

fn categories_of(docs: &[Value]) -> Result<Vec<Node<'_>>, AdapterError> {
    array_field(docs, "categories")
}

fn array_field<'a>(docs: &'a [Value], key: &str) -> Result<Vec<Node<'a>>, AdapterError> {
    let mut all = Vec::new();
    for doc in docs {
        all.extend(Node::root(doc).opt_array(key)?);
    }
    Ok(all)
}

/// The receipt already created for `order`, if a previous attempt made one.
fn find_receipt(store_id: &str, order: &Order) -> Result<Option<PosOrderRef>, AdapterError> {
    let mut page: Option<String> = None;
    for _ in 0..receipt::MAX_LOOKUP_PAGES {
        let query = receipt::lookup_query(store_id, &order.created_at, page.as_deref())?;
        let doc = get_json(receipt::RECEIPTS_PATH, query)?;
        if let Some(found) = receipt::find_existing(&doc, &order.order_id)? {
            return Ok(Some(found));
        }
        page = poll::next_page(&doc)?;
        if page.is_none() {
            return Ok(None);
        }
    }
    Err(AdapterError::Upstream(UpstreamError {
        message: format!(
            "could not confirm that SnapAct order {} has no Loyverse receipt yet: more than {} \
             pages of receipts since the day before it; check Loyverse by hand before retrying",
            order.order_id,
            receipt::MAX_LOOKUP_PAGES
        ),
        status: None,
        retryable: false,
    }))
}
