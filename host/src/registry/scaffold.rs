//! `snapact-host adapter new`: a new adapter, in Rust, Python or
//! JavaScript, from the templates in `host/templates/` (compiled into the
//! binary).
//!
//! Every language gets the same small, working adapter: a JSON product feed
//! (`{"products": [...]}`) mapped with exact money, availability from
//! stock, typed errors with JSON paths and per-record rejections; the same
//! golden fixtures; a README; an `adapter.toml`; and the language's own unit
//! tests. So a new adapter builds with `adapter build`, passes the
//! conformance suite and maps its sample fixture before its author has
//! changed a line, and the three languages can be compared on the same
//! mapping (`benches/benches/languages.rs`).
//!
//! The folder is created, never reused: an existing path is refused, and a
//! failure half way removes what was written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};

use super::build::Language;
use super::manifest::is_id;

/// What to create.
#[derive(Debug, Clone)]
pub struct NewAdapter {
    /// The adapter id (`[a-z0-9-]`, 1 to 64): `id` in `adapter.toml`, the
    /// package folder's name, and part of the crate or npm package name.
    pub name: String,
    /// The language of the generated sources.
    pub language: Language,
    /// The folder to create (it must not exist).
    pub dir: PathBuf,
    /// Rust only: the `snapact-adapter-sdk` crate folder. Default: the
    /// `sdk/` of the repository checkout `dir` is in, else the one this host
    /// was built from.
    pub sdk_path: Option<PathBuf>,
}

/// What was created.
#[derive(Debug, Clone)]
pub struct Created {
    /// The adapter folder.
    pub dir: PathBuf,
    /// The files written, relative to `dir`, sorted.
    pub files: Vec<PathBuf>,
}

/// The name of a language as `--lang` spells it.
pub fn lang_flag(language: Language) -> &'static str {
    match language {
        Language::Rust => "rust",
        Language::Python => "python",
        Language::JavaScript => "js",
    }
}

fn language_name(language: Language) -> &'static str {
    match language {
        Language::Rust => "Rust",
        Language::Python => "Python",
        Language::JavaScript => "JavaScript",
    }
}

/// One template: the path it is written to (`{{name}}` variables allowed) and its text.
type Template = (&'static str, &'static str);

const README: &str = include_str!("../../templates/common/README.md");

/// Golden fixtures, the same for every language: the mapping is the same.
const FIXTURES: &[Template] = &[
    (
        "fixtures/{{name}}.input.json",
        include_str!("../../templates/common/fixtures/sample.input.json"),
    ),
    (
        "fixtures/{{name}}.expected.json",
        include_str!("../../templates/common/fixtures/sample.expected.json"),
    ),
    (
        "fixtures/{{name}}.settings.json",
        include_str!("../../templates/common/fixtures/sample.settings.json"),
    ),
    (
        "fixtures/bad-records.input.json",
        include_str!("../../templates/common/fixtures/bad-records.input.json"),
    ),
    (
        "fixtures/bad-records.expected.json",
        include_str!("../../templates/common/fixtures/bad-records.expected.json"),
    ),
    (
        "fixtures/bad-records.settings.json",
        include_str!("../../templates/common/fixtures/bad-records.settings.json"),
    ),
    (
        "fixtures/not-a-feed.input.json",
        include_str!("../../templates/common/fixtures/not-a-feed.input.json"),
    ),
    (
        "fixtures/not-a-feed.expected.json",
        include_str!("../../templates/common/fixtures/not-a-feed.expected.json"),
    ),
];

const RUST: &[Template] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml.in"),
    ),
    (
        "adapter.toml",
        include_str!("../../templates/rust/adapter.toml"),
    ),
    (".gitignore", include_str!("../../templates/rust/gitignore")),
    (
        "src/lib.rs",
        include_str!("../../templates/rust/src/lib.rs"),
    ),
    (
        "src/mapping.rs",
        include_str!("../../templates/rust/src/mapping.rs"),
    ),
    (
        "src/mapping/tests.rs",
        include_str!("../../templates/rust/src/mapping/tests.rs"),
    ),
];
const RUST_NOTES: &str = include_str!("../../templates/rust/README.md");

