//! Adapter packages: a folder holding `adapter.toml` (the [`Manifest`]),
//! `adapter.wasm` (a component targeting the world `snapact:adapter/adapter`)
//! and, when signed, `adapter.sig`.
//!
//! A package is checked before anything runs: the manifest is validated,
//! the WIT version it was built against must be one this host supports, the
//! component must export `snapact:adapter/pos-adapter` at that version, and
//! its signature must satisfy the operator's [`TrustPolicy`].
//!
//! - [`signature`]: publisher keys, the signed bytes, `adapter.sig`.
//! - [`archive`]: a package as one deterministic `.tar`.
//! - [`index`]: a registry's `index.json`; [`source`]: reading a registry
//!   (folder or HTTP) and writing a folder one.
//! - [`installed`]: the adapters folder, [`resolve`], list, remove, rollback;
//!   [`install`]: installing from a registry.
//!
//! docs/packages.md describes the formats and the trust model.

pub mod archive;
pub mod build;
pub mod index;
pub mod install;
pub mod installed;
mod manifest;
mod package;
pub mod scaffold;
pub mod signature;
pub mod source;

pub use installed::{Location, ResolveError, ResolveErrorKind, Resolved, resolve};
pub use manifest::{Capabilities, Limits, Manifest, ManifestError, WitRef};
pub use package::{Package, PackageError};
pub use signature::{
    PublisherKey, SIGNATURE_FILE, SecretKey, SignatureError, SignatureFile, SignatureStatus,
    TrustPolicy,
};
pub use source::{RegistrySource, refresh_index};

/// The WIT package adapters are built against.
pub const WIT_PACKAGE: &str = "snapact:adapter";

/// The interface every adapter exports (without its `@version`).
pub const EXPORTED_INTERFACE: &str = "snapact:adapter/pos-adapter";

/// The one place that says which WIT versions this host runs: `0.1.x`.
///
/// For `0.x` packages the minor version is the breaking one, as in Cargo's
/// semver rules, and wasmtime links semver-compatible versions together, so
/// any `0.1.x` adapter runs against this host's `0.1.0` bindings.
pub const SUPPORTED_WIT: WitSupport = WitSupport { major: 0, minor: 1 };

/// A range of compatible WIT versions: `major.minor.x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitSupport {
    /// Major version.
    pub major: u64,
    /// Minor version.
    pub minor: u64,
}

impl WitSupport {
    /// Whether an adapter built against `version` runs on this host.
    pub fn supports(&self, version: &semver::Version) -> bool {
        version.major == self.major && version.minor == self.minor && version.pre.is_empty()
    }
}

impl std::fmt::Display for WitSupport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{WIT_PACKAGE}@{}.{}.x", self.major, self.minor)
    }
}

/// File names inside a package folder.
pub const MANIFEST_FILE: &str = "adapter.toml";
/// The component inside a package folder.
pub const WASM_FILE: &str = "adapter.wasm";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supports_patch_versions_of_the_same_minor_only() {
        let v = |s: &str| semver::Version::parse(s).expect("valid");
        assert!(SUPPORTED_WIT.supports(&v("0.1.0")));
        assert!(SUPPORTED_WIT.supports(&v("0.1.7")));
        assert!(!SUPPORTED_WIT.supports(&v("0.2.0")));
        assert!(!SUPPORTED_WIT.supports(&v("1.1.0")));
        assert!(!SUPPORTED_WIT.supports(&v("0.1.0-rc.1")));
        assert_eq!(SUPPORTED_WIT.to_string(), "snapact:adapter@0.1.x");
    }
}
