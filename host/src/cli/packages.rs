//! Packages, keys and registries: `adapter pack|sign|verify|search|install|
//! list|remove|rollback|refresh`, `keys generate`, `registry
//! publish|yank|revoke` (docs/packages.md).

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::{
    EXIT_DATA, InstallArgs, KeysCommand, ListArgs, PackArgs, PackagesConfigArgs, RefreshArgs,
    RegistryCommand, RemoveArgs, RollbackArgs, SearchArgs, SignArgs, VerifyArgs,
};
use crate::config::{AdapterSpec, AdaptersConfig, Overrides};
use crate::registry::archive::PackageFiles;
use crate::registry::index::{Index, Status};
use crate::registry::installed::{self, Location};
use crate::registry::source::{Published, RegistryDir};
use crate::registry::{
    Package, PublisherKey, RegistrySource, SecretKey, SignatureStatus, install as installer,
    signature,
};

impl PackagesConfigArgs {
    /// `[adapters]` from `--config`, else `./snapact.toml` when it exists,
    /// else the defaults; `--adapters-dir` wins over all.
    fn load(&self) -> anyhow::Result<(AdaptersConfig, String)> {
        let overrides = Overrides {
            adapters_dir: self.adapters_dir.clone(),
            ..Overrides::default()
        };
        let default = Path::new("snapact.toml");
        let path = match &self.config {
            Some(p) => Some(p.as_path()),
            None if default.is_file() => Some(default),
            None => None,
        };
        Ok(match path {
            Some(p) => (
                AdaptersConfig::load(p, &overrides)?,
                p.display().to_string(),
            ),
            None => (
                AdaptersConfig::defaults(&overrides)?,
                "the defaults (no config file)".to_string(),
            ),
        })
    }
}

/// The registry from `--registry`, else `[adapters] registry`.
fn registry_from(
    flag: Option<&str>,
    config: &AdaptersConfig,
    config_name: &str,
) -> anyhow::Result<RegistrySource> {
    match flag {
        Some(r) => Ok(r.parse()?),
        None => config.registry.clone().with_context(|| {
            format!(
                "no registry: pass --registry URL|DIR, or set [adapters] registry in {config_name}"
            )
        }),
    }
}

/// A package given as a folder or a `.tar` (unpacked into a temporary
/// folder that lives as long as the returned guard).
struct OpenedPackage {
    package: Package,
    files: PackageFiles,
    tmp: Option<tempfile::TempDir>,
    given: std::path::PathBuf,
}

impl OpenedPackage {
    /// A message about the package, naming the archive the operator gave
    /// rather than the temporary folder it was unpacked into.
    fn shown(&self, message: impl ToString) -> String {
        let message = message.to_string();
        match &self.tmp {
            Some(tmp) => message.replace(
                &tmp.path().display().to_string(),
                &self.given.display().to_string(),
            ),
            None => message,
        }
    }
}

fn open_package(path: &Path) -> anyhow::Result<OpenedPackage> {
    if path.is_dir() {
        let package = Package::open(path)?;
        let files = PackageFiles::read_dir(path)?;
        return Ok(OpenedPackage {
            package,
            files,
            tmp: None,
            given: path.to_path_buf(),
        });
    }
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "no package at {}: give a package folder (adapter.toml, adapter.wasm) or a .tar made by `adapter pack`",
            path.display()
        )
    })?;
    let files = PackageFiles::unpack(&bytes, &path.display().to_string())?;
    let tmp = tempfile::Builder::new()
        .prefix("snapact-package-")
        .tempdir()
        .context("failed to create a temporary folder")?;
    files.write_dir(tmp.path())?;
    let package = Package::open(tmp.path()).map_err(|e| {
        anyhow::anyhow!(
            "{}",
            e.to_string().replace(
                &tmp.path().display().to_string(),
                &path.display().to_string()
            )
        )
    })?;
    Ok(OpenedPackage {
        package,
        files,
        tmp: Some(tmp),
        given: path.to_path_buf(),
    })
}

fn archive_digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

pub(super) fn pack(args: PackArgs) -> anyhow::Result<u8> {
    let opened = open_package(&args.dir)?;
    let signer = match signature::verify_package(&opened.package) {
        Ok(Some(v)) => format!("signed by key {}", v.key.id()),
        Ok(None) => "unsigned".into(),
        Err(e) => bail!("{}", opened.shown(e.for_publisher(opened.package.dir()))),
    };
    let bytes = opened.files.pack();
    installed::write_file_atomic(&args.output, &bytes)
        .with_context(|| format!("failed to write {}", args.output.display()))?;
    let m = opened.package.manifest();
    println!(
        "packed {} {} -> {} ({signer}; archive {}; adapter.wasm sha256:{})",
        m.id,
        m.version,
        args.output.display(),
        archive_digest(&bytes),
        opened.package.digest_hex()
    );
    Ok(0)
}

