//! The host side of the `snapact:adapter` imports, in the shape of
//! `wasmtime-wasi-config`: the generated bindings stay private, a small state
//! struct carries what one call may use, and [`add_to_linker`] wires it up.
//!
//! Only what the manifest declares is reachable: settings and secrets by
//! declared name, `pos-http` to declared hosts. Secret values never leave
//! this module: they are compared, not returned, logged or printed.

mod log;
mod pos_http;
mod settings;
mod signatures;

use super::bindings;
use crate::pos::PosTransport;
use crate::registry::Manifest;
use secrecy::SecretString;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wasmtime::component::{HasSelf, Linker};

/// What one call's imports may use.
pub(crate) struct HostState {
    pub(crate) shop: Arc<str>,
    pub(crate) adapter: Arc<str>,
    pub(crate) version: Arc<str>,
    pub(crate) manifest: Arc<Manifest>,
    /// Declared settings the shop sets.
    pub(crate) settings: BTreeMap<String, String>,
    /// Declared secrets the shop configures.
    pub(crate) secrets: BTreeMap<String, SecretString>,
    pub(crate) pos_base_url: Option<String>,
    pub(crate) pos: Option<Arc<dyn PosTransport>>,
    /// Undeclared names already warned about, per loaded adapter.
    pub(crate) warned: Arc<Mutex<BTreeSet<String>>>,
    /// The call's deadline; host waits (`pos-http`) end there too.
    pub(crate) deadline: Instant,
}

impl HostState {
    /// Log `message` once per loaded adapter and `key`.
    fn warn_once(&self, key: &str, message: impl FnOnce() -> String) {
        let first = self
            .warned
            .lock()
            .map(|mut warned| warned.insert(key.to_string()))
            .unwrap_or(true);
        if first {
            tracing::warn!(shop = %self.shop, adapter = %self.adapter, version = %self.version, "{}", message());
        }
    }
}

impl bindings::types::Host for HostState {}

/// Add the `snapact:adapter` imports to `linker`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut HostState,
) -> wasmtime::Result<()> {
    bindings::Adapter::add_to_linker::<T, HasSelf<HostState>>(linker, get)
}
