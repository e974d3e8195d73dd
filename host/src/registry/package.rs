//! Opening a package folder: manifest, component bytes, digest, and the
//! checks that must pass before the component is compiled or instantiated.
#![expect(
    clippy::result_large_err,
    reason = "package errors are built once per load and carry what the operator needs to read"
)]

use super::{
    EXPORTED_INTERFACE, MANIFEST_FILE, Manifest, ManifestError, SUPPORTED_WIT, WASM_FILE,
    WIT_PACKAGE,
};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A checked adapter package, ready to be loaded by the runtime.
#[derive(Debug, Clone)]
pub struct Package {
    dir: PathBuf,
    manifest: Manifest,
    wasm: Arc<[u8]>,
    digest: [u8; 32],
    exports: Vec<String>,
    imports: Vec<String>,
}

/// Why a package cannot be used. Every variant names the file and says what
/// to do.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// A file of the package cannot be read.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error: part of the message, and so not also a `source`
        /// (which `{:#}` would print a second time).
        error: std::io::Error,
    },
    /// `adapter.toml` is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Built against a WIT version this host does not run.
    #[error(
        "{}: adapter {id}@{version} needs {needs}, but this host supports {supported}; \
         install a version of the adapter built for {supported}, or a host that supports {needs}",
        path.display()
    )]
    IncompatibleWit {
        /// The manifest.
        path: PathBuf,
        /// Adapter id.
        id: String,
        /// Adapter version.
        version: semver::Version,
        /// What the adapter needs (`snapact:adapter@0.2.0`).
        needs: String,
        /// What this host supports (`snapact:adapter@0.1.x`).
        supported: String,
    },
    /// `adapter.wasm` is not a component.
    #[error("{}: {reason}; rebuild it with `snapact-host adapter build` (target wasm32-wasip2)", path.display())]
    NotAComponent {
        /// The wasm file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The component does not export the adapter interface the manifest
    /// promises.
    #[error(
        "{}: the component does not export `{expected}` (it exports: {}); \
         export the adapter with `snapact_adapter_sdk::export_adapter!` and set `wit` in adapter.toml \
         to the version it was built with",
        path.display(),
        if found.is_empty() { "nothing".to_string() } else { found.join(", ") }
    )]
    MissingExport {
        /// The wasm file.
        path: PathBuf,
        /// `snapact:adapter/pos-adapter@0.1.0`.
        expected: String,
        /// The component's exports.
        found: Vec<String>,
    },
}

impl Package {
    /// Open and check the package folder `dir`.
    pub fn open(dir: &Path) -> Result<Package, PackageError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let manifest = Manifest::load(&manifest_path)?;
        check_wit(&manifest, &manifest_path)?;

        let wasm_path = dir.join(WASM_FILE);
        let wasm = std::fs::read(&wasm_path).map_err(|error| PackageError::Io {
            path: wasm_path.clone(),
            error,
        })?;
        let digest: [u8; 32] = Sha256::digest(&wasm).into();
        let (imports, exports) = component_names(&wasm, &wasm_path)?;

        let expected = format!("{EXPORTED_INTERFACE}@{}", manifest.wit.version);
        if !exports.iter().any(|e| e == &expected) {
            return Err(PackageError::MissingExport {
                path: wasm_path,
                expected,
                found: exports,
            });
        }

        Ok(Package {
            dir: dir.to_path_buf(),
            manifest,
            wasm: wasm.into(),
            digest,
            exports,
            imports,
        })
    }

    /// The package folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The validated manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The component bytes.
    pub fn wasm(&self) -> &[u8] {
        &self.wasm
    }

    /// sha256 of `adapter.wasm`.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// sha256 of `adapter.wasm`, lower-case hex.
    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest)
    }

    /// The component's top-level export names.
    pub fn exports(&self) -> &[String] {
        &self.exports
    }

    /// The component's top-level import names (WASI and `snapact:adapter`
    /// interfaces).
    pub fn imports(&self) -> &[String] {
        &self.imports
    }
}

