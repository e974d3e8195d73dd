//! Signed adapter packages, a static registry and the installed adapters
//! folder, as an operator and a publisher meet them: the real Square
//! package, the `snapact-host` binary for every command, a registry in a
//! folder and one served over HTTP on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use semver::Version;
use serde_json::Value;
use snapact_host::config::{AdapterSpec, AdaptersConfig, Overrides};
use snapact_host::registry::archive::PackageFiles;
use snapact_host::registry::index::{CapabilitySummary, INDEX_FILE, Index, Status, VersionEntry};
use snapact_host::registry::installed::{self, Location};
use snapact_host::registry::{Manifest, Package, ResolveError, SecretKey, TrustPolicy, resolve};
use snapact_tests::{build_adapter, captured_logs};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_snapact-host-under-test");

/// A publisher with a key, an operator with an adapters folder trusting
/// that key, and a registry folder between them.
struct World {
    tmp: TempDir,
    adapters: PathBuf,
    registry: PathBuf,
    config: PathBuf,
    key: PathBuf,
    public_key: String,
}

fn text(out: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().expect("tempdir");
        let adapters = tmp.path().join("adapters");
        let registry = tmp.path().join("registry");
        let mut world = World {
            config: tmp.path().join("snapact.toml"),
            key: tmp.path().join("keys").join("publisher.key"),
            public_key: String::new(),
            adapters,
            registry,
            tmp,
        };
        let out = world.ok(&["keys", "generate", "--out", "keys"]);
        world.public_key = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(world.public_key.starts_with("ed25519:"), "{}", text(&out));
        world.write_config(true, &[&world.public_key.clone()]);
        world
    }

    fn write_config(&self, require_signatures: bool, keys: &[&str]) {
        let keys: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
        std::fs::write(
            &self.config,
            format!(
                "[adapters]\ndir = {:?}\nrequire_signatures = {require_signatures}\ntrusted_keys = [{}]\n",
                self.adapters.display().to_string(),
                keys.join(", ")
            ),
        )
        .expect("write config");
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// Run `snapact-host ARGS` in the world's folder, stdin closed (not a
    /// terminal), with the config.
    fn host(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(self.tmp.path())
            .env("SNAPACT_CONFIG", &self.config)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .expect("run snapact-host")
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.host(args);
        assert!(
            out.status.success(),
            "`snapact-host {}` failed: {}",
            args.join(" "),
            text(&out)
        );
        out
    }

    /// `snapact-host ARGS` must fail; its whole output.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.host(args);
        assert!(
            !out.status.success(),
            "`snapact-host {}` succeeded: {}",
            args.join(" "),
            text(&out)
        );
        text(&out)
    }

    /// A copy of the Square package at `version` in `pkgs/<name>/`, unsigned.
    fn package(&self, name: &str, version: &str) -> PathBuf {
        let src = build_adapter("adapters/square");
        let dir = self.path("pkgs").join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::copy(src.join("adapter.wasm"), dir.join("adapter.wasm")).expect("copy wasm");
        let manifest = std::fs::read_to_string(src.join("adapter.toml")).expect("read manifest");
        std::fs::write(dir.join("adapter.toml"), with_version(&manifest, version))
            .expect("write manifest");
        dir
    }

    /// Signed with the publisher's key and published.
    fn publish(&self, version: &str) -> PathBuf {
        let dir = self.package(version, version);
        self.ok(&[
            "adapter",
            "sign",
            &dir.display().to_string(),
            "--key",
            "keys/publisher.key",
        ]);
        self.ok(&[
            "registry",
            "publish",
            &dir.display().to_string(),
            "--registry",
            "registry",
        ]);
        dir
    }

    fn install(&self, what: &str) -> String {
        text(&self.ok(&[
            "adapter",
            "install",
            what,
            "--registry",
            "registry",
            "--yes",
        ]))
    }

    fn policy(&self) -> TrustPolicy {
        AdaptersConfig::load(&self.config, &Overrides::default())
            .expect("config")
            .trust
    }

    fn resolve(&self, spec: &str) -> Result<snapact_host::registry::Resolved, ResolveError> {
        let spec: AdapterSpec = spec.parse().expect("spec");
        resolve(&self.adapters, &spec, &self.policy())
    }

    fn selected(&self, spec: &str) -> String {
        match self.resolve(spec) {
            Ok(r) => r.package.manifest().version.to_string(),
            Err(e) => panic!("{spec}: {e}"),
        }
    }

    fn index(&self) -> Index {
        let path = self.registry.join(INDEX_FILE);
        Index::parse(&std::fs::read(&path).expect("read index"), "index").expect("index")
    }

    fn write_index(&self, index: &Index) {
        std::fs::write(self.registry.join(INDEX_FILE), index.to_json()).expect("write index");
    }

    fn list(&self) -> Value {
        let out = self.ok(&["adapter", "list", "--json"]);
        serde_json::from_slice(&out.stdout).expect("list --json")
    }
}

