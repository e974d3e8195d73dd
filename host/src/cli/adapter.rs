//! `snapact-host adapter new|build|inspect|map|test`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::Value;

use super::{
    AdapterCommand, BuildArgs, EXIT_DATA, InspectArgs, Lang, MapArgs, NewArgs, TestArgs, fixtures,
};
use crate::registry::build::Language;
use crate::registry::{Package, build, scaffold};
use crate::runtime::{LoadedAdapter, Runtime, RuntimeConfig, ShopContext};

pub(super) async fn run(cmd: AdapterCommand) -> anyhow::Result<u8> {
    match cmd {
        AdapterCommand::New(args) => new_cmd(args),
        AdapterCommand::Build(args) => build_cmd(args).await,
        AdapterCommand::Inspect(args) => inspect(args),
        AdapterCommand::Map(args) => map(args).await,
        AdapterCommand::Test(args) => test(args).await,
        AdapterCommand::Pack(args) => super::packages::pack(args),
        AdapterCommand::Sign(args) => super::packages::sign(args),
        AdapterCommand::Verify(args) => super::packages::verify(args),
        AdapterCommand::Search(args) => super::packages::search(args).await,
        AdapterCommand::Install(args) => super::packages::install(args).await,
        AdapterCommand::List(args) => super::packages::list(args),
        AdapterCommand::Remove(args) => super::packages::remove(args),
        AdapterCommand::Rollback(args) => super::packages::rollback(args),
        AdapterCommand::Refresh(args) => super::packages::refresh(args).await,
    }
}

/// A package given as a directory, or as `id[@req]` installed in
/// `adapters_dir` (the version a shop with that spec would get; signatures
/// are checked when present but not required: these are authoring tools).
pub(crate) fn resolve_package(arg: &str, adapters_dir: &Path) -> anyhow::Result<Package> {
    let as_path = PathBuf::from(arg);
    if as_path.join("adapter.toml").is_file() {
        return Ok(Package::open(&as_path)?);
    }
    let spec: Option<crate::config::AdapterSpec> = arg.parse().ok();
    match spec {
        Some(spec) if !crate::registry::installed::versions(adapters_dir, &spec.id)?.is_empty() => {
            let policy = crate::registry::TrustPolicy::permissive();
            Ok(crate::registry::resolve(adapters_dir, &spec, &policy)?.package)
        }
        _ => bail!(
            "no adapter package at {arg:?}: give a directory holding adapter.toml and adapter.wasm, \
             or the id of a package in {} (build one with `snapact-host adapter build adapters/<id>`, \
             or install one with `snapact-host adapter install <id> --registry URL`)",
            adapters_dir.display()
        ),
    }
}

/// One runtime for a CLI command, caching compiled code next to the packages.
pub(crate) fn cli_runtime(adapters_dir: &Path) -> anyhow::Result<Runtime> {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(adapters_dir.join(".cache")),
        ..RuntimeConfig::default()
    })
    .context("failed to start the Wasm runtime")
}

async fn load(adapters_dir: &Path, package: &str) -> anyhow::Result<Arc<LoadedAdapter>> {
    let pkg = resolve_package(package, adapters_dir)?;
    let runtime = cli_runtime(adapters_dir)?;
    let loaded = tokio::task::spawn_blocking(move || runtime.load(&pkg))
        .await
        .context("adapter loading task failed")??;
    Ok(loaded)
}

fn cli_context(settings: BTreeMap<String, String>) -> ShopContext {
    ShopContext {
        shop: "cli".into(),
        settings,
        secrets: BTreeMap::new(),
        pos_base_url: None,
        pos: None,
        local_pos: false,
        metrics: None,
    }
}

fn new_cmd(args: NewArgs) -> anyhow::Result<u8> {
    let language = match args.lang {
        Lang::Rust => Language::Rust,
        Lang::Python => Language::Python,
        Lang::Js => Language::JavaScript,
    };
    let dir = args
        .dir
        .unwrap_or_else(|| Path::new("adapters").join(&args.name));
    let created = scaffold::new_adapter(&scaffold::NewAdapter {
        name: args.name.clone(),
        language,
        dir,
        sdk_path: args.sdk_path,
    })?;
    let dir = created.dir.display();
    println!(
        "created {dir}: a {} adapter for a JSON product feed ({} files; see {dir}/README.md)",
        scaffold::lang_flag(language),
        created.files.len()
    );
    let unit_tests = match language {
        Language::Rust => "cargo test",
        Language::Python => "python3 -m unittest",
        Language::JavaScript => "npm test",
    };
    let name = &args.name;
    println!("next, from here:");
    println!("  snapact-host adapter build {dir}");
    println!("  snapact-host adapter test {name} --fixtures {dir}/fixtures");
    println!("  (cd {dir} && {unit_tests})");
    Ok(0)
}

async fn build_cmd(args: BuildArgs) -> anyhow::Result<u8> {
    let dirs = match &args.dir {
        Some(dir) => vec![dir.clone()],
        None => discover_adapters(Path::new("adapters"))?,
    };
    if dirs.is_empty() {
        bail!("no adapters found under adapters/ (each adapter is a directory with adapter.toml)");
    }
    for dir in dirs {
        let out = args.out.clone();
        let d = dir.clone();
        let pkg_dir = tokio::task::spawn_blocking(move || build::build_adapter(&d, &out))
            .await
            .context("build task failed")?
            .with_context(|| format!("failed to build the adapter in {}", dir.display()))?;
        println!("built {} -> {}", dir.display(), pkg_dir.display());
    }
    Ok(0)
}