pub(super) fn sign(args: SignArgs) -> anyhow::Result<u8> {
    let key = SecretKey::load(&args.key)?;
    let opened = open_package(&args.package)?;
    let sig = key.sign_package(&opened.package);
    if args.package.is_dir() {
        sig.write(&args.package)?;
    } else {
        let files = PackageFiles {
            signature: Some(sig.to_json()),
            ..opened.files
        };
        installed::write_file_atomic(&args.package, &files.pack())
            .with_context(|| format!("failed to write {}", args.package.display()))?;
    }
    let m = opened.package.manifest();
    println!(
        "signed {} {} ({}) with key {}: digest {}",
        m.id,
        m.version,
        args.package.display(),
        sig.key_id,
        sig.digest
    );
    println!(
        "hosts trust it with: [adapters] trusted_keys = [\"{}\"]",
        sig.public_key
    );
    Ok(0)
}

pub(super) fn verify(args: VerifyArgs) -> anyhow::Result<u8> {
    let (config, config_name) = args.config.load()?;
    let opened = open_package(&args.package)?;
    let pkg = &opened.package;
    let m = pkg.manifest();
    let (signed_by, public_key, signature_state) = match signature::verify_package(pkg) {
        Ok(Some(v)) => (
            Some(v.key.id().to_string()),
            Some(v.key.to_string()),
            "valid".to_string(),
        ),
        Ok(None) => (None, None, "unsigned".to_string()),
        Err(e) => (None, None, format!("invalid: {}", opened.shown(e))),
    };
    let trusted = signed_by.as_ref().map(|_| {
        public_key
            .as_deref()
            .and_then(|k| PublisherKey::parse(k).ok())
            .is_some_and(|k| config.trust.trusts(&k))
    });
    let verdict = config.trust.check(pkg);
    let report = json!({
        "package": args.package.display().to_string(),
        "id": m.id,
        "version": m.version.to_string(),
        "wit": m.wit.to_string(),
        "digest": format!("sha256:{}", pkg.digest_hex()),
        "signed_by": signed_by,
        "public_key": public_key,
        "signature": signature_state,
        "trusted": trusted,
        "policy": config_name,
        "require_signatures": config.trust.require_signatures,
        "accepted": verdict.is_ok(),
        "problem": verdict.as_ref().err().map(|e| opened.shown(e)),
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} {} ({})  {}",
            m.id,
            m.version,
            m.vendor,
            args.package.display()
        );
        println!("  wit:        {} (supported by this host)", m.wit);
        println!("  digest:     sha256:{}", pkg.digest_hex());
        match (&report["signed_by"], &report["public_key"]) {
            (Value::String(id), Value::String(key)) => {
                println!("  publisher:  key {id} ({key})");
            }
            _ => println!("  publisher:  none"),
        }
        println!("  signature:  {signature_state}");
        println!(
            "  trust:      {} (policy: {config_name}; signatures {})",
            match trusted {
                Some(true) => "the key is trusted",
                Some(false) => "the key is NOT in trusted_keys",
                None => "no signer to trust",
            },
            if config.trust.require_signatures {
                "required"
            } else {
                "not required"
            }
        );
        match &verdict {
            Ok(_) => println!("  verdict:    accepted: this host would load it"),
            Err(e) => println!("  verdict:    refused: {}", opened.shown(e)),
        }
    }
    Ok(if verdict.is_ok() { 0 } else { EXIT_DATA })
}

