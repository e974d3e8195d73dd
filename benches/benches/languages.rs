//! The same mapping in Rust, Python and JavaScript: the JSON product feed
//! adapter `snapact-host adapter new NAME --lang rust|python|js` generates,
//! unchanged. For each language: component size, build time, wasmtime cold
//! compile, start from the compiled-code cache, per-call overhead, time and
//! records/s for 10,000 products, and the smallest `memory_mb` that maps them.
//! The same mapping source also runs natively, for Wasm vs native per
//! language: the Rust template compiled into this benchmark, the Python
//! module under the machine's `python3`, the JavaScript module under `node`
//! (each timed inside its process, without start-up or module loading).
//!
//! Run: `cargo bench -p snapact-benches --bench languages` (needs what
//! `adapter build` needs: the wasm32-wasip2 target, componentize-py 0.25.1,
//! Node.js 20+ with npm). Prints a Markdown section for BENCHMARKS.md and
//! docs/writing-adapters.md: machine, date, command, and median, min and max
//! over the runs stated.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use snapact_benches::product_feed;
use snapact_benches::report::{Session, first_line};
use snapact_benches::{target_dir, workspace_root};
use snapact_host::registry::build::{self, Language};
use snapact_host::registry::scaffold::{self, NewAdapter};
use snapact_host::registry::{MANIFEST_FILE, Package, WASM_FILE};
use snapact_host::runtime::{LoadedAdapter, Runtime, RuntimeConfig, ShopContext};

const LANGUAGES: [Language; 3] = [Language::Rust, Language::Python, Language::JavaScript];
const COLD_RUNS: usize = 3;
const CACHED_RUNS: usize = 5;
const CALLS: usize = 500;
const RECORDS: usize = 10_000;
const RECORD_RUNS: usize = 5;
/// The Rust template's mapping (`adapter new --lang rust` writes this file
/// unchanged), compiled natively into the benchmark.
/// (Benchmarks build with `cfg(test)` but no test harness, so the
/// template's `mapping/tests.rs` compiles without its `#[test]` functions:
/// its helpers are dead code and its imports unused.)
#[path = "../../host/templates/rust/src"]
mod feed_template {
    #[expect(
        dead_code,
        reason = "the benchmark calls map_payload and Settings only"
    )]
    #[allow(
        unused_imports,
        reason = "the template's test imports, without the tests (see above)"
    )]
    pub mod mapping;
}
use feed_template::mapping as feed_mapping;

/// Times `map_payload` of the Python template's `mapping.py` under CPython:
/// argv = adapter folder, feed file, runs, expected changes; prints the
/// seconds of each run as a JSON array.
const PYTHON_NATIVE: &str = r#"
import json, sys, time
sys.path.insert(0, sys.argv[1])
import mapping
settings = mapping.Settings.load({"currency": "NGN", "low_stock_threshold": "5"}.get)
payload = open(sys.argv[2], "rb").read()
times = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter()
    m = mapping.map_payload(payload, settings)
    times.append(time.perf_counter() - t)
    assert len(m.changes) == int(sys.argv[4]) and not m.rejected, (len(m.changes), len(m.rejected))
print(json.dumps(times))
"#;

/// The same for the JavaScript template's `src/mapping.js` under Node.js.
const JS_NATIVE: &str = r#"
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [dir, feed, runs, expected] = process.argv.slice(1);
const { mapPayload, readSettings } = await import(pathToFileURL(`${dir}/src/mapping.js`).href);
const settings = readSettings((k) => ({ currency: 'NGN', low_stock_threshold: '5' })[k]);
const payload = new Uint8Array(readFileSync(feed));
const times = [];
for (let i = 0; i < Number(runs); i++) {
  const t = performance.now();
  const m = mapPayload(payload, settings);
  times.push((performance.now() - t) / 1000);
  if (m.changes.length !== Number(expected) || m.rejected.length !== 0) {
    throw new Error(`${m.changes.length} changes, ${m.rejected.length} rejections`);
  }
}
console.log(JSON.stringify(times));
"#;

