//! Everything a Rust adapter for the SnapAct POS adapter host depends on.
//!
//! An adapter is a WebAssembly component that translates one POS vendor's
//! records into SnapAct catalog changes, and SnapAct orders into POS orders.
//! It runs sandboxed in the host: no sockets, files or environment. It reaches
//! the POS only through [`http`] (the host injects credentials), verifies
//! webhook signatures through [`signatures`] (the host holds the secret), and
//! reads per-shop [`settings`].
//!
//! Implement [`Adapter`] (every method defaults to `unsupported`) and export
//! it with [`export_adapter!`]:
//!
//! ```no_run
//! use snapact_adapter_sdk::{Adapter, AdapterError, Mapped, export_adapter};
//!
//! struct MyPos;
//!
//! impl Adapter for MyPos {
//!     fn map_records(payload: &[u8], _content_type: &str) -> Result<Mapped, AdapterError> {
//!         let _doc = snapact_adapter_sdk::json::parse(payload)?;
//!         Ok(Mapped { changes: Vec::new(), rejected: Vec::new() })
//!     }
//! }
//!
//! export_adapter!(MyPos);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --profile adapter` and
//! package it with `snapact-host adapter build DIR`.
#![deny(missing_docs)]

pub mod availability;
pub mod http;
pub mod json;
pub mod log;
#[cfg(any(target_arch = "wasm32", test))]
mod mem;
pub mod money;
pub mod settings;
pub mod signatures;
pub mod testing;

/// Bindings generated from the WIT package `snapact:adapter` in `../wit`.
#[allow(missing_docs, reason = "generated from the documented WIT")]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "adapter",
        pub_export_macro: true,
        export_macro_name: "export_bindings",
        default_bindings_module: "snapact_adapter_sdk::bindings",
        generate_all,
    });
}

pub use bindings::snapact::adapter::types::{
    AdapterError, Availability, Change, Deletion, ErrorDetail, Fulfillment, IncomingWebhook, Item,
    Mapped, Money, Order, OrderLine, OrderStatus, OrderStatusUpdate, PollPage, PosOrderRef,
    Rejection, StockTarget, StockUpdate, UpstreamError, WebhookOutcome,
};

/// The WIT version this SDK builds adapters against; write it as `wit` in
/// `adapter.toml`.
pub const WIT_VERSION: &str = "snapact:adapter@0.1.0";

/// A POS adapter. Every method has a default that answers `unsupported`, so
/// an adapter implements only what its POS offers. Methods take no `self`:
/// the host runs each call in a fresh instance, so there is no state to keep.
pub trait Adapter {
    /// Map a payload of native POS records to changes, one rejection per bad
    /// record. Only an unreadable payload is an error.
    fn map_records(payload: &[u8], content_type: &str) -> Result<Mapped, AdapterError> {
        let _ = (payload, content_type);
        Err(unsupported("map-records"))
    }

    /// Verify and map a POS webhook.
    fn handle_webhook(req: IncomingWebhook) -> Result<WebhookOutcome, AdapterError> {
        let _ = req;
        Err(unsupported("handle-webhook"))
    }

    /// Fetch one page of changes through [`http`].
    fn poll(cursor: Option<String>) -> Result<PollPage, AdapterError> {
        let _ = cursor;
        Err(unsupported("poll"))
    }

    /// Create a paid order in the POS through [`http`], idempotently.
    fn push_order(order: Order) -> Result<PosOrderRef, AdapterError> {
        let _ = order;
        Err(unsupported("push-order"))
    }

    /// An order pushed earlier changed status on SnapAct.
    fn order_status_changed(update: OrderStatusUpdate) -> Result<(), AdapterError> {
        let _ = update;
        Err(unsupported("order-status-changed"))
    }
}

/// `AdapterError::Unsupported` naming what this adapter does not do.
pub fn unsupported(what: &str) -> AdapterError {
    AdapterError::Unsupported(format!("this adapter does not support {what}"))
}

/// `AdapterError::InvalidInput` at a JSON path.
pub fn invalid_input(path: impl Into<String>, message: impl Into<String>) -> AdapterError {
    AdapterError::InvalidInput(ErrorDetail {
        message: message.into(),
        path: Some(path.into()),
    })
}

/// `AdapterError::NotConfigured` naming the missing setting or secret.
pub fn not_configured(message: impl Into<String>) -> AdapterError {
    AdapterError::NotConfigured(message.into())
}

impl Mapped {
    /// No changes, no rejections.
    pub fn empty() -> Self {
        Mapped {
            changes: Vec::new(),
            rejected: Vec::new(),
        }
    }
}

/// Export `$adapter` (a type implementing [`Adapter`]) as this component's
/// `snapact:adapter/adapter` implementation. Use it once per adapter crate.
#[macro_export]
macro_rules! export_adapter {
    ($adapter:ty) => {
        // Only a Wasm component exports the interface: native builds of the
        // same crate (unit tests, benchmarks) must link without these symbols.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __SnapactAdapterExport;

            impl $crate::bindings::exports::snapact::adapter::pos_adapter::Guest for __SnapactAdapterExport {
                fn map_records(
                    payload: ::std::vec::Vec<u8>,
                    content_type: ::std::string::String,
                ) -> ::std::result::Result<$crate::Mapped, $crate::AdapterError> {
                    <$adapter as $crate::Adapter>::map_records(&payload, &content_type)
                }

                fn handle_webhook(
                    req: $crate::IncomingWebhook,
                ) -> ::std::result::Result<$crate::WebhookOutcome, $crate::AdapterError> {
                    <$adapter as $crate::Adapter>::handle_webhook(req)
                }

                fn poll(
                    cursor: ::std::option::Option<::std::string::String>,
                ) -> ::std::result::Result<$crate::PollPage, $crate::AdapterError> {
                    <$adapter as $crate::Adapter>::poll(cursor)
                }

                fn push_order(
                    order: $crate::Order,
                ) -> ::std::result::Result<$crate::PosOrderRef, $crate::AdapterError> {
                    <$adapter as $crate::Adapter>::push_order(order)
                }

                fn order_status_changed(
                    update: $crate::OrderStatusUpdate,
                ) -> ::std::result::Result<(), $crate::AdapterError> {
                    <$adapter as $crate::Adapter>::order_status_changed(update)
                }
            }

            $crate::bindings::export_bindings!(__SnapactAdapterExport with_types_in $crate::bindings);
        };
    };
}