fn check_wit(manifest: &Manifest, path: &Path) -> Result<(), PackageError> {
    if manifest.wit.package == WIT_PACKAGE && SUPPORTED_WIT.supports(&manifest.wit.version) {
        return Ok(());
    }
    Err(PackageError::IncompatibleWit {
        path: path.to_path_buf(),
        id: manifest.id.clone(),
        version: manifest.version.clone(),
        needs: manifest.wit.to_string(),
        supported: SUPPORTED_WIT.to_string(),
    })
}

/// Top-level import and export names of a component, read without compiling
/// it. Nested modules and components are skipped.
fn component_names(wasm: &[u8], path: &Path) -> Result<(Vec<String>, Vec<String>), PackageError> {
    use wasmparser::{Encoding, Parser, Payload};

    let bad = |reason: String| PackageError::NotAComponent {
        path: path.to_path_buf(),
        reason,
    };
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| bad(format!("not a valid WebAssembly binary ({e})")))?;
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding == Encoding::Module {
                    return Err(bad(
                        "it is a core WebAssembly module, not a component".to_string()
                    ));
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let import =
                        import.map_err(|e| bad(format!("unreadable import section ({e})")))?;
                    imports.push(import.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export =
                        export.map_err(|e| bad(format!("unreadable export section ({e})")))?;
                    exports.push(export.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok((imports, exports))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_package(dir: &Path, wit: &str, wasm: &[u8]) {
        let manifest =
            format!("id = \"demo\"\nversion = \"1.0.0\"\nwit = \"{wit}\"\nvendor = \"Demo\"\n");
        std::fs::write(dir.join(MANIFEST_FILE), manifest).expect("write manifest");
        std::fs::write(dir.join(WASM_FILE), wasm).expect("write wasm");
    }

    #[test]
    fn incompatible_wit_is_refused_naming_both_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_package(dir.path(), "snapact:adapter@0.2.0", b"\0asm");
        let e = Package::open(dir.path()).expect_err("incompatible");
        assert!(matches!(e, PackageError::IncompatibleWit { .. }));
        let shown = e.to_string();
        assert!(
            shown.contains("adapter demo@1.0.0 needs snapact:adapter@0.2.0, but this host supports snapact:adapter@0.1.x"),
            "{shown}"
        );
    }

    #[test]
    fn other_wit_package_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_package(dir.path(), "acme:pos@0.1.0", b"\0asm");
        let e = Package::open(dir.path()).expect_err("other package");
        assert!(e.to_string().contains("needs acme:pos@0.1.0"), "{e}");
    }

    #[test]
    fn core_module_is_not_a_component() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The smallest valid core module: magic + version 1.
        write_package(dir.path(), "snapact:adapter@0.1.0", b"\0asm\x01\0\0\0");
        let e = Package::open(dir.path()).expect_err("core module");
        assert!(
            e.to_string()
                .contains("core WebAssembly module, not a component"),
            "{e}"
        );
    }

    #[test]
    fn component_without_the_adapter_export_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The smallest valid component: magic + component version/layer.
        write_package(dir.path(), "snapact:adapter@0.1.0", b"\0asm\x0d\0\x01\0");
        let e = Package::open(dir.path()).expect_err("no export");
        let shown = e.to_string();
        assert!(
            shown.contains(
                "does not export `snapact:adapter/pos-adapter@0.1.0` (it exports: nothing)"
            ),
            "{shown}"
        );
    }

    #[test]
    fn missing_wasm_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_package(dir.path(), "snapact:adapter@0.1.0", b"");
        std::fs::remove_file(dir.path().join(WASM_FILE)).expect("remove");
        let e = Package::open(dir.path()).expect_err("missing");
        assert!(e.to_string().contains("adapter.wasm"), "{e}");
    }
}