/// `memory_mb` values tried, smallest first, for 10,000 products.
const MEMORY_STEPS: [u64; 12] = [2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256];

struct Stats {
    median: Duration,
    min: Duration,
    max: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    Stats {
        median: samples[samples.len() / 2],
        min: samples[0],
        max: samples[samples.len() - 1],
    }
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1_000.0 {
        format!("{us:.1} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

fn spread(s: &Stats) -> String {
    format!("{} ({} – {})", fmt(s.median), fmt(s.min), fmt(s.max))
}

fn runtime(cache_dir: Option<PathBuf>) -> anyhow::Result<Runtime> {
    Runtime::new(RuntimeConfig {
        cache_dir,
        ..RuntimeConfig::default()
    })
}

/// A copy of the package at `pkg_dir` whose manifest asks for `memory_mb`.
fn with_memory(pkg_dir: &Path, memory_mb: u64, dest: &Path) -> anyhow::Result<Package> {
    std::fs::create_dir_all(dest)?;
    std::fs::copy(pkg_dir.join(WASM_FILE), dest.join(WASM_FILE))?;
    let manifest = std::fs::read_to_string(pkg_dir.join(MANIFEST_FILE))?;
    let manifest: String = manifest
        .lines()
        .map(|l| {
            if l.starts_with("memory_mb") {
                format!("memory_mb = {memory_mb}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dest.join(MANIFEST_FILE), manifest)?;
    Ok(Package::open(dest)?)
}

/// One language's row of results, as table cells.
struct Row {
    size: String,
    build: String,
    cold: String,
    cached: String,
    per_call: String,
    map: String,
    native: String,
    ratio: String,
    records_per_s: String,
    memory: String,
}

fn measure(
    language: Language,
    work: &Path,
    root: &Path,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Row> {
    let lang = scaffold::lang_flag(language);
    let name = format!("bench-{lang}");
    let dir = work.join(lang).join(&name);
    scaffold::new_adapter(&NewAdapter {
        name: name.clone(),
        language,
        dir: dir.clone(),
        // This checkout's SDK, whatever target directory the bench runs in.
        sdk_path: (language == Language::Rust).then(|| root.join("sdk")),
    })?;
    let packages = work.join("packages");
    eprintln!("building the {lang} adapter");
    let t = Instant::now();
    let pkg_dir = match language {
        Language::Rust => {
            build::build_rust_adapter_with_target_dir(&dir, &packages, Some(&target_dir()))
        }
        _ => build::build_adapter(&dir, &packages),
    }
    .with_context(|| format!("building the {lang} adapter"))?;
    let build_time = t.elapsed();
    let pkg = Package::open(&pkg_dir)?;
    let size = std::fs::metadata(pkg_dir.join(WASM_FILE))?.len();

    eprintln!("{lang}: cold compiles");
    let caches = work.join("cache").join(lang);
    let mut cold = Vec::new();
    for i in 0..COLD_RUNS {
        let runtime = runtime(Some(caches.join(i.to_string())))?;
        let t = Instant::now();
        let a = runtime.load(&pkg)?;
        cold.push(t.elapsed());
        if a.load_report().from_cache {
            bail!("{lang}: a cold load came from the cache");
        }
    }
    let mut cached = Vec::new();
    for _ in 0..CACHED_RUNS {
        let runtime = runtime(Some(caches.join("0")))?;
        let t = Instant::now();
        let a = runtime.load(&pkg)?;
        cached.push(t.elapsed());
        if !a.load_report().from_cache {
            bail!("{lang}: a cached load compiled");
        }
    }

    let settings: BTreeMap<String, String> = [("currency", "NGN"), ("low_stock_threshold", "5")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut ctx = ShopContext::new("bench");
    ctx.settings = settings;
    let adapter = runtime(Some(caches.join("0")))?.load(&pkg)?;
    let call = |a: &LoadedAdapter, payload: &[u8]| {
        rt.block_on(a.map_records(&ctx, payload, "application/json"))
    };

    eprintln!("{lang}: per-call overhead");
    let tiny = br#"{"products":[]}"#;
    for _ in 0..20 {
        call(&adapter, tiny)?;
    }
    let mut calls = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        let m = call(&adapter, tiny)?;
        calls.push(t.elapsed());
        assert!(m.changes.is_empty());
    }

    eprintln!("{lang}: {RECORDS} products");
    let feed = product_feed(RECORDS);
    let mut maps = Vec::with_capacity(RECORD_RUNS);
    for _ in 0..RECORD_RUNS {
        let t = Instant::now();
        let m = call(&adapter, &feed)?;
        maps.push(t.elapsed());
        if m.changes.len() != RECORDS || !m.rejected.is_empty() {
            bail!(
                "{lang}: {RECORDS} products gave {} changes and {} rejections",
                m.changes.len(),
                m.rejected.len()
            );
        }
    }
    let map = stats(maps);

    eprintln!("{lang}: {RECORDS} products natively");
    let native = stats(native_times(language, &dir, work, &feed)?);
    let ratio = map.median.as_secs_f64() / native.median.as_secs_f64();

    eprintln!("{lang}: memory for {RECORDS} products");
    let memory_runtime = runtime(Some(caches.join("0")))?;
    let mut memory = format!("more than {} MiB", MEMORY_STEPS[MEMORY_STEPS.len() - 1]);
    let mut too_small: Option<u64> = None;
    for mb in MEMORY_STEPS {
        let copy = with_memory(&pkg_dir, mb, &work.join(format!("memory-{lang}-{mb}")))?;
        let a = memory_runtime.load(&copy)?;
        match call(&a, &feed) {
            Ok(m) if m.changes.len() == RECORDS => {
                memory = match too_small {
                    Some(below) => format!("{mb} MiB (fails at {below})"),
                    None => format!("{mb} MiB"),
                };
                break;
            }
            Ok(m) => bail!("{lang}: {} changes at {mb} MiB", m.changes.len()),
            // Stopped at the memory cap, or the adapter reported it ran out.
            Err(_) => too_small = Some(mb),
        }
    }

    let per_record_s = map.median.as_secs_f64();
    Ok(Row {
        size: format!("{:.2} MiB ({size} B)", size as f64 / 1_048_576.0),
        build: fmt(build_time),
        cold: spread(&stats(cold)),
        cached: spread(&stats(cached)),
        per_call: spread(&stats(calls)),
        map: spread(&map),
        native: spread(&native),
        ratio: format!("{ratio:.2}x"),
        records_per_s: format!("{:.0}", RECORDS as f64 / per_record_s),
        memory,
    })
}

/// Seconds of each of [`RECORD_RUNS`] native mappings of `feed` by the
/// adapter at `dir` (its mapping module, in its language's own runtime).
fn native_times(
    language: Language,
    dir: &Path,
    work: &Path,
    feed: &[u8],
) -> anyhow::Result<Vec<Duration>> {
    if language == Language::Rust {
        let settings = feed_mapping::Settings::from_lookup(|k| match k {
            "currency" => Some("NGN".into()),
            "low_stock_threshold" => Some("5".into()),
            _ => None,
        })
        .map_err(|e| anyhow::anyhow!("settings: {e:?}"))?;
        let mut times = Vec::with_capacity(RECORD_RUNS);
        for _ in 0..RECORD_RUNS {
            let t = Instant::now();
            let m = feed_mapping::map_payload(feed, &settings)
                .map_err(|e| anyhow::anyhow!("native Rust mapping failed: {e:?}"))?;
            times.push(t.elapsed());
            if m.changes.len() != RECORDS || !m.rejected.is_empty() {
                bail!("native Rust: {} changes", m.changes.len());
            }
        }
        return Ok(times);
    }
    let feed_file = work.join("feed.json");
    std::fs::write(&feed_file, feed)?;
    let mut cmd = match language {
        Language::Python => {
            let mut c = Command::new("python3");
            c.args(["-c", PYTHON_NATIVE]);
            c
        }
        _ => {
            let mut c = Command::new("node");
            c.args(["--input-type=module", "-e", JS_NATIVE]);
            c
        }
    };
    let out = cmd
        .arg(dir)
        .arg(&feed_file)
        .arg(RECORD_RUNS.to_string())
        .arg(RECORDS.to_string())
        .output()
        .context("failed to start the native runtime")?;
    if !out.status.success() {
        bail!(
            "native {}: {}",
            scaffold::lang_flag(language),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let secs: Vec<f64> = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "native {} printed {:?}",
            scaffold::lang_flag(language),
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    Ok(secs.into_iter().map(Duration::from_secs_f64).collect())
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let session = Session::start("cargo bench -p snapact-benches --bench languages");
    let root = workspace_root();
    let work = target_dir().join("bench-languages");
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("failed to clear {}", work.display()))?;
    }
    std::fs::create_dir_all(&work)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    for language in LANGUAGES {
        rows.push(measure(language, &work, &root, &rt)?);
    }
    session.print_header("Language trade-offs: the same mapping in Rust, Python and JavaScript");
    println!("- Host: release build, wasmtime 48.0.8.");
    println!(
        "- Toolchains: {}; {}; componentize-js {} on Node.js {}.",
        first_line("rustc", &["--version"]),
        first_line("componentize-py", &["--version"]),
        build::js::COMPONENTIZE_JS_VERSION,
        first_line("node", &["--version"]),
    );
    println!(
        "- Subject: the adapter `snapact-host adapter new NAME --lang rust|python|js` generates, unchanged: the same feed mapping in each language."
    );
    println!(
        "- Input: `snapact_benches::product_feed({RECORDS})`, {} bytes, one change per product. Wasm times are through the host (`LoadedAdapter::map_records`: instantiate, copy in, map, lift, convert); native times are the mapping function alone.",
        product_feed(RECORDS).len()
    );
    println!();
    println!("| median (min – max) | Rust | Python | JavaScript |");
    println!("|---|---|---|---|");
    let line = |label: &str, cell: &dyn Fn(&Row) -> &str| {
        println!(
            "| {label} | {} | {} | {} |",
            cell(&rows[0]),
            cell(&rows[1]),
            cell(&rows[2])
        );
    };
    line("component size", &|r| &r.size);
    line(
        "`adapter build`, fresh folder, 1 run (Rust: dependencies already compiled; JS: includes `npm ci` from npm's cache)",
        &|r| &r.build,
    );
    line(
        &format!("cold compile (wasmtime, no cache), {COLD_RUNS} runs"),
        &|r| &r.cold,
    );
    line(
        &format!("start from the compiled-code cache, {CACHED_RUNS} runs"),
        &|r| &r.cached,
    );
    line(
        &format!("per-call overhead (instantiate + call, `{{\"products\":[]}}`), {CALLS} calls"),
        &|r| &r.per_call,
    );
    line(
        &format!("map {RECORDS} products, {RECORD_RUNS} runs"),
        &|r| &r.map,
    );
    line(
        &format!(
            "map {RECORDS} products natively, same source ({}; {}; Node.js {}), {RECORD_RUNS} runs",
            "rustc, compiled into the bench",
            first_line("python3", &["--version"]),
            first_line("node", &["--version"])
        ),
        &|r| &r.native,
    );
    line("Wasm / native (medians)", &|r| &r.ratio);
    line("records/s through Wasm (from the median)", &|r| {
        &r.records_per_s
    });
    line(
        &format!("smallest `memory_mb` that maps {RECORDS} products"),
        &|r| &r.memory,
    );
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