const PYTHON: &[Template] = &[
    (
        "adapter.toml",
        include_str!("../../templates/python/adapter.toml"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/python/gitignore"),
    ),
    ("app.py", include_str!("../../templates/python/app.py")),
    (
        "mapping.py",
        include_str!("../../templates/python/mapping.py"),
    ),
    ("money.py", include_str!("../../templates/python/money.py")),
    (
        "tests/__init__.py",
        include_str!("../../templates/python/tests/__init__.py"),
    ),
    (
        "tests/test_mapping.py",
        include_str!("../../templates/python/tests/test_mapping.py"),
    ),
];
const PYTHON_NOTES: &str = include_str!("../../templates/python/README.md");

const JS: &[Template] = &[
    (
        "adapter.toml",
        include_str!("../../templates/js/adapter.toml"),
    ),
    (".gitignore", include_str!("../../templates/js/gitignore")),
    (
        "package.json",
        include_str!("../../templates/js/package.json"),
    ),
    (
        "package-lock.json",
        include_str!("../../templates/js/package-lock.json"),
    ),
    (
        "src/adapter.js",
        include_str!("../../templates/js/src/adapter.js"),
    ),
    (
        "src/mapping.js",
        include_str!("../../templates/js/src/mapping.js"),
    ),
    (
        "src/money.js",
        include_str!("../../templates/js/src/money.js"),
    ),
    (
        "test/mapping.test.js",
        include_str!("../../templates/js/test/mapping.test.js"),
    ),
];
const JS_NOTES: &str = include_str!("../../templates/js/README.md");

/// The SDK crate's package name.
const SDK_PACKAGE: &str = "snapact-adapter-sdk";

/// Create the adapter `req` describes and return what was written.
pub fn new_adapter(req: &NewAdapter) -> anyhow::Result<Created> {
    if !is_id(&req.name) {
        bail!(
            "{:?} is not a valid adapter name: use 1 to 64 of a-z, 0-9 and '-' (it becomes the adapter id), e.g. \"mypos\"",
            req.name
        );
    }
    let explicit_sdk = match (&req.sdk_path, req.language) {
        (Some(path), Language::Rust) => Some(check_sdk(path)?),
        (Some(_), _) => bail!(
            "--sdk-path is for Rust adapters only: a {} adapter does not use the Rust SDK",
            language_name(req.language)
        ),
        (None, _) => None,
    };
    if req.dir.exists() {
        bail!(
            "{} already exists: `adapter new` never writes into an existing folder; choose another --dir or remove it",
            req.dir.display()
        );
    }
    if let Some(parent) = req.dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("failed to create {}", parent.display()))?;
    }
    // Creating the folder claims it: another process creating it meanwhile
    // makes this fail instead of both writing into it.
    std::fs::create_dir(&req.dir).with_context(|| {
        format!(
            "failed to create {} (it must not exist yet)",
            req.dir.display()
        )
    })?;
    let written = write_all(req, explicit_sdk);
    match written {
        Ok(files) => Ok(Created {
            dir: req.dir.clone(),
            files,
        }),
        Err(e) => {
            // Best effort: the folder is ours, and the error is what matters.
            let _ = std::fs::remove_dir_all(&req.dir);
            Err(e)
        }
    }
}

fn write_all(req: &NewAdapter, explicit_sdk: Option<PathBuf>) -> anyhow::Result<Vec<PathBuf>> {
    let dir = std::fs::canonicalize(&req.dir)
        .with_context(|| format!("failed to resolve {}", req.dir.display()))?;
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    vars.insert("name", req.name.clone());
    vars.insert("lang", lang_flag(req.language).to_string());
    vars.insert("language", language_name(req.language).to_string());
    vars.insert("dir", slashes(&req.dir));
    let (templates, notes) = match req.language {
        Language::Rust => (RUST, RUST_NOTES),
        Language::Python => (PYTHON, PYTHON_NOTES),
        Language::JavaScript => (JS, JS_NOTES),
    };
    let mut extra: Vec<(PathBuf, String)> = Vec::new();
    if req.language == Language::Rust {
        let sdk = match explicit_sdk {
            Some(sdk) => sdk,
            None => find_sdk(&dir)?,
        };
        let written = sdk_reference(&dir, &sdk);
        vars.insert("sdk_path", toml_string(&slashes(&written)));
        vars.insert("sdk_display", slashes(&written));
        if let Some(lock) = seed_lockfile(&sdk, &req.name)? {
            extra.push((PathBuf::from("Cargo.lock"), lock));
        }
    }
    vars.insert("language_notes", render(notes.trim_end(), &vars));

    let mut files = Vec::new();
    let readme = ("README.md", README);
    for (path, text) in templates.iter().chain(FIXTURES).chain([&readme]) {
        let rel = PathBuf::from(render(path, &vars));
        write(&dir, &rel, &render(text, &vars))?;
        files.push(rel);
    }
    for (rel, text) in extra {
        write(&dir, &rel, &text)?;
        files.push(rel);
    }
    files.sort();
    Ok(files)
}

