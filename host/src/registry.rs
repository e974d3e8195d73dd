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

/// The one place that says which WIT versions this host runs: `0.1.x`,
/// with the bindings of `0.1.0` (the version in `wit/`).
///
/// For `0.x` packages the minor version is the breaking one, as in Cargo's
/// semver rules (so `0.1.x` plays the role `1.x` will), and wasmtime links
/// semver-compatible versions together. So an adapter built against any
/// `0.1.x` is accepted: an older one uses a subset of what this host has; a
/// newer one loads when it uses nothing this host lacks, and is refused at
/// load (before any call), naming what is missing, when it does.
pub const SUPPORTED_WIT: WitSupport = WitSupport {
    major: 0,
    minor: 1,
    patch: 0,
};

/// A range of compatible WIT versions (`major.minor.x` for `0.x`, `major.x`
/// from `1.0`) and the exact version this host was built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitSupport {
    /// Major version.
    pub major: u64,
    /// Minor version.
    pub minor: u64,
    /// Patch version of the host's own bindings.
    pub patch: u64,
}

impl WitSupport {
    /// Whether an adapter built against `version` may run on this host (it
    /// is in the compatible range; a newer one must still link).
    pub fn supports(&self, version: &semver::Version) -> bool {
        let same_track = if self.major == 0 {
            version.major == 0 && version.minor == self.minor
        } else {
            version.major == self.major
        };
        same_track && version.pre.is_empty()
    }

    /// The exact WIT version of this host's bindings, `snapact:adapter@0.1.0`.
    pub fn host_version(&self) -> String {
        format!("{WIT_PACKAGE}@{}.{}.{}", self.major, self.minor, self.patch)
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
        let one = WitSupport {
            major: 1,
            minor: 2,
            patch: 0,
        };
        assert!(one.supports(&v("1.0.0")));
        assert!(
            one.supports(&v("1.7.3")),
            "from 1.0 the major is the breaking part"
        );
        assert!(!one.supports(&v("2.0.0")));
        assert!(!one.supports(&v("0.1.0")));
    }

    #[test]
    fn the_host_version_is_the_one_in_wit() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        for file in ["adapter.wit", "host.wit", "types.wit"] {
            let text = std::fs::read_to_string(root.join(file)).expect("read wit");
            let first = text.lines().next().unwrap_or_default();
            assert_eq!(
                first,
                format!("package {};", SUPPORTED_WIT.host_version()),
                "{file}: bump SUPPORTED_WIT with the WIT package"
            );
        }
    }
}
