//! Host memory: resident set size of `snapact-host run` serving 100 shops
//! over 10 adapters, after start-up and after a period of traffic.
//!
//! The 10 adapters: the six under `adapters/` (Square, Shopify, Clover,
//! Loyverse in Rust; WooCommerce in Python; Zettle in JavaScript) and four
//! made by `snapact-host adapter new` (two Rust, one Python, one
//! JavaScript: the JSON product feed adapter every language gets), each
//! built as an operator builds it (`adapter build`). Shops are spread
//! round-robin over them, ten each, every shop with its own SnapAct key and
//! tenant in one `snapact-host sandbox`, and with the settings of its
//! adapter's golden fixture.
//!
//! Each run, on a fresh store and sandbox, from the compiled-code cache:
//! 1. start `run`; when it listens, wait `MEMORY_BENCH_IDLE_SECS` and read
//!    VmRSS and VmHWM from /proc/<pid>/status ("after start-up");
//! 2. traffic: one `snapact-host import` per shop of its adapter's catalog
//!    fixture (delivered by `run`), then signed POS webhooks into `run` for
//!    `MEMORY_BENCH_TRAFFIC_SECS` at `MEMORY_BENCH_RATE` per second,
//!    round-robin over the shops of the three adapters whose webhooks need
//!    no POS call (Square stock updates, WooCommerce product updates,
//!    Zettle balance changes: one adapter per language);
//! 3. when the outbox is empty, wait `MEMORY_BENCH_IDLE_SECS` again and
//!    read VmRSS (steady), its anonymous and file-backed parts, and VmHWM
//!    (the peak over the run).
//!
//! Before the runs: one start with an empty code cache (every adapter
//! compiled by `run` itself: the peak a first start costs), and as a
//! reference, `run` with one shop on the Square adapter.
//!
//! Run: `cargo bench -p snapact-benches --bench host_memory` (needs what
//! `adapter build` needs: wasm32-wasip2, componentize-py, Node.js + npm).
//! Environment: `MEMORY_BENCH_RUNS` (3), `MEMORY_BENCH_SHOPS` (100),
//! `MEMORY_BENCH_TRAFFIC_SECS` (30), `MEMORY_BENCH_RATE` (100),
//! `MEMORY_BENCH_IDLE_SECS` (5). Prints a Markdown section for BENCHMARKS.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use snapact_benches::report::{Session, proc_field, rss_kib, spread_row};
use snapact_benches::{env_usize, target_dir, workspace_root};
use snapact_host::outbox::{SqliteStore, Store};
use snapact_host::registry::build::{self, Language};
use snapact_host::registry::scaffold::{self, NewAdapter};
use snapact_host::registry::{Package, WASM_FILE};
use snapact_tests::processes::{SandboxProcess, log_tail, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_snapact-host-under-bench");
const PUBLIC_URL: &str = "https://bench.example";
const SQUARE_KEY: &str = "bench-square-signature-key";
const WOO_SECRET: &str = "bench-woocommerce-webhook-secret";
const ZETTLE_KEY: &str = "bench-zettle-signing-key";
/// Longer than this is broken, not slow (a first start compiles Python and
/// JavaScript components for minutes on a loaded machine).
const PATIENCE: Duration = Duration::from_secs(1800);

/// Webhooks an adapter gets during the traffic phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hooks {
    None,
    SquareStock,
    WooProduct,
    ZettleBalance,
}

/// One of the ten adapters: where it comes from and what its shops import.
struct Subject {
    id: String,
    language: Language,
    /// The package folder (`adapter.toml` + `adapter.wasm`).
    package: PathBuf,
    /// The catalog its shops import, and the settings file next to it.
    catalog: PathBuf,
    settings: BTreeMap<String, String>,
    hooks: Hooks,
}

fn read_settings(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let v: Value = serde_json::from_slice(
        &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("{} is not JSON", path.display()))?;
    v.as_object()
        .with_context(|| format!("{} is not a JSON object", path.display()))?
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .with_context(|| format!("{}: {k} is not a string", path.display()))?;
            Ok((k.clone(), v.to_owned()))
        })
        .collect()
}