pub(super) async fn search(args: SearchArgs) -> anyhow::Result<u8> {
    let (config, config_name) = args.config.load()?;
    let registry = registry_from(args.registry.as_deref(), &config, &config_name)?;
    let index = registry
        .fetch_index()
        .await
        .with_context(|| format!("failed to read the registry {registry}"))?;
    let needle = args.text.as_deref().unwrap_or("").to_lowercase();
    let mut found = Vec::new();
    for (id, entry) in &index.adapters {
        let mut versions: Vec<_> = entry.versions.iter().collect();
        versions.sort_by(|a, b| b.version.cmp(&a.version));
        let latest = versions
            .iter()
            .find(|v| v.status == Status::Listed)
            .copied();
        let shown = latest.or(versions.first().copied());
        let Some(shown) = shown else { continue };
        let haystack = format!("{id} {} {}", shown.vendor, shown.description).to_lowercase();
        if !haystack.contains(&needle) {
            continue;
        }
        found.push(json!({
            "id": id,
            "latest": latest.map(|v| v.version.to_string()),
            "vendor": shown.vendor,
            "description": shown.description,
            "key_id": shown.key_id,
            "wit": shown.wit,
            "capabilities": shown.capabilities,
            "versions": versions.iter().map(|v| json!({
                "version": v.version.to_string(),
                "status": v.status,
                "reason": v.reason,
                "wit": v.wit,
                "key_id": v.key_id,
            })).collect::<Vec<_>>(),
        }));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(0);
    }
    if found.is_empty() {
        println!(
            "nothing in {registry} matches {:?}",
            args.text.unwrap_or_default()
        );
        return Ok(0);
    }
    for a in &found {
        let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
        let others: Vec<String> = a["versions"]
            .as_array()
            .map(|vs| {
                vs.iter()
                    .map(|v| match s(&v["status"]).as_str() {
                        "listed" => s(&v["version"]),
                        st => format!("{} ({st})", s(&v["version"])),
                    })
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "{} {}  ({}; signed by {})\n  {}\n  versions: {}",
            s(&a["id"]),
            a["latest"].as_str().unwrap_or("(nothing installable)"),
            s(&a["vendor"]),
            a["key_id"].as_str().unwrap_or("nobody"),
            s(&a["description"]),
            others.join(", ")
        );
    }
    Ok(0)
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

pub(super) async fn install(args: InstallArgs) -> anyhow::Result<u8> {
    let (config, config_name) = args.config.load()?;
    let registry = registry_from(args.registry.as_deref(), &config, &config_name)?;
    let (id, req) = installer::parse_request(&args.adapter)?;
    let staged = installer::stage(&config.dir, &registry, &id, &req, &config.trust).await?;
    let m = staged.package.manifest().clone();
    let target = config.dir.join(&m.id).join(m.version.to_string());
    if let Ok(existing) = Package::open(&target)
        && existing.digest() == staged.package.digest()
    {
        println!(
            "{} {} is already installed ({})",
            m.id,
            m.version,
            target.display()
        );
        return Ok(0);
    }
    let publisher = match &staged.signature {
        SignatureStatus::Trusted { key_id } => format!("signed by trusted key {key_id}"),
        SignatureStatus::Untrusted { key_id, .. } => format!(
            "signed by key {key_id}, NOT trusted (accepted only because require_signatures is off)"
        ),
        SignatureStatus::Unsigned => {
            "UNSIGNED (accepted only because require_signatures is off)".into()
        }
    };
    let caps = &m.capabilities;
    println!("{} {} from {registry}", m.id, m.version);
    println!("  {} — {}", m.vendor, m.description);
    println!("  publisher:  {publisher}");
    println!("  wit:        {}", m.wit);
    println!("  digest:     sha256:{}", staged.package.digest_hex());
    println!("It asks for:");
    println!(
        "  http hosts: {}  (the only hosts its POS calls may reach)",
        list_or_none(&caps.http_hosts)
    );
    println!(
        "  secrets:    {}  (it may verify signatures with them; it never reads them)",
        list_or_none(&caps.secrets)
    );
    println!(
        "  settings:   {}  (shop settings it reads)",
        list_or_none(&caps.settings)
    );
    println!(
        "  limits:     memory {} MiB, {} ms per call (capped by [adapters] max_memory_mb {}, max_timeout_ms {})",
        m.limits.memory_mb, m.limits.timeout_ms, config.max_memory_mb, config.max_timeout_ms
    );
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "not installing {} {}: standard input is not a terminal, so nobody can confirm; \
                 read the capabilities above and run again with --yes",
                m.id,
                m.version
            );
        }
        print!("Install {} {}? [y/N] ", m.id, m.version);
        std::io::stdout().flush().ok();
        let answer = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map(|_| line)
        })
        .await
        .context("reading the answer failed")?
        .context("reading the answer failed")?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            println!("not installed");
            return Ok(1);
        }
    }
    match staged.commit()? {
        Some(path) => println!("installed {} {} -> {}", m.id, m.version, path.display()),
        None => println!("{} {} is already installed", m.id, m.version),
    }
    report_selection(&config, &m.id);
    Ok(0)
}

