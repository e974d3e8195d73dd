//! Building an adapter (Rust, Python or JavaScript) into a package folder.
//!
//! The language is told by the folder's files: `Cargo.toml` is Rust,
//! `app.py` is Python (componentize-py), `package.json` + `src/adapter.js`
//! is JavaScript (componentize-js).
//!
//! `cargo build --target wasm32-wasip2 --profile adapter` emits the component;
//! the package is `adapter.wasm` plus the `adapter.toml` kept next to the
//! crate's `Cargo.toml`. The package is checked (as [`Package::open`] does)
//! in a staging folder and only then moved into place, so a failed build
//! never leaves a half-written package where the host loads from.

use super::{MANIFEST_FILE, Manifest, Package, WASM_FILE};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod js;
pub mod python;

/// The language an adapter is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// A Rust crate built for wasm32-wasip2.
    Rust,
    /// `app.py`, built with componentize-py.
    Python,
    /// `src/adapter.js`, built with componentize-js.
    JavaScript,
}

/// The adapter language of `dir`, by its files.
pub fn detect_language(dir: &Path) -> Option<Language> {
    if dir.join("Cargo.toml").is_file() {
        Some(Language::Rust)
    } else if dir.join("app.py").is_file() {
        Some(Language::Python)
    } else if js::is_js_adapter(dir) {
        Some(Language::JavaScript)
    } else {
        None
    }
}

/// Build the adapter in `dir`, whatever its language, into `<out_root>/<id>/`.
pub fn build_adapter(dir: &Path, out_root: &Path) -> anyhow::Result<PathBuf> {
    // The tools run in the adapter's folder: paths given relative to ours
    // must not be read relative to theirs.
    let dir = &std::path::absolute(dir)
        .with_context(|| format!("failed to resolve {}", dir.display()))?;
    let language = detect_language(dir).with_context(|| {
        format!(
            "{} is not an adapter source folder: expected Cargo.toml (Rust), app.py (Python) \
             or package.json + {} (JavaScript) next to adapter.toml",
            dir.display(),
            js::ENTRY
        )
    })?;
    if language == Language::Rust {
        return build_rust_adapter(dir, out_root);
    }
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest = Manifest::load(&manifest_path)?;
    let wit = wit_dir(dir)?;
    std::fs::create_dir_all(out_root)
        .with_context(|| format!("failed to create {}", out_root.display()))?;
    let built = out_root.join(format!(
        ".{}.build-{}.wasm",
        manifest.id,
        std::process::id()
    ));
    let result = match language {
        Language::Python => python::build_python_adapter(dir, &wit, &built),
        _ => js::build_js_adapter(dir, &wit, &built),
    }
    .and_then(|()| install(&built, &manifest_path, out_root, &manifest.id));
    let _ = std::fs::remove_file(&built);
    result
}

/// The WIT package an adapter builds against: the nearest `wit/` folder above
/// it (the repository's), else the one this host was built with.
fn wit_dir(adapter_dir: &Path) -> anyhow::Result<PathBuf> {
    let abs = std::path::absolute(adapter_dir)
        .with_context(|| format!("failed to resolve {}", adapter_dir.display()))?;
    for dir in abs.ancestors() {
        let candidate = dir.join("wit");
        if candidate.join("adapter.wit").is_file() {
            return Ok(candidate);
        }
    }
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    if built_in.join("adapter.wit").is_file() {
        return Ok(built_in);
    }
    bail!(
        "cannot find the WIT package (a wit/ folder with adapter.wit) above {}",
        adapter_dir.display()
    )
}

/// The Rust target adapters are built for.
pub const RUST_TARGET: &str = "wasm32-wasip2";
/// The Cargo profile adapters are built with (see the workspace `Cargo.toml`).
pub const RUST_PROFILE: &str = "adapter";

/// Build the Rust adapter crate at `dir` and write its package to
/// `<out_root>/<id>/`, replacing an older build of the same id. Returns the
/// package folder.
pub fn build_rust_adapter(dir: &Path, out_root: &Path) -> anyhow::Result<PathBuf> {
    build_rust_adapter_with_target_dir(dir, out_root, None)
}