/// Builds the ten adapters into `work/packages` (takes minutes: two Python
/// and two JavaScript components).
fn build_subjects(root: &Path, work: &Path) -> anyhow::Result<Vec<Subject>> {
    let packages = work.join("packages");
    let fixtures = root.join("tests/fixtures");
    let mut subjects = Vec::new();
    for (id, language, fixture, hooks) in [
        (
            "square",
            Language::Rust,
            "search_catalog_objects",
            Hooks::SquareStock,
        ),
        ("shopify", Language::Rust, "products-list", Hooks::None),
        ("clover", Language::Rust, "items_list", Hooks::None),
        ("loyverse", Language::Rust, "items_page", Hooks::None),
        (
            "woocommerce",
            Language::Python,
            "products-list",
            Hooks::WooProduct,
        ),
        (
            "zettle",
            Language::JavaScript,
            "product-list",
            Hooks::ZettleBalance,
        ),
    ] {
        eprintln!("building adapters/{id}");
        let package = build::build_adapter(&root.join("adapters").join(id), &packages)
            .with_context(|| format!("building adapters/{id}"))?;
        let dir = fixtures.join(id);
        subjects.push(Subject {
            id: id.to_owned(),
            language,
            package,
            catalog: dir.join(format!("{fixture}.input.json")),
            settings: read_settings(&dir.join(format!("{fixture}.settings.json")))?,
            hooks,
        });
    }
    let sources = work.join("sources");
    if sources.exists() {
        std::fs::remove_dir_all(&sources)
            .with_context(|| format!("clearing {}", sources.display()))?;
    }
    for (name, language) in [
        ("feed-rust-a", Language::Rust),
        ("feed-rust-b", Language::Rust),
        ("feed-python", Language::Python),
        ("feed-js", Language::JavaScript),
    ] {
        eprintln!(
            "adapter new {name} --lang {}",
            scaffold::lang_flag(language)
        );
        let dir = sources.join(name);
        scaffold::new_adapter(&NewAdapter {
            name: name.to_owned(),
            language,
            dir: dir.clone(),
            sdk_path: (language == Language::Rust).then(|| root.join("sdk")),
        })?;
        let package = match language {
            Language::Rust => {
                build::build_rust_adapter_with_target_dir(&dir, &packages, Some(&target_dir()))
            }
            _ => build::build_adapter(&dir, &packages),
        }
        .with_context(|| format!("building {name}"))?;
        let fixtures = dir.join("fixtures");
        subjects.push(Subject {
            id: name.to_owned(),
            language,
            package,
            catalog: fixtures.join(format!("{name}.input.json")),
            settings: read_settings(&fixtures.join(format!("{name}.settings.json")))?,
            hooks: Hooks::None,
        });
    }
    for s in &subjects {
        let pkg = Package::open(&s.package)?;
        ensure!(
            pkg.manifest().id == s.id,
            "{} holds adapter {}, expected {}",
            s.package.display(),
            pkg.manifest().id,
            s.id
        );
    }
    Ok(subjects)
}

/// A shop: its id, key, and adapter (index into the subjects).
struct ShopSpec {
    id: String,
    key: String,
    subject: usize,
}

fn shops(subjects: &[Subject], count: usize) -> Vec<ShopSpec> {
    (0..count)
        .map(|i| {
            let subject = i % subjects.len();
            ShopSpec {
                id: format!("shop-{i:03}-{}", subjects[subject].id),
                key: format!("sk_bench_{i:03}"),
                subject,
            }
        })
        .collect()
}

/// One shop per adapter.
fn one_shop_per_adapter(subjects: &[Subject]) -> Vec<ShopSpec> {
    shops(subjects, subjects.len())
}

fn key_env(i: usize) -> String {
    format!("SNAPACT_KEY_{i:03}")
}