fn inspect(args: InspectArgs) -> anyhow::Result<u8> {
    let pkg = resolve_package(&args.package, &args.adapters_dir)?;
    let info = describe(&pkg)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        println!("{}", render_description(&info));
    }
    Ok(0)
}

/// Every adapter source directory (one holding `adapter.toml`) under `root`, sorted.
pub(crate) fn discover_adapters(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .with_context(|| format!("failed to read {}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("adapter.toml").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// What `adapter inspect` shows: the manifest plus digest, exports and imports.
fn describe(pkg: &Package) -> anyhow::Result<Value> {
    let mut v = serde_json::to_value(pkg.manifest())?;
    v["digest"] = Value::String(pkg.digest_hex());
    v["exports"] = serde_json::to_value(pkg.exports())?;
    v["imports"] = serde_json::to_value(pkg.imports())?;
    v["path"] = Value::String(pkg.dir().display().to_string());
    Ok(v)
}

fn render_description(v: &Value) -> String {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    let list = |v: Option<&Value>| -> String {
        match v.and_then(Value::as_array) {
            Some(a) if !a.is_empty() => a
                .iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(", "),
            _ => "(none)".into(),
        }
    };
    let caps = v.get("capabilities");
    let limits = v.get("limits");
    format!(
        "{} {}  ({})\n  {}\n  wit:        {}\n  digest:     sha256:{}\n  http hosts: {}\n  secrets:    {}\n  settings:   {}\n  limits:     memory {} MiB, timeout {} ms\n  exports:    {}\n  imports:    {}",
        s("id"),
        s("version"),
        s("vendor"),
        s("description"),
        s("wit"),
        s("digest"),
        list(caps.and_then(|c| c.get("http_hosts"))),
        list(caps.and_then(|c| c.get("secrets"))),
        list(caps.and_then(|c| c.get("settings"))),
        limits
            .and_then(|l| l.get("memory_mb"))
            .map_or("-".into(), Value::to_string),
        limits
            .and_then(|l| l.get("timeout_ms"))
            .map_or("-".into(), Value::to_string),
        list(v.get("exports")),
        list(v.get("imports")),
    )
}

/// `tests/fixtures/<id>` (the repository's adapters), else the
/// `adapters/<id>/fixtures` an adapter made by `adapter new` carries.
fn default_fixtures(id: &str) -> PathBuf {
    let shared = PathBuf::from("tests/fixtures").join(id);
    let own = PathBuf::from("adapters").join(id).join("fixtures");
    if !shared.is_dir() && own.is_dir() {
        own
    } else {
        shared
    }
}

fn read_payload(file: &Path) -> anyhow::Result<Vec<u8>> {
    if file == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("failed to read the payload from standard input")?;
        Ok(buf)
    } else {
        std::fs::read(file).with_context(|| format!("failed to read {}", file.display()))
    }
}

async fn map(args: MapArgs) -> anyhow::Result<u8> {
    let adapter = load(&args.adapters_dir, &args.package).await?;
    let payload = read_payload(&args.file)?;
    let ctx = cli_context(args.settings.into_iter().collect());
    match adapter
        .map_records(&ctx, &payload, &args.content_type)
        .await
    {
        Ok(mapped) => {
            println!("{}", serde_json::to_string_pretty(&mapped.changes)?);
            for r in &mapped.rejected {
                eprintln!("{}: {r}", args.file.display());
            }
            Ok(if mapped.rejected.is_empty() {
                0
            } else {
                EXIT_DATA
            })
        }
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            Ok(1)
        }
    }
}

async fn test(args: TestArgs) -> anyhow::Result<u8> {
    let adapter = load(&args.adapters_dir, &args.package).await?;
    let dir = args
        .fixtures
        .unwrap_or_else(|| default_fixtures(adapter.id()));
    let names = fixtures::names(&dir)?;
    if names.is_empty() {
        bail!(
            "no fixtures in {}: add NAME.input.json and NAME.expected.json pairs",
            dir.display()
        );
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    for name in names {
        let input = dir.join(format!("{name}.input.json"));
        let expected_path = dir.join(format!("{name}.expected.json"));
        let payload =
            std::fs::read(&input).with_context(|| format!("failed to read {}", input.display()))?;
        let expected: Value = match std::fs::read(&expected_path) {
            Ok(b) => serde_json::from_slice(&b)
                .with_context(|| format!("{} is not valid JSON", expected_path.display()))?,
            Err(_) => {
                println!("FAIL {name}: {} is missing", expected_path.display());
                failed += 1;
                continue;
            }
        };
        let ctx = cli_context(fixtures::settings(&dir, &name)?);
        let result = adapter
            .map_records(&ctx, &payload, "application/json")
            .await;
        let problems = fixtures::check(&expected, &expected_path, &result)?;
        if problems.is_empty() {
            println!("ok   {name}");
            passed += 1;
        } else {
            println!("FAIL {name}");
            for p in problems {
                println!("     {p}");
            }
            failed += 1;
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 { 0 } else { EXIT_DATA })
}
