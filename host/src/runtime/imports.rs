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
    /// See [`ShopContext::local_pos`](crate::runtime::ShopContext::local_pos).
    pub(crate) local_pos: bool,
    /// Counts the shop's `pos-http` requests by status.
    pub(crate) metrics: Option<Arc<crate::metrics::ShopMetrics>>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::settings::Host as _;
    use crate::runtime::bindings::signatures::{
        HmacAlgorithm, Host as _, SecretError, SignatureEncoding,
    };
    use std::path::Path;

    fn state() -> HostState {
        let manifest = Manifest::parse(
            "id = \"demo\"\nversion = \"1.0.0\"\nwit = \"snapact:adapter@0.1.0\"\nvendor = \"Demo\"\n\
             [capabilities]\nsecrets = [\"webhook_key\", \"missing_key\"]\nsettings = [\"currency\"]\n",
            Path::new("adapter.toml"),
        )
        .expect("manifest");
        HostState {
            shop: "shop".into(),
            adapter: "demo".into(),
            version: "1.0.0".into(),
            manifest: Arc::new(manifest),
            settings: BTreeMap::from([("currency".to_string(), "NGN".to_string())]),
            secrets: BTreeMap::from([("webhook_key".to_string(), SecretString::from("Jefe"))]),
            pos_base_url: None,
            pos: None,
            local_pos: false,
            metrics: None,
            warned: Arc::default(),
            deadline: Instant::now(),
        }
    }

    const MSG: &[u8] = b"what do ya want for nothing?";
    const SHA256_HEX: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

    #[test]
    fn declared_secret_verifies_by_name() {
        let mut s = state();
        let ok = s.verify_hmac(
            "webhook_key".into(),
            HmacAlgorithm::Sha256,
            MSG.to_vec(),
            SHA256_HEX.into(),
            SignatureEncoding::Hex,
        );
        assert!(matches!(ok, Ok(true)));
        assert!(matches!(
            s.secret_equals("webhook_key".into(), "Jefe".into()),
            Ok(true)
        ));
        assert!(matches!(
            s.secret_equals("webhook_key".into(), "jefe".into()),
            Ok(false)
        ));
    }

    #[test]
    fn undeclared_or_unconfigured_secrets_are_refused() {
        let mut s = state();
        let undeclared = s.verify_hmac(
            "admin_password".into(),
            HmacAlgorithm::Sha256,
            MSG.to_vec(),
            SHA256_HEX.into(),
            SignatureEncoding::Hex,
        );
        assert!(matches!(undeclared, Err(SecretError::NotDeclared(n)) if n == "admin_password"));
        assert!(matches!(
            s.secret_equals("missing_key".into(), "x".into()),
            Err(SecretError::NotConfigured(n)) if n == "missing_key"
        ));
        assert!(
            s.warned
                .lock()
                .expect("lock")
                .contains("secret:admin_password")
        );
    }

    #[test]
    fn only_declared_settings_are_visible() {
        let mut s = state();
        assert_eq!(s.get("currency".into()), Some("NGN".into()));
        s.settings.insert("location_id".into(), "L1".into());
        assert_eq!(s.get("location_id".into()), None);
        assert!(
            s.warned
                .lock()
                .expect("lock")
                .contains("setting:location_id")
        );
    }
}