/// `snapact.toml` for `shops` and the environment its secrets come from.
fn config(
    dir: &Path,
    sandbox_url: &str,
    adapters: &Path,
    cache: &Path,
    subjects: &[Subject],
    shops: &[ShopSpec],
) -> (String, Vec<(String, String)>) {
    let mut text = format!(
        "[snapact]\nbase_url = {sandbox_url:?}\n\
         [store]\npath = {:?}\n\
         [server]\nlisten = \"127.0.0.1:0\"\npublic_url = {PUBLIC_URL:?}\n\
         [adapters]\ndir = {:?}\ncache_dir = {:?}\nrequire_signatures = false\n",
        dir.join("outbox.db").display().to_string(),
        adapters.display().to_string(),
        cache.display().to_string(),
    );
    let mut env = vec![
        ("BENCH_SQUARE_KEY".to_owned(), SQUARE_KEY.to_owned()),
        ("BENCH_WOO_SECRET".to_owned(), WOO_SECRET.to_owned()),
        ("BENCH_ZETTLE_KEY".to_owned(), ZETTLE_KEY.to_owned()),
    ];
    for (i, shop) in shops.iter().enumerate() {
        let subject = &subjects[shop.subject];
        env.push((key_env(i), shop.key.clone()));
        let settings = subject
            .settings
            .iter()
            .map(|(k, v)| format!("{k} = {v:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let secrets = match subject.hooks {
            Hooks::SquareStock => {
                "secrets = { webhook_signature_key = { env = \"BENCH_SQUARE_KEY\" } }\n"
            }
            Hooks::WooProduct => "secrets = { webhook_secret = { env = \"BENCH_WOO_SECRET\" } }\n",
            Hooks::ZettleBalance => {
                "secrets = { webhook_signing_key = { env = \"BENCH_ZETTLE_KEY\" } }\n"
            }
            Hooks::None => "",
        };
        text.push_str(&format!(
            "[[shop]]\nid = {:?}\nadapter = {:?}\nsnapact_key = {{ env = {:?} }}\n\
             settings = {{ {settings} }}\n{secrets}",
            shop.id,
            subject.id,
            key_env(i),
        ));
    }
    (text, env)
}

fn base64_hmac(key: &str, parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    for p in parts {
        mac.update(p);
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn hex_hmac(key: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(message);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A webhook's body and headers (signature, topic).
type SignedWebhook = (Vec<u8>, Vec<(&'static str, String)>);

/// The webhook bodies and headers the traffic phase sends, per kind; `seq`
/// varies the stock figures so successive webhooks are real changes.
struct Webhooks {
    square_variations: Vec<String>,
    square_location: String,
    woo_body: Vec<u8>,
    zettle: Value,
}

impl Webhooks {
    fn load(root: &Path, subjects: &[Subject]) -> anyhow::Result<Self> {
        let fixtures = root.join("tests/fixtures");
        let square = subjects
            .iter()
            .find(|s| s.hooks == Hooks::SquareStock)
            .context("no Square subject")?;
        let catalog: Value = serde_json::from_slice(&std::fs::read(&square.catalog)?)?;
        let mut square_variations = Vec::new();
        for object in catalog["objects"].as_array().into_iter().flatten() {
            for v in object["item_data"]["variations"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if let Some(id) = v["id"].as_str() {
                    square_variations.push(id.to_owned());
                }
            }
        }
        ensure!(
            !square_variations.is_empty(),
            "no variations in {}",
            square.catalog.display()
        );
        Ok(Webhooks {
            square_variations,
            square_location: square
                .settings
                .get("location_id")
                .cloned()
                .context("the Square fixture's settings have no location_id")?,
            woo_body: std::fs::read(
                fixtures.join("woocommerce/webhook-product-updated.input.json"),
            )?,
            zettle: serde_json::from_slice(&std::fs::read(
                fixtures.join("zettle/webhook-inventory-balance-changed.input.json"),
            )?)?,
        })
    }

    /// Body and headers of webhook `seq` for a shop of kind `hooks`.
    fn request(&self, hooks: Hooks, shop: &str, seq: u64) -> anyhow::Result<SignedWebhook> {
        match hooks {
            Hooks::SquareStock => {
                let variation =
                    &self.square_variations[seq as usize % self.square_variations.len()];
                let at = format!(
                    "2026-11-27T{:02}:{:02}:{:02}.{:03}Z",
                    10 + (seq / 3_600_000) % 10,
                    (seq / 60_000) % 60,
                    (seq / 1000) % 60,
                    seq % 1000
                );
                let body = json!({
                    "merchant_id": "BENCHMERCHANT",
                    "type": "inventory.count.updated",
                    "event_id": format!("bench-{seq}"),
                    "created_at": at,
                    "data": { "type": "inventory_counts", "id": format!("bench-{seq}"),
                        "object": { "inventory_counts": [{
                            "calculated_at": at,
                            "catalog_object_id": variation,
                            "catalog_object_type": "ITEM_VARIATION",
                            "location_id": self.square_location,
                            "quantity": (seq % 500).to_string(),
                            "state": "IN_STOCK"
                        }]}}
                })
                .to_string()
                .into_bytes();
                let url = format!("{PUBLIC_URL}/webhooks/pos/{shop}");
                let sig = base64_hmac(SQUARE_KEY, &[url.as_bytes(), &body]);
                Ok((body, vec![("x-square-hmacsha256-signature", sig)]))
            }
            Hooks::WooProduct => {
                let sig = base64_hmac(WOO_SECRET, &[&self.woo_body]);
                Ok((
                    self.woo_body.clone(),
                    vec![
                        ("x-wc-webhook-topic", "product.updated".to_owned()),
                        ("x-wc-webhook-signature", sig),
                    ],
                ))
            }
            Hooks::ZettleBalance => {
                let mut message = self.zettle.clone();
                let mut payload: Value = serde_json::from_str(
                    message["payload"]
                        .as_str()
                        .context("the Zettle message has no payload")?,
                )?;
                if let Some(after) = payload["balanceAfter"].get_mut(0) {
                    after["balance"] = json!((seq % 500).to_string());
                }
                let payload = payload.to_string();
                let timestamp = message["timestamp"]
                    .as_str()
                    .context("the Zettle message has no timestamp")?
                    .to_owned();
                message["payload"] = json!(payload);
                let sig = hex_hmac(ZETTLE_KEY, format!("{timestamp}.{payload}").as_bytes());
                Ok((
                    message.to_string().into_bytes(),
                    vec![("x-izettle-signature", sig)],
                ))
            }
            Hooks::None => bail!("no webhooks for this shop"),
        }
    }
}

/// `snapact-host run` as a child process.
struct RunProcess {
    child: tokio::process::Child,
    log: PathBuf,
}

impl RunProcess {
    fn pid(&self) -> anyhow::Result<u32> {
        self.child.id().context("run has exited")
    }

    fn memory(&self) -> anyhow::Result<Memory> {
        let pid = self.pid()?;
        let (rss, hwm) = rss_kib(pid)
            .with_context(|| format!("no VmRSS for run\n{}", log_tail(&self.log, 20)))?;
        let file = format!("/proc/{pid}/status");
        let kib = |key: &str| -> f64 {
            proc_field(&file, key)
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        Ok(Memory {
            rss: rss as f64 / 1024.0,
            hwm: hwm as f64 / 1024.0,
            anon: kib("RssAnon") / 1024.0,
            file: kib("RssFile") / 1024.0,
        })
    }
}

/// MiB.
#[derive(Debug, Clone, Copy)]
struct Memory {
    rss: f64,
    hwm: f64,
    anon: f64,
    file: f64,
}

/// `snapact-host ARGS --config CONFIG` with the secrets' environment.
fn command(args: &[&str], config: &Path, env: &[(String, String)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .arg("--config")
        .arg(config)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Starts `run` and waits until it listens; returns its address.
async fn start_run(
    config: &Path,
    env: &[(String, String)],
    log: &Path,
) -> anyhow::Result<(RunProcess, String)> {
    let out = std::fs::File::create(log)?;
    let child = command(&["run"], config, env)
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .context("failed to start snapact-host run")?;
    let mut run = RunProcess {
        child,
        log: log.to_path_buf(),
    };
    let addr = wait_for("run to listen", PATIENCE, Duration::from_millis(20), || {
        let exited = run.child.try_wait();
        let log = log.to_path_buf();
        async move {
            if let Some(status) = exited? {
                bail!("run exited with {status}\n{}", log_tail(&log, 30));
            }
            let text = strip_ansi(&std::fs::read_to_string(&log).unwrap_or_default());
            Ok(text
                .lines()
                .find(|l| l.contains("host listening"))
                .and_then(|l| {
                    l.split_whitespace()
                        .find_map(|w| w.strip_prefix("addr="))
                        .map(str::to_owned)
                }))
        }
    })
    .await?;
    Ok((run, addr))
}

/// `text` without terminal colour sequences (`ESC [ ... m`), which the
/// host's log has when its subscriber decides to colour.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What one run measured.
struct Measured {
    startup: Memory,
    steady: Memory,
    /// Seconds from spawn to listening.
    ready: f64,
    imports: usize,
    webhooks_ok: u64,
    webhooks_failed: u64,
    acknowledged: u64,
    parked: u64,
}

struct Bench {
    subjects: Vec<Subject>,
    adapters: PathBuf,
    cache: PathBuf,
    webhooks: Webhooks,
    idle: Duration,
}

impl Bench {
    async fn start(
        &self,
        dir: &Path,
        shops: &[ShopSpec],
    ) -> anyhow::Result<(SandboxProcess, PathBuf, Vec<(String, String)>)> {
        let keys: Vec<(&str, &str)> = shops
            .iter()
            .map(|s| (s.id.as_str(), s.key.as_str()))
            .collect();
        let sandbox =
            SandboxProcess::start(Path::new(BIN), &keys, &[], &dir.join("sandbox.log")).await?;
        let (text, env) = config(
            dir,
            &sandbox.url,
            &self.adapters,
            &self.cache,
            &self.subjects,
            shops,
        );
        let path = dir.join("snapact.toml");
        std::fs::write(&path, text)?;
        Ok((sandbox, path, env))
    }

    /// Starts `run` for `shops` and returns its memory once it listens and
    /// has idled, with the seconds it took to listen.
    async fn startup_only(&self, dir: &Path, shops: &[ShopSpec]) -> anyhow::Result<(Memory, f64)> {
        let (sandbox, path, env) = self.start(dir, shops).await?;
        let t0 = Instant::now();
        let (mut run, _) = start_run(&path, &env, &dir.join("run.log")).await?;
        let ready = t0.elapsed().as_secs_f64();
        tokio::time::sleep(self.idle).await;
        let m = run.memory()?;
        run.child.kill().await?;
        sandbox.stop().await;
        Ok((m, ready))
    }

    async fn full(
        &self,
        dir: &Path,
        shops: &[ShopSpec],
        secs: u64,
        rate: u64,
    ) -> anyhow::Result<Measured> {
        let (sandbox, path, env) = self.start(dir, shops).await?;
        let t0 = Instant::now();
        let (mut run, addr) = start_run(&path, &env, &dir.join("run.log")).await?;
        let ready = t0.elapsed().as_secs_f64();
        tokio::time::sleep(self.idle).await;
        let startup = run.memory()?;

        // Imports: each shop its adapter's catalog.
        for (n, shop) in shops.iter().enumerate() {
            let subject = &self.subjects[shop.subject];
            let out = command(&["import", "--shop", &shop.id], &path, &env)
                .arg(&subject.catalog)
                .output()
                .await
                .context("failed to start snapact-host import")?;
            ensure!(
                out.status.success(),
                "import for {} exited with {}: {}",
                shop.id,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            if n % 10 == 9 {
                eprintln!("  imported {}/{}", n + 1, shops.len());
            }
        }

        // Webhooks at a steady rate into `run`.
        let targets: Vec<(&ShopSpec, Hooks)> = shops
            .iter()
            .map(|s| (s, self.subjects[s.subject].hooks))
            .filter(|(_, h)| *h != Hooks::None)
            .collect();
        let http = reqwest::Client::new();
        let (mut ok, mut failed) = (0u64, 0u64);
        let mut first_failure = None;
        if !targets.is_empty() && secs > 0 {
            let total = secs * rate;
            let period = Duration::from_secs_f64(1.0 / rate as f64);
            let start = tokio::time::Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for seq in 0..total {
                tokio::time::sleep_until(start + period.mul_f64(seq as f64)).await;
                let (shop, hooks) = targets[seq as usize % targets.len()];
                let (body, headers) = self.webhooks.request(hooks, &shop.id, seq)?;
                let mut req = http
                    .post(format!("http://{addr}/webhooks/pos/{}", shop.id))
                    .header("content-type", "application/json")
                    .body(body);
                for (k, v) in headers {
                    req = req.header(k, v);
                }
                tasks.spawn(async move {
                    match req.send().await {
                        Ok(r) if r.status().is_success() => Ok(()),
                        Ok(r) => {
                            let status = r.status();
                            Err(format!("{status}: {}", r.text().await.unwrap_or_default()))
                        }
                        Err(e) => Err(e.to_string()),
                    }
                });
                while let Some(done) = tasks.try_join_next() {
                    tally(done?, &mut ok, &mut failed, &mut first_failure);
                }
            }
            while let Some(done) = tasks.join_next().await {
                tally(done?, &mut ok, &mut failed, &mut first_failure);
            }
        }
        if let Some(why) = &first_failure {
            eprintln!("  {failed} webhooks failed; the first: {why}");
        }

        // Drained, then idle.
        let store = SqliteStore::open(dir.join("outbox.db"))?;
        let totals = wait_for(
            "the outbox to drain",
            PATIENCE,
            Duration::from_millis(200),
            || {
                let store = &store;
                async move {
                    let all = store.status(None).await?;
                    let pending: u64 = all.iter().map(|s| s.pending).sum();
                    Ok((pending == 0).then(|| {
                        (
                            all.iter().map(|s| s.acknowledged).sum::<u64>(),
                            all.iter().map(|s| s.parked).sum::<u64>(),
                        )
                    }))
                }
            },
        )
        .await?;
        tokio::time::sleep(self.idle).await;
        let steady = run.memory()?;
        if let Some(status) = run.child.try_wait()? {
            bail!("run exited with {status}\n{}", log_tail(&run.log, 30));
        }
        run.child.kill().await?;
        sandbox.stop().await;
        Ok(Measured {
            startup,
            steady,
            ready,
            imports: shops.len(),
            webhooks_ok: ok,
            webhooks_failed: failed,
            acknowledged: totals.0,
            parked: totals.1,
        })
    }
}

fn tally(result: Result<(), String>, ok: &mut u64, failed: &mut u64, first: &mut Option<String>) {
    match result {
        Ok(()) => *ok += 1,
        Err(e) => {
            *failed += 1;
            first.get_or_insert(e);
        }
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let runs = env_usize("MEMORY_BENCH_RUNS", 3)?;
    let shop_count = env_usize("MEMORY_BENCH_SHOPS", 100)?;
    let secs = env_usize("MEMORY_BENCH_TRAFFIC_SECS", 30)? as u64;
    let rate = env_usize("MEMORY_BENCH_RATE", 100)? as u64;
    let idle = Duration::from_secs(env_usize("MEMORY_BENCH_IDLE_SECS", 5)? as u64);
    ensure!(
        runs > 0 && shop_count > 0 && rate > 0,
        "MEMORY_BENCH_RUNS, _SHOPS and _RATE must be at least 1"
    );
    let mut command = String::new();
    for (name, value, default) in [
        ("MEMORY_BENCH_RUNS", runs as u64, 3),
        ("MEMORY_BENCH_SHOPS", shop_count as u64, 100),
        ("MEMORY_BENCH_TRAFFIC_SECS", secs, 30),
        ("MEMORY_BENCH_RATE", rate, 100),
        ("MEMORY_BENCH_IDLE_SECS", idle.as_secs(), 5),
    ] {
        if value != default {
            command.push_str(&format!("{name}={value} "));
        }
    }
    command.push_str("cargo bench -p snapact-benches --bench host_memory");
    let session = Session::start(command);

    let root = workspace_root();
    let work = target_dir().join("bench-memory");
    std::fs::create_dir_all(&work)?;
    let subjects = tokio::task::spawn_blocking({
        let (root, work) = (root.clone(), work.clone());
        move || build_subjects(&root, &work)
    })
    .await??;
    // Every package in one adapters folder, as an operator installs them.
    let adapters = work.join("installed");
    if adapters.exists() {
        std::fs::remove_dir_all(&adapters)?;
    }
    for s in &subjects {
        let dest = adapters.join(&s.id);
        std::fs::create_dir_all(&dest)?;
        for file in ["adapter.toml", WASM_FILE] {
            std::fs::copy(s.package.join(file), dest.join(file))
                .with_context(|| format!("installing {} of {}", file, s.id))?;
        }
    }
    let cache = work.join("code-cache");
    if cache.exists() {
        std::fs::remove_dir_all(&cache)?;
    }
    let bench = Bench {
        webhooks: Webhooks::load(&root, &subjects)?,
        subjects,
        adapters,
        cache: cache.clone(),
        idle,
    };
    let shops = shops(&bench.subjects, shop_count);
    let tmp = tempfile::tempdir_in(&work)?;

    eprintln!("first start, empty code cache: run compiles every adapter");
    let cold_dir = tmp.path().join("cold");
    std::fs::create_dir_all(&cold_dir)?;
    let (cold, cold_ready) = bench.startup_only(&cold_dir, &shops).await?;
    let cache_bytes = dir_size(&cache);

    eprintln!("reference: one shop on the Square adapter");
    let mut one = Vec::new();
    for i in 0..runs {
        let dir = tmp.path().join(format!("one-{i}"));
        std::fs::create_dir_all(&dir)?;
        let square_only: Vec<ShopSpec> = vec![ShopSpec {
            id: "shop-000-square".into(),
            key: "sk_bench_000".into(),
            subject: 0,
        }];
        one.push(bench.startup_only(&dir, &square_only).await?.0);
    }

    eprintln!("reference: one shop per adapter");
    let mut ten = Vec::new();
    let one_each = one_shop_per_adapter(&bench.subjects);
    for i in 0..runs {
        let dir = tmp.path().join(format!("ten-{i}"));
        std::fs::create_dir_all(&dir)?;
        ten.push(bench.startup_only(&dir, &one_each).await?.0);
    }

    let mut measured = Vec::new();
    for i in 0..runs {
        eprintln!("run {}/{runs}: {shop_count} shops, 10 adapters", i + 1);
        let dir = tmp.path().join(format!("run-{i}"));
        std::fs::create_dir_all(&dir)?;
        measured.push(bench.full(&dir, &shops, secs, rate).await?);
    }

    session.print_header(&format!(
        "Host memory: `run` with {} adapters and {shop_count} shops",
        bench.subjects.len()
    ));
    println!("- Adapters (component size):");
    for s in &bench.subjects {
        let size = std::fs::metadata(s.package.join(WASM_FILE))?.len();
        let shops_of = shops
            .iter()
            .filter(|x| bench.subjects[x.subject].id == s.id)
            .count();
        println!(
            "  - `{}` ({}, {:.2} MiB, {} shops{})",
            s.id,
            scaffold::lang_flag(s.language),
            size as f64 / 1_048_576.0,
            shops_of,
            match s.hooks {
                Hooks::None => "",
                Hooks::SquareStock => ", stock webhooks",
                Hooks::WooProduct => ", product webhooks",
                Hooks::ZettleBalance => ", balance webhooks",
            }
        );
    }
    println!(
        "- Shops: {shop_count}, round-robin over the adapters, each with its own SnapAct key \
         (one `snapact-host sandbox`, one tenant per shop) and its adapter's fixture settings."
    );
    let m0 = &measured[0];
    println!(
        "- Traffic per run: {} imports (one per shop, its adapter's catalog fixture), then \
         signed POS webhooks at {rate}/s for {secs} s into `run` (Square, WooCommerce and \
         Zettle shops, round-robin); first run: {} webhooks answered 200, {} not; outbox \
         drained: {} changes acknowledged, {} parked.",
        m0.imports, m0.webhooks_ok, m0.webhooks_failed, m0.acknowledged, m0.parked
    );
    println!(
        "- Memory from /proc/<pid>/status of `run`: VmRSS (resident now: RssAnon + RssFile + \
         RssShmem), VmHWM (peak resident). \"After start-up\": {}s after it listens; \
         \"steady\": {}s after the outbox drained.",
        idle.as_secs(),
        idle.as_secs()
    );
    println!(
        "- Compiled-code cache for the {} adapters: {:.1} MiB on disk.",
        bench.subjects.len(),
        cache_bytes as f64 / 1_048_576.0
    );
    println!();
    println!("{}", snapact_benches::report::SPREAD_HEADER);
    let col = |f: &dyn Fn(&Measured) -> f64| measured.iter().map(f).collect::<Vec<f64>>();
    println!(
        "{}",
        spread_row("after start-up: VmRSS", &col(&|m| m.startup.rss), 1, "")
    );
    println!(
        "{}",
        spread_row("after start-up: VmHWM", &col(&|m| m.startup.hwm), 1, "")
    );
    println!(
        "{}",
        spread_row("after start-up: RssAnon", &col(&|m| m.startup.anon), 1, "")
    );
    println!(
        "{}",
        spread_row("after start-up: RssFile", &col(&|m| m.startup.file), 1, "")
    );
    println!(
        "{}",
        spread_row(
            "steady, after traffic: VmRSS",
            &col(&|m| m.steady.rss),
            1,
            ""
        )
    );
    println!(
        "{}",
        spread_row(
            "steady, after traffic: RssAnon",
            &col(&|m| m.steady.anon),
            1,
            ""
        )
    );
    println!(
        "{}",
        spread_row(
            "steady, after traffic: RssFile",
            &col(&|m| m.steady.file),
            1,
            ""
        )
    );
    println!(
        "{}",
        spread_row("peak over the run: VmHWM", &col(&|m| m.steady.hwm), 1, "")
    );
    println!(
        "{}",
        spread_row("start to listening (s)", &col(&|m| m.ready), 2, "")
    );
    println!(
        "{}",
        spread_row(
            "reference, 1 shop on Square, after start-up: VmRSS",
            &one.iter().map(|m| m.rss).collect::<Vec<_>>(),
            1,
            ""
        )
    );
    println!(
        "{}",
        spread_row(
            &format!(
                "reference, {} shops (one per adapter), after start-up: VmRSS",
                one_each.len()
            ),
            &ten.iter().map(|m| m.rss).collect::<Vec<_>>(),
            1,
            ""
        )
    );
    println!(
        "| first start, empty code cache (compiling all {}): VmHWM / VmRSS after start-up | {:.1} / {:.1} | | | 1 run |",
        bench.subjects.len(),
        cold.hwm,
        cold.rss
    );
    println!(
        "| first start, empty code cache: start to listening (s) | {cold_ready:.1} | | | 1 run |"
    );
    Ok(())
}