/// Say which version a shop asking for any version of `id` now gets.
fn report_selection(config: &AdaptersConfig, id: &str) {
    let spec = AdapterSpec {
        id: id.to_string(),
        version: semver::VersionReq::STAR,
    };
    match crate::registry::resolve(&config.dir, &spec, &config.trust) {
        Ok(r) => println!(
            "shops asking for `{id}` now get {} ({}, {})",
            r.package.manifest().version,
            r.location,
            r.signature
        ),
        Err(e) => println!("shops asking for `{id}` get nothing: {e}"),
    }
}

pub(super) fn list(args: ListArgs) -> anyhow::Result<u8> {
    let (config, _) = args.config.load()?;
    let listing = installed::list(&config.dir, &config.trust)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&listing)?);
        return Ok(0);
    }
    if listing.is_empty() {
        println!(
            "no adapters in {} (install one with `snapact-host adapter install ID --registry URL`)",
            config.dir.display()
        );
        return Ok(0);
    }
    for a in &listing {
        println!("{}", a.id);
        for v in &a.versions {
            let signer = match (&v.signed_by, v.trusted) {
                (Some(k), true) => format!("signed by {k} (trusted)"),
                (Some(k), false) => format!("signed by {k} (not trusted)"),
                (None, _) => "unsigned".into(),
            };
            let status = match (v.registry_status, &v.reason) {
                (Some(s), Some(r)) => format!("{s}: {r}"),
                (Some(s), None) => s.to_string(),
                (None, _) => "not in the cached index".into(),
            };
            println!(
                "  {} {:<10} {:<12} {:<40} {}",
                if v.selected { "*" } else { " " },
                v.version.to_string(),
                v.location.to_string(),
                signer,
                status
            );
            if let Some(p) = &v.problem
                && v.location != Location::RolledBack
            {
                println!("      refused: {p}");
            }
        }
        if let Some(e) = &a.selection_error {
            println!("  ! nothing selected: {e}");
        }
    }
    println!("(* = what a shop asking for the adapter without a version gets)");
    Ok(0)
}

pub(super) fn remove(args: RemoveArgs) -> anyhow::Result<u8> {
    let (config, _) = args.config.load()?;
    let (id, version) = installer::parse_exact(&args.adapter)?;
    let removed = installed::remove(&config.dir, &id, version.as_ref())?;
    if removed.is_empty() {
        println!("removed {id} (nothing was installed in it)");
    }
    for v in &removed {
        println!("removed {id} {} ({})", v.version, v.location);
    }
    if version.is_some() {
        report_selection(&config, &id);
    }
    Ok(0)
}

pub(super) fn rollback(args: RollbackArgs) -> anyhow::Result<u8> {
    let (config, _) = args.config.load()?;
    let (id, version) = installer::parse_exact(&args.id)?;
    if version.is_some() {
        bail!("give the adapter id only: rollback always sets the newest version aside");
    }
    let done = installed::rollback(&config.dir, &id)?;
    println!(
        "rolled back {id}: {} set aside in {} (delete it with `snapact-host adapter remove {id}@{}`); \
         {} is now the newest",
        done.set_aside,
        config
            .dir
            .join(&id)
            .join(installed::ROLLED_BACK_DIR)
            .display(),
        done.set_aside,
        done.now_newest
    );
    report_selection(&config, &id);
    Ok(0)
}

pub(super) async fn refresh(args: RefreshArgs) -> anyhow::Result<u8> {
    let (config, config_name) = args.config.load()?;
    let registry = registry_from(args.registry.as_deref(), &config, &config_name)?;
    let index = crate::registry::refresh_index(&config.dir, &registry).await?;
    println!(
        "saved the index of {registry} ({} adapters) to {}",
        index.adapters.len(),
        installed::cached_index_path(&config.dir).display()
    );
    Ok(if warn_installed(&config, &index)? {
        EXIT_DATA
    } else {
        0
    })
}

/// Print every installed version the index yanks or revokes; true when
/// any is revoked.
fn warn_installed(config: &AdaptersConfig, index: &Index) -> anyhow::Result<bool> {
    let mut revoked = false;
    for id in installed::adapter_ids(&config.dir)? {
        for v in installed::versions(&config.dir, &id)? {
            let Some(entry) = index.entry(&id, &v.version) else {
                continue;
            };
            let to = index
                .replacement_for(&id, &v.version)
                .map(|r| format!("; move to {r}"))
                .unwrap_or_default();
            let reason = entry.reason.as_deref().unwrap_or("no reason given");
            match entry.status {
                Status::Listed => {}
                Status::Yanked => println!(
                    "{id} {} ({}) is yanked ({reason}): it keeps running, but consider moving{to}",
                    v.version, v.location
                ),
                Status::Revoked => {
                    revoked = true;
                    println!(
                        "{id} {} ({}) is REVOKED ({reason}): hosts will not load it{to}",
                        v.version, v.location
                    );
                }
            }
        }
    }
    Ok(revoked)
}

