//! Square mapping through Wasm vs the same module compiled natively,
//! per-call overhead, and cold compile vs cached start.
//!
//! Run: `cargo bench -p snapact-benches --bench mapping`
//! Prints a Markdown table for BENCHMARKS.md: wall-clock median, min and max
//! over the runs, and the median CPU time of the benchmark thread, which
//! time spent waiting for a busy CPU does not inflate.
//!
//! Arguments after `--` pick groups: `load` (cold compile vs cache),
//! `overhead` (per-call overhead), `map-1000` and `map-100000`; for example
//! `cargo bench -p snapact-benches --bench mapping -- overhead map-1000`.
//! No argument runs them all. `SNAPACT_BENCH_RUNS=N` sets the number of
//! runs per mapping size.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use snapact_adapter_square::mapping::map_payload;
use snapact_adapter_square::settings::MappingSettings;
use snapact_benches::report::Session;
use snapact_benches::square_catalog;
use snapact_host::registry::{Package, build};
use snapact_host::runtime::{Runtime, RuntimeConfig, ShopContext};

/// CPU time this thread has used so far (`CLOCK_THREAD_CPUTIME_ID`); `None`
/// where the platform does not offer it.
struct CpuClock;

impl CpuClock {
    fn new() -> Self {
        CpuClock
    }

    #[cfg(unix)]
    fn now(&self) -> Option<Duration> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        let secs = u64::try_from(ts.tv_sec).ok()?;
        let nanos = u32::try_from(ts.tv_nsec).ok()?;
        (rc == 0).then(|| Duration::new(secs, nanos))
    }

    #[cfg(not(unix))]
    fn now(&self) -> Option<Duration> {
        None
    }

    /// Run `f`, returning its result, wall-clock time and CPU time.
    fn time<R>(&self, f: impl FnOnce() -> R) -> (R, Duration, Option<Duration>) {
        let cpu = self.now();
        let wall = Instant::now();
        let r = f();
        let wall = wall.elapsed();
        let cpu = self.now().zip(cpu).map(|(after, before)| after - before);
        (r, wall, cpu)
    }
}

struct Stats {
    median: Duration,
    min: Duration,
    max: Duration,
    cpu: Option<Duration>,
    runs: usize,
}

fn median(mut samples: Vec<Duration>) -> Option<Duration> {
    samples.sort();
    samples.get(samples.len() / 2).copied()
}