fn write(dir: &Path, rel: &Path, text: &str) -> anyhow::Result<()> {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("failed to create {}", parent.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("failed to write {}", path.display()))
}

/// `text` with every `{{key}}` of `vars` replaced.
fn render(text: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = text.to_string();
    for (key, value) in vars {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

/// A path with `/` separators, as Cargo.toml and shell commands want it.
fn slashes(path: &Path) -> String {
    let text = path.to_string_lossy().into_owned();
    if cfg!(windows) {
        text.replace('\\', "/")
    } else {
        text
    }
}

/// A TOML basic string holding `s`.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// `path` if it is the SDK crate's folder, canonical.
fn check_sdk(path: &Path) -> anyhow::Result<PathBuf> {
    let is_sdk = std::fs::read_to_string(path.join("Cargo.toml"))
        .ok()
        .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
        .is_some_and(|t| {
            t.get("package")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str())
                == Some(SDK_PACKAGE)
        });
    if !is_sdk {
        bail!(
            "{} is not the {SDK_PACKAGE} crate (no Cargo.toml naming it): give the `sdk` folder of a snapact-host checkout",
            path.display()
        );
    }
    std::fs::canonicalize(path).with_context(|| format!("failed to resolve {}", path.display()))
}

/// The SDK of the repository checkout `dir` is in, else the one this host
/// was built from.
fn find_sdk(dir: &Path) -> anyhow::Result<PathBuf> {
    for ancestor in dir.ancestors().skip(1) {
        if let Ok(sdk) = check_sdk(&ancestor.join("sdk")) {
            return Ok(sdk);
        }
    }
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    check_sdk(&built_in).map_err(|_| {
        anyhow::anyhow!(
            "cannot find the {SDK_PACKAGE} crate: {} is not inside a snapact-host checkout; \
             pass --sdk-path /path/to/snapact-host/sdk",
            dir.display()
        )
    })
}

/// How the adapter's Cargo.toml names the SDK: relative when both are in the
/// same repository checkout (so the folder can move with the repository),
/// absolute otherwise.
fn sdk_reference(adapter_dir: &Path, sdk: &Path) -> PathBuf {
    let Some(root) = sdk.parent() else {
        return sdk.to_path_buf();
    };
    match adapter_dir.strip_prefix(root) {
        Ok(below) => {
            let mut rel = PathBuf::new();
            for c in below.components() {
                if matches!(c, Component::Normal(_)) {
                    rel.push("..");
                }
            }
            rel.join(sdk.file_name().unwrap_or_default())
        }
        Err(_) => sdk.to_path_buf(),
    }
}

/// The SDK repository's `Cargo.lock`, cut down to the SDK's dependencies:
/// the new crate starts from the exact versions the SDK is built and tested
/// with, and builds without consulting the crates.io index. `None` when the
/// repository has no lockfile (Cargo then resolves afresh).
fn seed_lockfile(sdk: &Path, name: &str) -> anyhow::Result<Option<String>> {
    let Some(lock_path) = sdk.parent().map(|root| root.join("Cargo.lock")) else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(&lock_path) else {
        return Ok(None);
    };
    let lock: toml::Table = toml::from_str(&text)
        .with_context(|| format!("{} is not valid TOML", lock_path.display()))?;
    let packages: Vec<&toml::Table> = lock
        .get("package")
        .and_then(|p| p.as_array())
        .map(|a| a.iter().filter_map(|p| p.as_table()).collect())
        .unwrap_or_default();
    let field = |p: &toml::Table, key: &str| -> String {
        p.get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    // A dependency is written "name", "name version" or "name version (source)".
    let find = |dep: &str| -> Option<usize> {
        let mut parts = dep.split_whitespace();
        let dep_name = parts.next()?;
        let version = parts.next();
        packages.iter().position(|p| {
            field(p, "name") == dep_name && version.is_none_or(|v| field(p, "version") == v)
        })
    };
    let Some(sdk_index) = find(SDK_PACKAGE) else {
        return Ok(None);
    };
    let mut keep = BTreeSet::from([sdk_index]);
    let mut todo = vec![sdk_index];
    while let Some(i) = todo.pop() {
        let deps = packages[i].get("dependencies").and_then(|d| d.as_array());
        for dep in deps.into_iter().flatten().filter_map(|d| d.as_str()) {
            let Some(j) = find(dep) else {
                // A lockfile Cargo would not write: let Cargo resolve afresh.
                return Ok(None);
            };
            if keep.insert(j) {
                todo.push(j);
            }
        }
    }
    let mut entries: Vec<toml::Table> = keep.iter().map(|&i| packages[i].clone()).collect();
    let mut root = toml::Table::new();
    root.insert(
        "name".into(),
        toml::Value::String(format!("snapact-adapter-{name}")),
    );
    root.insert("version".into(), toml::Value::String("0.1.0".into()));
    root.insert(
        "dependencies".into(),
        toml::Value::Array(vec![toml::Value::String(SDK_PACKAGE.into())]),
    );
    entries.push(root);
    entries.sort_by_key(|p| (field(p, "name"), field(p, "version")));

    // Written the way Cargo writes it, so Cargo leaves it as it is.
    let mut out = String::from(
        "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\n",
    );
    if let Some(version) = lock.get("version") {
        out.push_str(&format!("version = {version}\n"));
    }
    for entry in &entries {
        out.push_str("\n[[package]]\n");
        for key in ["name", "version", "source", "checksum"] {
            if let Some(value) = entry.get(key).and_then(|v| v.as_str()) {
                out.push_str(&format!("{key} = {}\n", toml_string(value)));
            }
        }
        if let Some(deps) = entry.get("dependencies").and_then(|d| d.as_array()) {
            out.push_str("dependencies = [\n");
            for dep in deps.iter().filter_map(|d| d.as_str()) {
                out.push_str(&format!(" {},\n", toml_string(dep)));
            }
            out.push_str("]\n");
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    fn new(dir: &Path, name: &str, language: Language) -> anyhow::Result<Created> {
        new_adapter(&NewAdapter {
            name: name.into(),
            language,
            dir: dir.to_path_buf(),
            sdk_path: None,
        })
    }

    #[test]
    fn every_language_gets_sources_fixtures_readme_and_manifest() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for (language, entry) in [
            (Language::Rust, "src/lib.rs"),
            (Language::Python, "app.py"),
            (Language::JavaScript, "src/adapter.js"),
        ] {
            let dir = tmp.path().join(lang_flag(language)).join("acme-feed");
            let created = new(&dir, "acme-feed", language).expect("created");
            let has = |f: &str| created.files.contains(&PathBuf::from(f));
            for f in [
                entry,
                "adapter.toml",
                "README.md",
                ".gitignore",
                "fixtures/acme-feed.input.json",
                "fixtures/acme-feed.expected.json",
                "fixtures/bad-records.expected.json",
            ] {
                assert!(has(f), "{language:?}: {f} missing from {:?}", created.files);
            }
            // The package builder recognises the language by these files.
            assert_eq!(
                crate::registry::build::detect_language(&dir),
                Some(language)
            );
            let manifest = crate::registry::Manifest::load(&dir.join("adapter.toml"))
                .expect("the generated manifest is valid");
            assert_eq!(manifest.id, "acme-feed");
            assert!(
                crate::registry::SUPPORTED_WIT.supports(&manifest.wit.version),
                "{}",
                manifest.wit
            );
            for rel in &created.files {
                let text = std::fs::read_to_string(dir.join(rel)).expect("text");
                let leftover = text
                    .match_indices("{{")
                    .map(|(i, _)| &text[i..text.len().min(i + 24)])
                    .find(|s| {
                        s[2..].split("}}").next().is_some_and(|k| {
                            !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                        })
                    });
                assert_eq!(
                    leftover,
                    None,
                    "{language:?}: unsubstituted template variable in {}",
                    rel.display()
                );
            }
            let readme = std::fs::read_to_string(dir.join("README.md")).expect("readme");
            assert!(readme.contains(&format!(
                "adapter test acme-feed --fixtures {}/fixtures",
                slashes(&dir)
            )));
        }
    }

    #[test]
    fn the_fixtures_are_json_and_the_sample_has_eight_changes() {
        let expected: serde_json::Value =
            serde_json::from_str(FIXTURES[1].1).expect("sample.expected.json is JSON");
        assert_eq!(expected.as_array().map(Vec::len), Some(8));
        for (_, text) in FIXTURES {
            serde_json::from_str::<serde_json::Value>(text).expect("every fixture is JSON");
        }
    }

    #[test]
    fn refuses_an_existing_folder_and_an_invalid_name() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join("keep.txt"), "mine").expect("write");
        let err = new(tmp.path(), "acme", Language::Python).expect_err("exists");
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("keep.txt")).expect("untouched"),
            "mine"
        );
        let long = "a".repeat(65);
        for bad in ["Acme", "acme_feed", "", "acme/feed", long.as_str()] {
            let err = new(&tmp.path().join("x"), bad, Language::Rust).expect_err("invalid name");
            assert!(
                err.to_string().contains("not a valid adapter name"),
                "{bad}: {err}"
            );
            assert!(!tmp.path().join("x").exists());
        }
        let err = new_adapter(&NewAdapter {
            name: "acme".into(),
            language: Language::JavaScript,
            dir: tmp.path().join("js"),
            sdk_path: Some(repo_root().join("sdk")),
        })
        .expect_err("--sdk-path is for Rust");
        assert!(err.to_string().contains("Rust adapters only"), "{err}");
        let err = new_adapter(&NewAdapter {
            name: "acme".into(),
            language: Language::Rust,
            dir: tmp.path().join("rs"),
            sdk_path: Some(tmp.path().to_path_buf()),
        })
        .expect_err("not the SDK");
        assert!(
            err.to_string()
                .contains("is not the snapact-adapter-sdk crate"),
            "{err}"
        );
        assert!(!tmp.path().join("rs").exists() && !tmp.path().join("js").exists());
    }

    #[test]
    fn rust_names_the_sdk_relatively_inside_the_repository_and_absolutely_outside() {
        let sdk = std::fs::canonicalize(repo_root().join("sdk")).expect("sdk");
        let root = sdk.parent().expect("repo root");
        assert_eq!(
            sdk_reference(&root.join("adapters/acme"), &sdk),
            PathBuf::from("../../sdk")
        );
        assert_eq!(sdk_reference(Path::new("/elsewhere/acme"), &sdk), sdk);

        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("acme");
        new(&dir, "acme", Language::Rust).expect("created");
        let cargo: toml::Table =
            toml::from_str(&std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml"))
                .expect("valid TOML");
        assert_eq!(
            cargo["package"]["name"].as_str(),
            Some("snapact-adapter-acme")
        );
        assert!(cargo.contains_key("workspace"), "a workspace of its own");
        assert_eq!(
            cargo["dependencies"][SDK_PACKAGE]["path"].as_str(),
            Some(slashes(&sdk).as_str())
        );
    }

    #[test]
    fn the_seeded_lockfile_holds_the_sdk_and_its_dependencies_only() {
        let sdk = std::fs::canonicalize(repo_root().join("sdk")).expect("sdk");
        let lock = seed_lockfile(&sdk, "acme")
            .expect("readable")
            .expect("the repository has a Cargo.lock");
        let table: toml::Table = toml::from_str(&lock).expect("valid TOML");
        let names: BTreeSet<&str> = table["package"]
            .as_array()
            .expect("packages")
            .iter()
            .filter_map(|p| p.get("name").and_then(|n| n.as_str()))
            .collect();
        for want in [
            "snapact-adapter-acme",
            SDK_PACKAGE,
            "wit-bindgen",
            "serde_json",
        ] {
            assert!(names.contains(want), "{want} missing from {names:?}");
        }
        for unwanted in ["wasmtime", "tokio", "snapact-host"] {
            assert!(!names.contains(unwanted), "{unwanted} should not be locked");
        }
    }

    #[test]
    fn the_js_template_pins_the_componentize_js_the_host_builds_with() {
        let pin = format!(
            "\"@bytecodealliance/componentize-js\": \"{}\"",
            super::super::build::js::COMPONENTIZE_JS_VERSION
        );
        let package = JS
            .iter()
            .find(|(p, _)| *p == "package.json")
            .expect("package.json")
            .1;
        let lock = JS
            .iter()
            .find(|(p, _)| *p == "package-lock.json")
            .expect("lockfile")
            .1;
        assert!(package.contains(&pin), "package.json must pin {pin}");
        assert!(lock.contains(&pin), "package-lock.json must lock {pin}");
    }
}