/// [`build_rust_adapter`] with Cargo's output in `target_dir` (`--target-dir`)
/// rather than the crate's own target directory: a crate that is a workspace
/// of its own, as `adapter new` makes them, then reuses the dependencies
/// another workspace has already compiled.
pub fn build_rust_adapter_with_target_dir(
    dir: &Path,
    out_root: &Path,
    target_dir: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    let dir = &std::path::absolute(dir)
        .with_context(|| format!("failed to resolve {}", dir.display()))?;
    let cargo_toml = dir.join("Cargo.toml");
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest = Manifest::load(&manifest_path)?;
    let package_name = package_name(&cargo_toml)?;
    ensure_target_installed(dir)?;

    let (metadata_target_dir, lib_name) = cargo_metadata(&cargo_toml, &package_name)?;
    let target_dir = match target_dir {
        Some(t) => {
            std::path::absolute(t).with_context(|| format!("failed to resolve {}", t.display()))?
        }
        None => metadata_target_dir,
    };
    let output = Command::new(cargo())
        .current_dir(dir)
        .arg("build")
        .arg("--manifest-path")
        .arg(&cargo_toml)
        .args([
            "-p",
            &package_name,
            "--target",
            RUST_TARGET,
            "--profile",
            RUST_PROFILE,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .output()
        .with_context(|| format!("failed to run cargo to build {}", dir.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("target may not be installed")
            || stderr.contains("can't find crate for `core`")
        {
            bail!(missing_target_message());
        }
        bail!(
            "building adapter `{}` ({}) failed:\n{}",
            manifest.id,
            dir.display(),
            tail(&stderr, 60)
        );
    }
    let wasm = target_dir
        .join(RUST_TARGET)
        .join(RUST_PROFILE)
        .join(format!("{lib_name}.wasm"));
    if !wasm.is_file() {
        bail!(
            "cargo built `{package_name}` but {} is missing: the crate needs `crate-type = [\"cdylib\"]` in [lib]",
            wasm.display()
        );
    }
    install(&wasm, &manifest_path, out_root, &manifest.id)
}

/// Copy the component and manifest into a staging folder next to the
/// destination, check them as a package, then swap the folder into place.
fn install(wasm: &Path, manifest: &Path, out_root: &Path, id: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(out_root)
        .with_context(|| format!("failed to create {}", out_root.display()))?;
    let unique = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let staging = out_root.join(format!(".{id}.staging-{unique}"));
    let result = (|| {
        std::fs::create_dir(&staging)
            .with_context(|| format!("failed to create {}", staging.display()))?;
        std::fs::copy(wasm, staging.join(WASM_FILE))
            .with_context(|| format!("failed to copy {}", wasm.display()))?;
        std::fs::copy(manifest, staging.join(MANIFEST_FILE))
            .with_context(|| format!("failed to copy {}", manifest.display()))?;
        Package::open(&staging).context("the freshly built package is not valid")?;

        let dest = out_root.join(id);
        if dest.exists() {
            // Linux cannot rename a folder over a non-empty one: move the old
            // build aside first; readers see either package, never a mix.
            let old = out_root.join(format!(".{id}.old-{unique}"));
            std::fs::rename(&dest, &old)
                .with_context(|| format!("failed to move aside {}", dest.display()))?;
            std::fs::rename(&staging, &dest)
                .with_context(|| format!("failed to move the package to {}", dest.display()))?;
            std::fs::remove_dir_all(&old)
                .with_context(|| format!("failed to remove the old build {}", old.display()))?;
        } else {
            std::fs::rename(&staging, &dest)
                .with_context(|| format!("failed to move the package to {}", dest.display()))?;
        }
        Ok(dest)
    })();
    if result.is_err() && staging.exists() {
        // Best effort: the staging folder is ours and the error is what matters.
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn missing_target_message() -> String {
    format!("the Rust target {RUST_TARGET} is not installed: run `rustup target add {RUST_TARGET}`")
}

fn package_name(cargo_toml: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(cargo_toml).with_context(|| {
        format!(
            "cannot read {}: is this a Rust adapter crate?",
            cargo_toml.display()
        )
    })?;
    let table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("{} is not valid TOML", cargo_toml.display()))?;
    table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .with_context(|| format!("{}: `package.name` is missing", cargo_toml.display()))
}

/// Fails with the `rustup target add` instruction when the toolchain that
/// would build `dir` has no wasm32-wasip2 standard library.
fn ensure_target_installed(dir: &Path) -> anyhow::Result<()> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .current_dir(dir)
        .args(["--print", "sysroot"])
        .output()
        .context("failed to run rustc: is a Rust toolchain installed?")?;
    let sysroot = checked(output, "rustc --print sysroot")?;
    let lib = Path::new(sysroot.trim())
        .join("lib")
        .join("rustlib")
        .join(RUST_TARGET);
    if lib.is_dir() {
        return Ok(());
    }
    // A fresh machine lacks the target (and may have RUSTUP_AUTO_INSTALL=0):
    // install it once, saying so, rather than failing the first build.
    eprintln!("installing the Rust target {RUST_TARGET} (rustup target add {RUST_TARGET})");
    let installed = Command::new("rustup")
        .current_dir(dir)
        .args(["target", "add", RUST_TARGET])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if installed && lib.is_dir() {
        return Ok(());
    }
    bail!(missing_target_message())
}

/// The workspace target directory and the library name of `package`.
fn cargo_metadata(cargo_toml: &Path, package: &str) -> anyhow::Result<(PathBuf, String)> {
    let mut cmd = Command::new(cargo());
    // In the crate's folder, as the build runs: the same `.cargo/config.toml`
    // (and so the same target directory) applies to both.
    if let Some(dir) = cargo_toml.parent() {
        cmd.current_dir(dir);
    }
    let output = cmd
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(cargo_toml)
        .output()
        .context("failed to run cargo metadata")?;
    let json = checked(output, "cargo metadata")?;
    let meta: serde_json::Value =
        serde_json::from_str(&json).context("cargo metadata printed invalid JSON")?;
    let target_dir = meta["target_directory"]
        .as_str()
        .context("cargo metadata has no target_directory")?;
    let lib = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == package)
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .find(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .and_then(|t| t["name"].as_str())
        .with_context(|| {
            format!(
                "{}: package `{package}` has no cdylib target; add `[lib] crate-type = [\"cdylib\"]`",
                cargo_toml.display()
            )
        })?;
    Ok((PathBuf::from(target_dir), lib.replace('-', "_")))
}

fn checked(output: Output, what: &str) -> anyhow::Result<String> {
    if !output.status.success() {
        bail!(
            "`{what}` failed:\n{}",
            tail(&String::from_utf8_lossy(&output.stderr), 30)
        );
    }
    String::from_utf8(output.stdout).with_context(|| format!("`{what}` printed non-UTF-8 output"))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
