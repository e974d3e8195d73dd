//! The SnapAct adapter for Square: Catalog and Inventory to SnapAct items,
//! SnapAct orders to Square orders with an external payment.
//!
//! The mapping is plain Rust with no host imports ([`mapping`],
//! [`inventory`], [`webhook`], [`poll`], [`orders`]); only [`SquareAdapter`]
//! touches the host (settings, signatures, `pos-http`). Native callers pass
//! settings in:
//!
//! ```
//! use snapact_adapter_square::{map_payload, MappingSettings};
//! use snapact_adapter_sdk::testing::changes_to_json;
//!
//! let variation = br#"{"type":"ITEM","id":"ITEM1","version":7,"item_data":{"name":"Jollof Rice",
//!   "variations":[{"type":"ITEM_VARIATION","id":"VAR1","version":7,"item_variation_data":{
//!   "item_id":"ITEM1","name":"Regular","pricing_type":"FIXED_PRICING",
//!   "price_money":{"amount":350000,"currency":"NGN"}}}]}}"#;
//! let settings = MappingSettings { location_id: Some("L1".into()), ..Default::default() };
//! let mapped = map_payload(variation, &settings).unwrap();
//! let json = changes_to_json(&mapped.changes);
//! assert_eq!(json[0]["item"]["external_ref"], "VAR1");
//! assert_eq!(json[0]["item"]["price_minor"], 350000);
//! assert_eq!(json[0]["item"]["name"], "Jollof Rice");
//! ```

pub mod client;
pub mod inventory;
pub mod mapping;
pub mod orders;
pub mod poll;
pub mod settings;
pub mod tax;
pub mod webhook;

#[cfg(test)]
mod fake_square;
#[cfg(test)]
mod golden_tests;

pub use mapping::map_payload;
pub use settings::{MappingSettings, TaxMode};

#[cfg(target_arch = "wasm32")]
use snapact_adapter_sdk::export_adapter;
use snapact_adapter_sdk::json::Value;
use snapact_adapter_sdk::signatures::{HmacAlgorithm, SignatureEncoding};
use snapact_adapter_sdk::{
    Adapter, AdapterError, IncomingWebhook, Mapped, Order, PollPage, PosOrderRef, WebhookOutcome,
    http, signatures,
};

/// The component's exports, backed by the host's imports.
pub struct SquareAdapter;

fn host_settings() -> Result<MappingSettings, AdapterError> {
    MappingSettings::from_lookup(snapact_adapter_sdk::settings::get)
}

/// Square through the host's `pos-http` import (credentials injected by the host).
struct HostSquare;

impl client::Square for HostSquare {
    fn post(&mut self, path: &str, body: &Value) -> Result<Vec<u8>, AdapterError> {
        let response = http::send(http::Request {
            method: http::Method::Post,
            path: path.to_string(),
            query: Vec::new(),
            headers: client::request_headers(),
            body: body.to_string().into_bytes(),
        })?;
        client::check(response.status, response.body)
    }
}

impl Adapter for SquareAdapter {
    fn map_records(payload: &[u8], _content_type: &str) -> Result<Mapped, AdapterError> {
        map_payload(payload, &host_settings()?)
    }

    fn handle_webhook(req: IncomingWebhook) -> Result<WebhookOutcome, AdapterError> {
        let signature = webhook::signature(&req.headers)?;
        let url = webhook::notification_url(
            snapact_adapter_sdk::settings::get(settings::keys::NOTIFICATION_URL),
            &req.url,
        );
        signatures::require_hmac(
            webhook::SIGNATURE_SECRET,
            HmacAlgorithm::Sha256,
            &webhook::signed_message(&url, &req.body),
            signature,
            SignatureEncoding::Base64,
        )?;
        webhook::outcome(&req.body, &host_settings()?)
    }

    fn poll(cursor: Option<String>) -> Result<PollPage, AdapterError> {
        poll::poll(&mut HostSquare, cursor.as_deref(), &host_settings()?)
    }

    fn push_order(order: Order) -> Result<PosOrderRef, AdapterError> {
        let settings = host_settings()?;
        let location = settings.require_location("to create orders in Square")?;
        orders::push(&mut HostSquare, &order, location)
    }
}

// Export symbols only exist in the component: their names (`snapact:adapter/...`)
// are not valid in a native cdylib's linker version script.
#[cfg(target_arch = "wasm32")]
export_adapter!(SquareAdapter);
