//! The same mapping in Rust, Python and JavaScript: the JSON product feed
//! adapter `snapact-host adapter new NAME --lang rust|python|js` generates,
//! unchanged. For each language: component size, build time, wasmtime cold
//! compile, start from the compiled-code cache, per-call overhead, time and
//! records/s for 10,000 products, and the smallest `memory_mb` that maps them.
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

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(t) if t.is_absolute() => t,
        Some(t) => root.join(t),
        None => root.join("target"),
    }
}

/// The first line a command prints, or that it is not available.
fn first_line(program: &str, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
        _ => format!("{program}: not available"),
    }
}

fn proc_field(file: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
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
            build::build_rust_adapter_with_target_dir(&dir, &packages, Some(&target_dir(root)))
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
        records_per_s: format!("{:.0}", RECORDS as f64 / per_record_s),
        memory,
    })
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let root = workspace_root();
    let work = target_dir(&root).join("bench-languages");
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("failed to clear {}", work.display()))?;
    }
    std::fs::create_dir_all(&work)?;
    let load_before = load_average();
    let date = first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    for language in LANGUAGES {
        rows.push(measure(language, &work, &root, &rt)?);
    }
    let load_after = load_average();

    let cpu = proc_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = proc_field("/proc/meminfo", "MemTotal").unwrap_or_else(|| "unknown".into());
    println!("## Language trade-offs: the same mapping in Rust, Python and JavaScript");
    println!();
    println!(
        "- Machine: {cpu}, {cores} cores, {memory} RAM; load average {load_before} at the start, {load_after} at the end."
    );
    println!("- Date: {date}.");
    println!(
        "- Command: `cargo bench -p snapact-benches --bench languages` (release host, wasmtime 48.0.8)."
    );
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
        "- Input: `snapact_benches::product_feed({RECORDS})`, {} bytes, one change per product. Times are through the host (`LoadedAdapter::map_records`: instantiate, copy in, map, lift, convert).",
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
    line("records/s (from the median)", &|r| &r.records_per_s);
    line(
        &format!("smallest `memory_mb` that maps {RECORDS} products"),
        &|r| &r.memory,
    );
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
