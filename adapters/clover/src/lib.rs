//! The SnapAct adapter for Clover: inventory items and item stocks to SnapAct
//! catalog changes, Clover's thin webhooks, polling by `modifiedTime`, and
//! SnapAct orders pushed as Clover atomic orders paid with an external tender.
//!
//! The mapping lives in plain modules ([`records`], [`item`], [`webhook`],
//! [`poll`], [`order`]) that never call the host, so they are tested natively;
//! [`Clover`] wires them to the host's `settings`, `signatures`, `log` and
//! `pos-http` imports. README.md has the field-by-field mapping.
//!
//! ```
//! use snapact_adapter_clover::config::Settings;
//! use snapact_adapter_clover::records::{self, Payload};
//! use snapact_adapter_sdk::{Change, json};
//!
//! let settings = Settings::from_lookup(|key| match key {
//!     "currency" => Some("USD".to_string()),
//!     "prices_include_tax" => Some("false".to_string()),
//!     "tax_rate_percent" => Some("8.875".to_string()),
//!     _ => None,
//! })?;
//! let doc = json::parse(br#"{"id":"9J1F7WW503CZW","name":"Caesar Salad","price":1200,
//!     "priceType":"FIXED","itemStock":{"quantity":160.5},"modifiedTime":1611609459000}"#)?;
//! let Payload::Records(mapped) = records::read(&doc, &settings)? else {
//!     unreachable!("an item is a record")
//! };
//! let Change::Upsert(item) = &mapped.changes[0] else { unreachable!("an item is an upsert") };
//! assert_eq!(item.price.as_ref().map(|p| p.amount_minor), Some(1307)); // 12.00 + 8.875% tax
//! assert_eq!(item.quantity, Some(160)); // 160.5 on the shelf: 160 whole units
//! # Ok::<(), snapact_adapter_sdk::AdapterError>(())
//! ```

pub mod config;
pub mod item;
pub mod order;
pub mod poll;
pub mod records;
pub mod stock;
pub mod tax;
pub mod upstream;
pub mod webhook;

use config::Settings;
use records::Payload;
use snapact_adapter_sdk::http::{self, Method, Request};
use snapact_adapter_sdk::json::{self, Node, Value};
use snapact_adapter_sdk::{
    Adapter, AdapterError, IncomingWebhook, Mapped, Order, PollPage, PosOrderRef, WebhookOutcome,
    log, signatures,
};

/// The secret holding the Clover Auth Code shown on the app's webhook page.
pub const AUTH_SECRET: &str = "webhook_auth_code";

/// Expansions every item read asks for: stock, category names, tax rates.
pub const ITEM_EXPAND: &str = "itemStock,categories,taxRates";

/// The Clover adapter.
pub struct Clover;

impl Adapter for Clover {
    fn map_records(payload: &[u8], _content_type: &str) -> Result<Mapped, AdapterError> {
        let settings = settings()?;
        let doc = json::parse(payload)?;
        match records::read(&doc, &settings)? {
            Payload::Records(mapped) => Ok(mapped),
            Payload::Verification(code) => {
                log_verification(&code);
                Ok(Mapped::empty())
            }
            Payload::Notification(plan) => {
                let merchant_id = settings.merchant_id()?;
                webhook::resolve(plan, &settings, |id| fetch_item(merchant_id, id))
            }
        }
    }