fn stats(mut wall: Vec<Duration>, cpu: Vec<Option<Duration>>) -> Stats {
    wall.sort();
    let cpu: Option<Vec<Duration>> = cpu.into_iter().collect();
    Stats {
        median: wall[wall.len() / 2],
        min: wall[0],
        max: wall[wall.len() - 1],
        cpu: cpu.and_then(median),
        runs: wall.len(),
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

fn row(label: &str, s: &Stats) {
    println!(
        "| {label} | {} | {} | {} | {} | {} |",
        fmt(s.median),
        fmt(s.min),
        fmt(s.max),
        s.cpu.map_or_else(|| "n/a".to_string(), fmt),
        s.runs
    );
}

/// The groups named on the command line (`cargo bench` adds `--bench`,
/// which is not a group); none named means all.
struct Groups(Vec<String>);

impl Groups {
    const ALL: [&'static str; 4] = ["load", "overhead", "map-1000", "map-100000"];

    fn from_args() -> anyhow::Result<Self> {
        let named: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with("--"))
            .collect();
        if let Some(unknown) = named.iter().find(|a| !Self::ALL.contains(&a.as_str())) {
            anyhow::bail!(
                "unknown benchmark group `{unknown}`: expected any of {}",
                Self::ALL.join(", ")
            );
        }
        Ok(Groups(named))
    }

    fn runs(&self, group: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|g| g == group)
    }
}

fn main() -> anyhow::Result<()> {
    let groups = Groups::from_args()?;
    let root = snapact_benches::workspace_root();
    let out = snapact_benches::target_dir().join("bench-adapters");
    let pkg_dir = build::build_rust_adapter(&root.join("adapters/square"), &out)
        .context("building the Square adapter")?;
    // 100,000 variations in one call need more than the adapter's 64 MB
    // default: benchmark a copy whose manifest asks for 512 MB.
    let big_dir = out.join("square-bench");
    std::fs::create_dir_all(&big_dir)?;
    std::fs::copy(pkg_dir.join("adapter.wasm"), big_dir.join("adapter.wasm"))?;
    let manifest = std::fs::read_to_string(pkg_dir.join("adapter.toml"))?;
    let manifest: String = manifest
        .lines()
        .map(|l| {
            if l.starts_with("memory_mb") {
                "memory_mb = 512"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(big_dir.join("adapter.toml"), manifest)?;
    let pkg = Package::open(&big_dir)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let clock = CpuClock::new();

    let settings: BTreeMap<String, String> = [("currency", "NGN"), ("location_id", "L1")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let native_settings = MappingSettings::from_lookup(|k| settings.get(k).cloned())
        .map_err(|e| anyhow::anyhow!("settings: {e:?}"))?;
    let mut ctx = ShopContext::new("bench");
    ctx.settings = settings.clone();

    let mut command = String::new();
    if let Ok(runs) = std::env::var("SNAPACT_BENCH_RUNS") {
        command.push_str(&format!("SNAPACT_BENCH_RUNS={runs} "));
    }
    command.push_str("cargo bench -p snapact-benches --bench mapping");
    if !groups.0.is_empty() {
        command.push_str(&format!(" -- {}", groups.0.join(" ")));
    }
    let session = Session::start(command);
    session.print_start("Square mapping: Wasm vs native, per-call overhead, compile cache");
    println!("| Measurement | median | min | max | CPU median | runs |");
    println!("|---|---|---|---|---|---|");

    if groups.runs("load") {
        load_times(&pkg)?;
    }

    // The other groups start from the compiled-code cache, as a restarted
    // host does, so a profile of them shows calls, not the compiler.
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(out.join("code-cache")),
        ..RuntimeConfig::default()
    })?;
    let adapter = runtime.load(&pkg)?;
    if !runtime.pooling() {
        eprintln!("note: the OS refused the pooling allocator: instances are allocated on demand");
    }

    if groups.runs("overhead") {
        // Per-call overhead: instantiate + call + return on a tiny input.
        // Wall-clock per call; CPU time per batch of 100 calls.
        let tiny = b"[]";
        let call = || rt.block_on(adapter.map_records(&ctx, tiny, "application/json"));
        for _ in 0..200 {
            let _ = call();
        }
        let (batches, batch) = (50, 100);
        let mut wall = Vec::with_capacity(batches * batch);
        let mut cpu = Vec::with_capacity(batches);
        for _ in 0..batches {
            let ((), _, batch_cpu) = clock.time(|| {
                for _ in 0..batch {
                    let t = Instant::now();
                    let r = call();
                    wall.push(t.elapsed());
                    assert!(r.is_ok(), "tiny call failed: {r:?}");
                }
            });
            cpu.push(batch_cpu.map(|c| c / batch as u32));
        }
        let s = stats(wall, cpu);
        row("Per-call overhead (instantiate + call, `[]`)", &s);
    }

    for (variations, default_runs) in [(1_000usize, 30usize), (100_000, 5)] {
        if !groups.runs(&format!("map-{variations}")) {
            continue;
        }
        let runs = runs_override()?.unwrap_or(default_runs);
        let payload = square_catalog(variations, 1);
        let (mut native_wall, mut native_cpu) = (Vec::new(), Vec::new());
        let (mut wasm_wall, mut wasm_cpu) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let (m, wall, cpu) = clock.time(|| map_payload(&payload, &native_settings));
            let m = m.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            assert_eq!(m.changes.len(), variations);
            native_wall.push(wall);
            native_cpu.push(cpu);
            let (m, wall, cpu) =
                clock.time(|| rt.block_on(adapter.map_records(&ctx, &payload, "application/json")));
            assert_eq!(m?.changes.len(), variations);
            wasm_wall.push(wall);
            wasm_cpu.push(cpu);
        }
        let (n, w) = (stats(native_wall, native_cpu), stats(wasm_wall, wasm_cpu));
        row(&format!("Square map {variations} variations, native"), &n);
        row(&format!("Square map {variations} variations, Wasm"), &w);
        let cpu_ratio = w
            .cpu
            .zip(n.cpu)
            .map(|(w, n)| format!("{:.2}x", w.as_secs_f64() / n.as_secs_f64()))
            .unwrap_or_else(|| "n/a".to_string());
        println!(
            "| Wasm / native, {variations} variations | {:.2}x | {:.2}x | | {cpu_ratio} | |",
            w.median.as_secs_f64() / n.median.as_secs_f64(),
            w.min.as_secs_f64() / n.min.as_secs_f64()
        );
    }
    session.print_end();
    Ok(())
}

/// Cold compile vs cached start, five of each. Compilation runs on several
/// threads, so there is no CPU column (it would count one thread's share).
fn load_times(pkg: &Package) -> anyhow::Result<()> {
    let cache = tempdir_in(&snapact_benches::target_dir())?;
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for i in 0..5 {
        let dir = cache.join(format!("c{i}"));
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(dir.clone()),
            ..RuntimeConfig::default()
        })?;
        let t = Instant::now();
        let a = runtime.load(pkg)?;
        cold.push(t.elapsed());
        assert!(!a.load_report().from_cache);
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(dir),
            ..RuntimeConfig::default()
        })?;
        let t = Instant::now();
        let a = runtime.load(pkg)?;
        warm.push(t.elapsed());
        assert!(a.load_report().from_cache);
    }
    let _ = std::fs::remove_dir_all(&cache);
    let none = vec![None; cold.len()];
    row(
        "Square adapter load, cold compile",
        &stats(cold, none.clone()),
    );
    row("Square adapter load, from disk cache", &stats(warm, none));
    Ok(())
}

/// `SNAPACT_BENCH_RUNS`: runs per mapping size instead of the defaults
/// (30 for 1,000 variations, 5 for 100,000), for a quick or a steadier run.
fn runs_override() -> anyhow::Result<Option<usize>> {
    match std::env::var("SNAPACT_BENCH_RUNS") {
        Err(_) => Ok(None),
        Ok(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => anyhow::bail!("SNAPACT_BENCH_RUNS must be a positive number of runs, not {v:?}"),
        },
    }
}

fn tempdir_in(parent: &Path) -> anyhow::Result<PathBuf> {
    let dir = parent.join(format!("bench-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