fn with_version(manifest: &str, version: &str) -> String {
    manifest
        .lines()
        .map(|l| {
            if l.starts_with("version = ") {
                format!("version = \"{version}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The versions `adapter list --json` shows for `id`: (version, location, selected).
fn listed(list: &Value, id: &str) -> Vec<(String, String, bool)> {
    list.as_array()
        .expect("array")
        .iter()
        .filter(|a| a["id"] == id)
        .flat_map(|a| a["versions"].as_array().cloned().unwrap_or_default())
        .map(|v| {
            (
                v["version"].as_str().unwrap_or_default().to_string(),
                v["location"].as_str().unwrap_or_default().to_string(),
                v["selected"].as_bool().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn a_signed_package_goes_from_publisher_to_a_loaded_adapter() {
    let w = World::new();
    w.publish("1.0.0");
    // A .tar is signed and published like a folder.
    let pkg = w.package("tar", "1.1.0");
    w.ok(&[
        "adapter",
        "pack",
        &pkg.display().to_string(),
        "-o",
        "square-1.1.0.tar",
    ]);
    let again = w.ok(&[
        "adapter",
        "pack",
        &pkg.display().to_string(),
        "-o",
        "again.tar",
    ]);
    assert_eq!(
        std::fs::read(w.path("square-1.1.0.tar")).expect("read"),
        std::fs::read(w.path("again.tar")).expect("read"),
        "packing is deterministic: {}",
        text(&again)
    );
    w.ok(&[
        "adapter",
        "sign",
        "square-1.1.0.tar",
        "--key",
        "keys/publisher.key",
    ]);
    let verified = w.ok(&["adapter", "verify", "square-1.1.0.tar", "--json"]);
    let report: Value = serde_json::from_slice(&verified.stdout).expect("verify --json");
    assert_eq!(report["signature"], "valid");
    assert_eq!(report["trusted"], true);
    assert_eq!(report["accepted"], true);
    assert_eq!(
        report["digest"],
        format!("sha256:{}", Package::open(&pkg).expect("open").digest_hex())
    );
    w.ok(&[
        "registry",
        "publish",
        "square-1.1.0.tar",
        "--registry",
        "registry",
    ]);
    // Publishing the same bytes again is a no-op, other bytes are refused.
    let out = w.ok(&[
        "registry",
        "publish",
        "square-1.1.0.tar",
        "--registry",
        "registry",
    ]);
    assert!(text(&out).contains("already published"), "{}", text(&out));
    let other = w.package("other", "1.1.0");
    std::fs::write(
        other.join("adapter.toml"),
        std::fs::read_to_string(other.join("adapter.toml"))
            .expect("read")
            .replace("Square Catalog", "Square catalog"),
    )
    .expect("write");
    w.ok(&[
        "adapter",
        "sign",
        &other.display().to_string(),
        "--key",
        "keys/publisher.key",
    ]);
    let shown = w.fails(&[
        "registry",
        "publish",
        &other.display().to_string(),
        "--registry",
        "registry",
    ]);
    assert!(
        shown.contains("square@1.1.0 is already published with different bytes"),
        "{shown}"
    );

    let out = w.ok(&[
        "adapter",
        "search",
        "square",
        "--registry",
        "registry",
        "--json",
    ]);
    let found: Value = serde_json::from_slice(&out.stdout).expect("search --json");
    assert_eq!(found[0]["id"], "square");
    assert_eq!(found[0]["latest"], "1.1.0");
    assert_eq!(
        found[0]["capabilities"]["http_hosts"][0],
        "connect.squareup.com"
    );

    // Install shows what the adapter may touch, then installs.
    let shown = w.install("square@^1");
    for line in [
        "square 1.1.0 from registry",
        "signed by trusted key",
        "http hosts: connect.squareup.com, connect.squareupsandbox.com",
        "secrets:    webhook_signature_key",
        "settings:   location_id, currency",
        "limits:     memory 64 MiB, 10000 ms per call",
        "installed square 1.1.0",
    ] {
        assert!(shown.contains(line), "missing {line:?} in:\n{shown}");
    }
    assert!(w.adapters.join("square/1.1.0/adapter.sig").is_file());
    assert!(w.adapters.join(".registry/index.json").is_file());
    let list = w.list();
    assert_eq!(
        listed(&list, "square"),
        [("1.1.0".to_string(), "installed".to_string(), true)]
    );
    assert_eq!(list[0]["versions"][0]["trusted"], true);
    assert_eq!(list[0]["versions"][0]["registry_status"], "listed");

    // What `run` loads: the daemon's own lookup, under the config's policy.
    let config = AdaptersConfig::load(&w.config, &Overrides::default()).expect("config");
    let pkg = snapact_host::daemon::find_package(&config, &"square@^1".parse().expect("spec"))
        .expect("the daemon finds it");
    assert_eq!(pkg.dir(), w.adapters.join("square/1.1.0"));
    snapact_host::registry::Package::open(pkg.dir()).expect("opens");
    snapact_tests::shared_runtime()
        .load(&pkg)
        .expect("the installed package loads");

    // Installing it again changes nothing.
    let again = w.install("square@^1");
    assert!(again.contains("already installed"), "{again}");
}

#[test]
fn a_confirmation_is_needed_and_a_refused_install_leaves_nothing() {
    let w = World::new();
    w.publish("1.0.0");
    let shown = w.fails(&["adapter", "install", "square", "--registry", "registry"]);
    assert!(
        shown.contains("http hosts: connect.squareup.com"),
        "{shown}"
    );
    assert!(
        shown.contains("standard input is not a terminal"),
        "{shown}"
    );
    assert!(shown.contains("run again with --yes"), "{shown}");
    assert!(!w.adapters.join("square").exists());
    let leftovers: Vec<String> = std::fs::read_dir(&w.adapters)
        .expect("adapters dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".installing"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_leftover_of_an_interrupted_install_is_never_listed_or_loaded() {
    let w = World::new();
    w.publish("1.0.0");
    w.install("square");
    // An install that died after writing its staging folder: a complete,
    // validly signed, newer package under the staging name.
    let newer = w.publish("1.5.0");
    let staged = w.adapters.join(".installing-square-0123456789abcdef");
    std::fs::create_dir_all(&staged).expect("mkdir");
    for f in ["adapter.toml", "adapter.wasm", "adapter.sig"] {
        std::fs::copy(newer.join(f), staged.join(f)).expect("copy");
    }
    // And one inside the adapter's own folder.
    let hidden = w.adapters.join("square/.1.5.0");
    std::fs::create_dir_all(&hidden).expect("mkdir");
    for f in ["adapter.toml", "adapter.wasm", "adapter.sig"] {
        std::fs::copy(newer.join(f), hidden.join(f)).expect("copy");
    }
    assert_eq!(w.selected("square"), "1.0.0");
    assert_eq!(
        listed(&w.list(), "square"),
        [("1.0.0".to_string(), "installed".to_string(), true)]
    );
    assert_eq!(
        installed::adapter_ids(&w.adapters).expect("ids"),
        ["square"]
    );
    // A real install of that version still works next to the leftover.
    w.install("square@=1.5.0");
    assert_eq!(w.selected("square"), "1.5.0");
}

#[test]
fn tampered_untrusted_and_unsigned_packages_are_refused() {
    let w = World::new();
    w.publish("1.0.0");
    w.install("square");

    // A tampered wasm in the adapters folder: refused at load.
    let wasm = w.adapters.join("square/1.0.0/adapter.wasm");
    let original = std::fs::read(&wasm).expect("read");
    let mut tampered = original.clone();
    // A custom section at the end keeps it a valid component.
    tampered.extend_from_slice(&[0x00, 0x05, 0x04, b'e', b'v', b'i', b'l']);
    std::fs::write(&wasm, &tampered).expect("tamper");
    let e = w.resolve("square").expect_err("tampered").to_string();
    assert!(e.contains("adapter square@1.0.0"), "{e}");
    assert!(
        e.contains("adapter.wasm was changed after it was signed by key"),
        "{e}"
    );
    assert!(e.contains("install the package again"), "{e}");
    std::fs::write(&wasm, &original).expect("restore");
    w.resolve("square").expect("restored");

    // A tampered wasm in the registry, with the index and the archive's own
    // digest made to match (a compromised registry): refused at install.
    let pkg = w.package("evil", "1.1.0");
    let good = Package::open(&pkg).expect("open");
    let key = SecretKey::load(&w.key).expect("key");
    let sig = key.sign_package(&good);
    let files = PackageFiles {
        manifest: std::fs::read(pkg.join("adapter.toml")).expect("read"),
        wasm: tampered.clone(),
        signature: Some(sig.to_json()),
    };
    add_to_registry(&w, &files, Some(key.public().id()));
    let shown = w.fails(&[
        "adapter",
        "install",
        "square@=1.1.0",
        "--registry",
        "registry",
        "--yes",
    ]);
    assert!(
        shown.contains("adapter.wasm was changed after it was signed by key"),
        "{shown}"
    );
    assert!(
        shown.contains("the registry or the connection altered it; do not install it"),
        "{shown}"
    );
    assert!(!w.adapters.join("square/1.1.0").exists());

    // Signed by a key the operator does not trust.
    let stranger_dir = w.path("stranger");
    w.ok(&["keys", "generate", "--out", "stranger"]);
    let pkg = w.package("stranger", "1.2.0");
    w.ok(&[
        "adapter",
        "sign",
        &pkg.display().to_string(),
        "--key",
        &stranger_dir.join("publisher.key").display().to_string(),
    ]);
    w.ok(&[
        "registry",
        "publish",
        &pkg.display().to_string(),
        "--registry",
        "registry",
    ]);
    let shown = w.fails(&[
        "adapter",
        "install",
        "square@=1.2.0",
        "--registry",
        "registry",
        "--yes",
    ]);
    let stranger = std::fs::read_to_string(stranger_dir.join("publisher.pub")).expect("pub");
    assert!(
        shown.contains("refusing to install square@1.2.0 from"),
        "{shown}"
    );
    assert!(
        shown.contains("it is signed by key")
            && shown.contains("which is not in [adapters] trusted_keys"),
        "{shown}"
    );
    assert!(
        !shown.contains("adapter square@1.2.0 ("),
        "the download is named once, not as a folder: {shown}"
    );
    assert!(
        shown.contains(stranger.trim()),
        "the message names the key to trust: {shown}"
    );
    let verify = w.host(&["adapter", "verify", &pkg.display().to_string()]);
    assert_eq!(verify.status.code(), Some(3), "{}", text(&verify));
    assert!(
        text(&verify).contains("the key is NOT in trusted_keys"),
        "{}",
        text(&verify)
    );

    // Unsigned: publish needs --allow-unsigned, install refuses it.
    let pkg = w.package("unsigned", "1.3.0");
    let shown = w.fails(&[
        "registry",
        "publish",
        &pkg.display().to_string(),
        "--registry",
        "registry",
    ]);
    assert!(shown.contains("square@1.3.0 is not signed"), "{shown}");
    w.ok(&[
        "registry",
        "publish",
        &pkg.display().to_string(),
        "--registry",
        "registry",
        "--allow-unsigned",
    ]);
    let shown = w.fails(&[
        "adapter",
        "install",
        "square@=1.3.0",
        "--registry",
        "registry",
        "--yes",
    ]);
    assert!(
        shown.contains("refusing to install square@1.3.0 from"),
        "{shown}"
    );
    assert!(
        shown.contains("is not signed, and [adapters] require_signatures is on"),
        "{shown}"
    );
    // It points at the newest version signed by a trusted key, not at
    // signing the registry's download on this machine.
    assert!(
        shown.contains("install a signed version instead (`snapact-host adapter install square@=1.1.0 --registry"),
        "{shown}"
    );
    assert!(!shown.contains("adapter sign"), "{shown}");

    // With signatures not required (development), the unsigned one
    // installs, is said to be unsigned, and loads.
    w.write_config(false, &[&w.public_key.clone()]);
    let shown = w.install("square@=1.3.0");
    assert!(shown.contains("UNSIGNED"), "{shown}");
    assert_eq!(w.selected("square"), "1.3.0");
    // Back to required: the unsigned newest is refused at load, pointing at rollback.
    w.write_config(true, &[&w.public_key.clone()]);
    let e = w.resolve("square").expect_err("unsigned").to_string();
    assert!(e.contains("1.3.0: adapter square@1.3.0"), "{e}");
    assert!(
        e.contains("`snapact-host adapter rollback square` to select 1.0.0"),
        "{e}"
    );

    // Nothing refused was left half-installed.
    let names: Vec<String> = std::fs::read_dir(&w.adapters)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".installing")),
        "{names:?}"
    );
}

/// Put an archive into the registry the way a registry written by other
/// tools (or tampered with) would hold it.
fn add_to_registry(w: &World, files: &PackageFiles, key_id: Option<&str>) -> VersionEntry {
    let manifest = Manifest::parse(
        &String::from_utf8_lossy(&files.manifest),
        Path::new("adapter.toml"),
    )
    .expect("manifest");
    let archive = files.pack();
    let rel = format!("packages/square/hand-{}.tar", manifest.version);
    std::fs::create_dir_all(w.registry.join("packages/square")).expect("mkdir");
    std::fs::write(w.registry.join(&rel), &archive).expect("write archive");
    use sha2::Digest as _;
    let entry = VersionEntry {
        version: manifest.version.clone(),
        wit: manifest.wit.to_string(),
        digest: format!("sha256:{}", files.digest_hex()),
        archive_digest: format!("sha256:{}", hex::encode(sha2::Sha256::digest(&archive))),
        size: archive.len() as u64,
        path: rel,
        key_id: key_id.map(str::to_string),
        signature: None,
        vendor: manifest.vendor.clone(),
        description: manifest.description.clone(),
        capabilities: CapabilitySummary::of(&manifest),
        status: Status::Listed,
        reason: None,
        replacement: None,
    };
    let mut index = w.index();
    index
        .adapters
        .entry("square".into())
        .or_default()
        .versions
        .push(entry.clone());
    w.write_index(&index);
    entry
}

#[test]
fn an_incompatible_wit_major_is_refused_at_install_and_at_load() {
    let w = World::new();
    w.publish("1.0.0");
    // Signed by the trusted publisher, built for a WIT this host does not run.
    let pkg = w.package("wit", "3.0.0");
    let manifest_text = std::fs::read_to_string(pkg.join("adapter.toml"))
        .expect("read")
        .replace("snapact:adapter@0.1.0", "snapact:adapter@1.0.0");
    let manifest = Manifest::parse(&manifest_text, Path::new("adapter.toml")).expect("manifest");
    let wasm = std::fs::read(pkg.join("adapter.wasm")).expect("read");
    let key = SecretKey::load(&w.key).expect("key");
    let digest: [u8; 32] = {
        use sha2::Digest as _;
        sha2::Sha256::digest(&wasm).into()
    };
    let sig = key.sign(&manifest, &digest);
    let files = PackageFiles {
        manifest: manifest_text.into_bytes(),
        wasm,
        signature: Some(sig.to_json()),
    };
    add_to_registry(&w, &files, Some(key.public().id()));
    let shown = w.fails(&[
        "adapter",
        "install",
        "square@^3",
        "--registry",
        "registry",
        "--yes",
    ]);
    assert!(
        shown.contains(
            "square@3.0.0 needs snapact:adapter@1.0.0, but this host supports snapact:adapter@0.1.x"
        ),
        "{shown}"
    );
    assert!(!w.adapters.join("square/3.0.0").exists());
    // An index that hides it (says 0.1.0): the package's own manifest is
    // checked after the download.
    let honest = w.index();
    let mut index = honest.clone();
    for v in &mut index.adapters.get_mut("square").expect("square").versions {
        v.wit = "snapact:adapter@0.1.0".into();
    }
    w.write_index(&index);
    let shown = w.fails(&[
        "adapter",
        "install",
        "square@^3",
        "--registry",
        "registry",
        "--yes",
    ]);
    assert!(
        shown.contains("square@3.0.0 from registry cannot run on this host: adapter.toml: adapter square@3.0.0 needs snapact:adapter@1.0.0"),
        "{shown}"
    );
    assert!(
        !shown.contains(".installing-"),
        "the staging folder is not named: {shown}"
    );
    assert!(!w.adapters.join("square/3.0.0").exists());
    w.write_index(&honest);

    // Without a pin, install takes the newest version this host can run.
    let shown = w.install("square");
    assert!(shown.contains("installed square 1.0.0"), "{shown}");
    // Copied into the adapters folder by hand: refused at load.
    let dir = w.adapters.join("square/3.0.0");
    files
        .write_dir(&{
            std::fs::create_dir_all(&dir).expect("mkdir");
            dir.clone()
        })
        .expect("write");
    let e = w.resolve("square").expect_err("incompatible").to_string();
    assert!(
        e.contains("needs snapact:adapter@1.0.0, but this host supports snapact:adapter@0.1.x"),
        "{e}"
    );
    // A shop pinned to ^1 is not affected.
    assert_eq!(w.selected("square@^1"), "1.0.0");
}

#[test]
fn yanked_versions_are_not_installed_and_revoked_ones_never_run() {
    let w = World::new();
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        w.publish(v);
    }
    w.install("square@=1.0.0");
    w.install("square@=1.1.0");

    // Yanked: no new installs, but what is installed keeps running.
    w.ok(&[
        "registry",
        "yank",
        "square@1.2.0",
        "--registry",
        "registry",
        "--reason",
        "wrong tax rounding",
    ]);
    let shown = w.fails(&[
        "adapter",
        "install",
        "square@=1.2.0",
        "--registry",
        "registry",
        "--yes",
    ]);
    assert!(
        shown.contains("1.2.0 is yanked: no new installs, wrong tax rounding"),
        "{shown}"
    );
    assert!(shown.contains("move to 1.1.0"), "{shown}");
    let shown = w.install("square@^1");
    assert!(
        shown.contains("already installed"),
        "the newest listed is 1.1.0: {shown}"
    );
    assert!(!w.adapters.join("square/1.2.0").exists());

    // Revoked: install refuses it, naming the version to move to.
    w.ok(&[
        "registry",
        "revoke",
        "square@1.1.0",
        "--registry",
        "registry",
        "--reason",
        "leaks the POS token",
        "--replacement",
        "1.0.0",
    ]);
    // The host has not seen the registry since: 1.1.0 still runs.
    assert_eq!(w.selected("square"), "1.1.0");
    let shown = w.fails(&[
        "adapter",
        "install",
        "square@=1.1.0",
        "--registry",
        "registry",
        "--yes",
    ]);
    assert!(
        shown.contains("1.1.0 is revoked: it must not run, leaks the POS token"),
        "{shown}"
    );
    assert!(
        shown.contains("move to 1.0.0 (`snapact-host adapter install square@=1.0.0"),
        "{shown}"
    );
    let shown = w.fails(&["registry", "yank", "square@1.1.0", "--registry", "registry"]);
    assert!(shown.contains("a revocation is never undone"), "{shown}");

    // Any contact with the registry saves its index (that failed install
    // did); `adapter refresh` does only that, and reports.
    std::fs::remove_file(w.adapters.join(".registry/index.json")).expect("forget the index");
    assert_eq!(w.selected("square"), "1.1.0");
    let out = w.host(&["adapter", "refresh", "--registry", "registry"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("square 1.1.0 (installed) is REVOKED (leaks the POS token)"),
        "{}",
        text(&out)
    );

    // Now every load passes it over, with a warning naming both versions.
    let r = w.resolve("square").expect("falls back");
    assert_eq!(r.package.manifest().version, Version::new(1, 0, 0));
    assert_eq!(r.passed_over, [Version::new(1, 1, 0)]);
    let logs = captured_logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("revoked adapter version(s) passed over")
                && l.contains("revoked=1.1.0")
                && l.contains("selected=1.0.0")),
        "no warning naming the revoked and the selected version"
    );
    let list = w.list();
    let v110 = list[0]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["version"] == "1.1.0")
        .cloned()
        .expect("1.1.0 listed");
    assert_eq!(v110["registry_status"], "revoked");
    assert_eq!(v110["reason"], "leaks the POS token");
    assert_eq!(v110["selected"], false);
    assert_eq!(
        v110["problem"],
        "revoked by the registry, never loaded; move to 1.0.0"
    );

    // Pinned to the revoked version only: refused, saying where to go.
    let e = w.resolve("square@=1.1.0").expect_err("revoked").to_string();
    assert!(
        e.contains("1.1.0: revoked by the registry (leaks the POS token); move to 1.0.0"),
        "{e}"
    );
    w.ok(&["adapter", "remove", "square@1.0.0"]);
    let e = w
        .resolve("square")
        .expect_err("only the revoked one is left")
        .to_string();
    assert!(e.contains("no version can be loaded"), "{e}");
    assert!(e.contains("install a version that is not revoked"), "{e}");
}

#[test]
fn semver_pins_pick_the_newest_matching_installed_version_and_rollback_steps_back() {
    let w = World::new();
    for v in ["1.0.0", "1.4.0", "1.10.0", "2.0.0"] {
        w.publish(v);
    }
    // Install picks the newest match in the registry.
    let shown = w.install("square@~1.4");
    assert!(shown.contains("installed square 1.4.0"), "{shown}");
    w.install("square@=1.0.0");
    w.install("square@^1");
    w.install("square");
    assert_eq!(w.selected("square"), "2.0.0");
    assert_eq!(w.selected("square@^1"), "1.10.0");
    assert_eq!(w.selected("square@~1.4"), "1.4.0");
    assert_eq!(w.selected("square@<1.4"), "1.0.0");
    let e = w.resolve("square@^3").expect_err("no match").to_string();
    assert!(e.contains("installed in"), "{e}");
    assert!(e.contains("2.0.0, 1.10.0, 1.4.0, 1.0.0"), "{e}");

    // A local build is one more version.
    let local = w.adapters.join("square");
    let pkg = w.package("local", "2.1.0");
    for f in ["adapter.toml", "adapter.wasm"] {
        std::fs::copy(pkg.join(f), local.join(f)).expect("copy");
    }
    w.ok(&[
        "adapter",
        "sign",
        &local.display().to_string(),
        "--key",
        "keys/publisher.key",
    ]);
    let r = w.resolve("square").expect("local build");
    assert_eq!(r.location, Location::LocalBuild);
    assert_eq!(r.package.manifest().version, Version::new(2, 1, 0));

    // Rollback sets the newest aside: first the local build, then 2.0.0.
    let out = w.ok(&["adapter", "rollback", "square"]);
    assert!(
        text(&out).contains("shops asking for `square` now get 2.0.0"),
        "{}",
        text(&out)
    );
    w.ok(&["adapter", "rollback", "square"]);
    assert_eq!(w.selected("square"), "1.10.0");
    assert_eq!(w.selected("square@^1"), "1.10.0");
    let list = listed(&w.list(), "square");
    assert!(
        list.contains(&("2.0.0".to_string(), "rolled-back".to_string(), false)),
        "{list:?}"
    );
    assert!(
        list.contains(&("2.1.0".to_string(), "rolled-back".to_string(), false)),
        "{list:?}"
    );
    assert!(
        list.contains(&("1.10.0".to_string(), "installed".to_string(), true)),
        "{list:?}"
    );

    // Installing a rolled-back version again brings it back.
    w.install("square@=2.0.0");
    assert_eq!(w.selected("square"), "2.0.0");
    for _ in 0..3 {
        w.ok(&["adapter", "rollback", "square"]);
    }
    assert_eq!(w.selected("square"), "1.0.0");
    let shown = w.fails(&["adapter", "rollback", "square"]);
    assert!(shown.contains("has only version 1.0.0"), "{shown}");
    assert!(
        shown.contains("there is no previous version to roll back to"),
        "{shown}"
    );
    assert_eq!(w.selected("square"), "1.0.0");

    w.ok(&["adapter", "remove", "square"]);
    let e = w.resolve("square").expect_err("removed").to_string();
    assert!(
        e.contains("adapter `square` (wanted: *) is not installed"),
        "{e}"
    );
}

#[test]
fn the_private_key_never_appears_in_output() {
    let w = World::new();
    let secret = std::fs::read_to_string(&w.key).expect("key file");
    let secret = secret
        .trim()
        .rsplit(':')
        .next()
        .expect("base64")
        .to_string();
    let pkg = w.package("k", "1.0.0");
    for args in [
        vec![
            "adapter",
            "sign",
            pkg.to_str().expect("utf-8"),
            "--key",
            "keys/publisher.key",
        ],
        vec!["adapter", "verify", pkg.to_str().expect("utf-8")],
        vec!["keys", "generate", "--out", "more"],
    ] {
        let out = w.host(&args);
        assert!(
            !text(&out).contains(&secret),
            "{args:?} printed the private key"
        );
    }
    // The key files: private 0600, never overwritten.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&w.key)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let shown = w.fails(&["keys", "generate", "--out", "keys"]);
    assert!(shown.contains("is never overwritten"), "{shown}");

    // The public key file given where the private one belongs: refused as
    // not a private key, without claiming that a private key was exposed.
    let pkg = pkg.to_str().expect("utf-8");
    let shown = w.fails(&["adapter", "sign", pkg, "--key", "keys/publisher.pub"]);
    assert!(
        shown.contains("not a publisher private key file"),
        "{shown}"
    );
    assert!(!shown.contains("readable by other users"), "{shown}");
    // A missing key file: named, with the OS error said once.
    let shown = w.fails(&["adapter", "sign", pkg, "--key", "keys/nope.key"]);
    assert!(shown.contains("keys/nope.key"), "{shown}");
    assert_eq!(
        shown.matches("No such file or directory").count(),
        1,
        "{shown}"
    );
}

/// `snapact-host adapter list --json | head -0`: the reader is gone before
/// anything is written. The command ends (by SIGPIPE, as Unix tools do)
/// without a panic and its backtrace.
#[cfg(unix)]
#[test]
fn a_closed_standard_output_ends_an_offline_command_without_a_panic() {
    use std::os::unix::process::ExitStatusExt as _;
    let w = World::new();
    for args in [
        &["adapter", "list", "--json"][..],
        &["keys", "generate", "--out", "piped"][..],
    ] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = Command::new(BIN)
            .args(args)
            .current_dir(w.tmp.path())
            .env("SNAPACT_CONFIG", &w.config)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("run snapact-host");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked"),
            "{args:?} panicked on the closed pipe: {stderr}"
        );
        assert_eq!(
            out.status.signal(),
            Some(SIGPIPE),
            "{args:?}: {:?} {stderr}",
            out.status
        );
    }
}

/// SIGPIPE's number (Linux and macOS).
#[cfg(unix)]
const SIGPIPE: i32 = 13;

/// Serve `root` as static files on 127.0.0.1 (GET only, no listing).
async fn serve(root: PathBuf) -> (String, tokio::task::JoinHandle<()>) {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::StatusCode;
    async fn file(
        State(root): State<PathBuf>,
        UrlPath(rel): UrlPath<String>,
    ) -> Result<Vec<u8>, StatusCode> {
        if rel.split('/').any(|p| p.is_empty() || p.starts_with('.')) {
            return Err(StatusCode::NOT_FOUND);
        }
        tokio::fs::read(root.join(rel))
            .await
            .map_err(|_| StatusCode::NOT_FOUND)
    }
    let app = axum::Router::new()
        .route("/r/{*rel}", axum::routing::get(file))
        .with_state(root);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (format!("http://{addr}/r/"), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_served_over_http_on_loopback() {
    let w = tokio::task::spawn_blocking(|| {
        let w = World::new();
        w.publish("1.0.0");
        w.publish("1.1.0");
        w
    })
    .await
    .expect("setup");
    let (url, server) = serve(w.registry.clone()).await;
    let run = |args: Vec<String>| {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(args)
            .current_dir(w.tmp.path())
            .env("SNAPACT_CONFIG", &w.config)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null());
        async move { cmd.output().await.expect("run snapact-host") }
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let out = run(args(&["adapter", "search", "--registry", &url, "--json"])).await;
    assert!(out.status.success(), "{}", text(&out));
    let found: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(found[0]["latest"], "1.1.0");

    let out = run(args(&[
        "adapter",
        "install",
        "square@~1.0",
        "--registry",
        &url,
        "--yes",
    ]))
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("square 1.0.0 from {url}")),
        "{}",
        text(&out)
    );
    // The index URL itself names the registry too.
    let index_url = format!("{url}index.json");
    let out = run(args(&[
        "adapter",
        "install",
        "square",
        "--registry",
        &index_url,
        "--yes",
    ]))
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(w.selected("square"), "1.1.0");

    // A revocation published on the server reaches the host through
    // `refresh_index`, the call a running host makes periodically.
    let registry = w.registry.clone();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(BIN)
            .args(["registry", "revoke", "square@1.1.0", "--registry"])
            .arg(&registry)
            .args(["--reason", "bad build"])
            .output()
            .expect("revoke");
        assert!(out.status.success(), "{}", text(&out));
    })
    .await
    .expect("revoke");
    let source = url.parse().expect("registry url");
    let index = snapact_host::registry::refresh_index(&w.adapters, &source)
        .await
        .expect("refresh over http");
    assert_eq!(
        index
            .entry("square", &Version::new(1, 1, 0))
            .map(|e| e.status),
        Some(Status::Revoked)
    );
    assert_eq!(w.selected("square"), "1.0.0");

    // A download that does not match the index is refused.
    let mut index = w.index();
    let entry = index
        .adapters
        .get_mut("square")
        .and_then(|a| {
            a.versions
                .iter_mut()
                .find(|v| v.version == Version::new(1, 0, 0))
        })
        .expect("1.0.0");
    entry.archive_digest = format!("sha256:{}", "0".repeat(64));
    w.write_index(&index);
    w.ok(&["adapter", "remove", "square@1.0.0"]);
    let out = run(args(&[
        "adapter",
        "install",
        "square@=1.0.0",
        "--registry",
        &url,
        "--yes",
    ]))
    .await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("the download's sha256 is"),
        "{}",
        text(&out)
    );

    // A missing registry is a clear error.
    let out = run(args(&[
        "adapter",
        "search",
        "--registry",
        &format!("{url}nope/"),
        "--json",
    ]))
    .await;
    assert!(!out.status.success());
    assert!(text(&out).contains("answered 404"), "{}", text(&out));
    server.abort();
}