    fn handle_webhook(req: IncomingWebhook) -> Result<WebhookOutcome, AdapterError> {
        let doc = json::parse(&req.body)?;
        let root = Node::root(&doc);
        // Clover sends the verification body before the auth code exists,
        // so it carries none; it changes nothing, it is only shown.
        if let Some(code) = webhook::verification_code(&root)? {
            log_verification(&code);
            return Ok(WebhookOutcome {
                changes: Vec::new(),
                rejected: Vec::new(),
                request_poll: false,
            });
        }
        let presented = webhook::auth_header(&req.headers)?;
        if !signatures::secret_equals(AUTH_SECRET, presented)? {
            return Err(AdapterError::Unauthenticated(
                "X-Clover-Auth does not match the shop's `webhook_auth_code` secret".into(),
            ));
        }
        let settings = settings()?;
        let merchant_id = settings.merchant_id()?;
        let plan = webhook::plan(&root, merchant_id)?;
        if plan.ignored > 0 {
            log::debug(&format!(
                "ignored {} Clover event(s) for other merchants or non-item objects",
                plan.ignored
            ));
        }
        let mapped = webhook::resolve(plan, &settings, |id| fetch_item(merchant_id, id))?;
        Ok(WebhookOutcome {
            changes: mapped.changes,
            rejected: mapped.rejected,
            request_poll: false,
        })
    }

    fn poll(cursor: Option<String>) -> Result<PollPage, AdapterError> {
        let settings = settings()?;
        let merchant_id = settings.merchant_id()?;
        let cursor = poll::Cursor::parse(cursor.as_deref())?;
        let (path, query) = poll::request(merchant_id, cursor);
        let resp = http::ensure_success(get(path, query)?)?;
        poll::page(&resp.body, cursor, &settings)
    }

    fn push_order(order: Order) -> Result<PosOrderRef, AdapterError> {
        let settings = settings()?;
        let merchant_id = settings.merchant_id()?;
        let tender_id = settings.tender_id()?;
        order::validate(&order, &settings)?;

        let found = http::ensure_success(get(
            format!("/v3/merchants/{merchant_id}/orders"),
            order::lookup_query(&order),
        )?)?;
        let (order_id, paid) = match order::find_existing(&found.body, &order, tender_id)? {
            Some(existing) => {
                log::info(&format!(
                    "SnapAct order {} is already Clover order {}; not creating it again",
                    order.order_id, existing.id
                ));
                (existing.id, existing.paid)
            }
            None => {
                let created = http::ensure_success(http::send_json(
                    Method::Post,
                    &format!("/v3/merchants/{merchant_id}/atomic_order/orders"),
                    &order::atomic_body(&order, &settings),
                )?)?;
                (order::created_order(&created.body)?.id, false)
            }
        };
        if !paid {
            http::ensure_success(http::send_json(
                Method::Post,
                &format!("/v3/merchants/{merchant_id}/orders/{order_id}/payments"),
                &order::payment_body(&order, tender_id),
            )?)?;
        }
        Ok(PosOrderRef {
            id: order_id,
            number: None,
        })
    }
}

// Component exports only exist on the wasm target: their names (`pkg:ns/if#fn`)
// are not valid symbols for a native shared library's linker script.
#[cfg(target_arch = "wasm32")]
snapact_adapter_sdk::export_adapter!(Clover);

fn settings() -> Result<Settings, AdapterError> {
    Settings::from_lookup(snapact_adapter_sdk::settings::get)
}

fn log_verification(code: &str) {
    log::info(&format!(
        "Clover webhook verification code: {code} (paste it into Verification Code on the app's Webhooks page in the Clover developer dashboard, then click Verify)"
    ));
}

/// `GET` with the host resolving the path against the shop's Clover base URL.
fn get(path: String, query: Vec<(String, String)>) -> Result<http::Response, AdapterError> {
    http::send(Request {
        method: Method::Get,
        path,
        query,
        headers: vec![("accept".into(), "application/json".into())],
        body: Vec::new(),
    })
}

/// One item with its stock, categories and tax rates; `None` when Clover
/// answers 404 (deleted since the event).
fn fetch_item(merchant_id: &str, item_id: &str) -> Result<Option<Value>, AdapterError> {
    let resp = get(
        format!("/v3/merchants/{merchant_id}/items/{item_id}"),
        vec![("expand".into(), ITEM_EXPAND.into())],
    )?;
    if resp.status == 404 {
        return Ok(None);
    }
    let resp = http::ensure_success(resp)?;
    json::parse(&resp.body)
        .map(Some)
        .map_err(upstream::from_clover)
}