pub(super) fn keys(cmd: KeysCommand) -> anyhow::Result<u8> {
    let KeysCommand::Generate(args) = cmd;
    if args.name.is_empty()
        || !args
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bail!("--name {:?}: use letters, digits, '-' and '_'", args.name);
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("failed to create {}", args.out.display()))?;
    let secret_path = args.out.join(format!("{}.key", args.name));
    let public_path = args.out.join(format!("{}.pub", args.name));
    for p in [&secret_path, &public_path] {
        if p.exists() {
            bail!(
                "{} exists: a key file is never overwritten; choose another --out or --name",
                p.display()
            );
        }
    }
    let secret = SecretKey::generate()?;
    let public = secret.public();
    secret.write_new(&secret_path)?;
    installed::write_file_atomic(&public_path, format!("{public}\n").as_bytes())
        .with_context(|| format!("failed to write {}", public_path.display()))?;
    println!("{public}");
    eprintln!(
        "key id {}: wrote {} (private: keep it secret, readable by you only) and {}",
        public.id(),
        secret_path.display(),
        public_path.display()
    );
    eprintln!(
        "operators trust it with: [adapters] trusted_keys = [\"{public}\"]  (or {{ file = \"{}\" }})",
        public_path.display()
    );
    Ok(0)
}

pub(super) fn registry(cmd: RegistryCommand) -> anyhow::Result<u8> {
    match cmd {
        RegistryCommand::Publish(args) => {
            let opened = open_package(&args.package)?;
            let mut reg = RegistryDir::open(&args.registry)?;
            let m = opened.package.manifest();
            let published = reg
                .publish(&opened.package, &opened.files, args.allow_unsigned)
                .map_err(|e| anyhow::anyhow!("{}", opened.shown(e)))?;
            match published {
                Published::Added(e) => println!(
                    "published {} {} to {} as {} ({}; archive {})",
                    m.id,
                    m.version,
                    args.registry.display(),
                    e.path,
                    e.key_id
                        .as_deref()
                        .map_or_else(|| "unsigned".to_string(), |k| format!("signed by key {k}")),
                    e.archive_digest
                ),
                Published::AlreadyPublished(e) => println!(
                    "{} {} is already published in {} with the same bytes ({})",
                    m.id,
                    m.version,
                    args.registry.display(),
                    e.path
                ),
            }
            Ok(0)
        }
        RegistryCommand::Yank(args) => {
            let (id, version) = exact_version(&args.adapter)?;
            let mut reg = RegistryDir::open(&args.registry)?;
            reg.set_status(&id, &version, Status::Yanked, args.reason, None)?;
            println!(
                "yanked {id} {version} in {}: no new installs; hosts that have it keep running it",
                args.registry.display()
            );
            Ok(0)
        }
        RegistryCommand::Revoke(args) => {
            let (id, version) = exact_version(&args.adapter)?;
            if args.reason.trim().is_empty() {
                bail!("--reason must say why, for the operators whose hosts will refuse it");
            }
            let replacement = args
                .replacement
                .as_deref()
                .map(|r| {
                    semver::Version::parse(r.trim_start_matches('='))
                        .with_context(|| format!("--replacement {r:?} is not a version"))
                })
                .transpose()?;
            let mut reg = RegistryDir::open(&args.registry)?;
            reg.set_status(
                &id,
                &version,
                Status::Revoked,
                Some(args.reason),
                replacement,
            )?;
            let to = reg
                .index()
                .replacement_for(&id, &version)
                .map(|r| format!("; operators are told to move to {r}"))
                .unwrap_or_default();
            println!(
                "revoked {id} {version} in {}: hosts refuse to install or load it once they see the index{to}",
                args.registry.display()
            );
            Ok(0)
        }
    }
}

fn exact_version(text: &str) -> anyhow::Result<(String, semver::Version)> {
    match installer::parse_exact(text)? {
        (id, Some(v)) => Ok((id, v)),
        (id, None) => bail!("give the version: {id}@VERSION"),
    }
}
