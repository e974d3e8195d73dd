//! Square mapping through Wasm vs the same module compiled natively,
//! per-call overhead, and cold compile vs cached start.
//!
//! Run: `cargo bench -p snapact-benches --bench mapping`
//! Prints a Markdown table for BENCHMARKS.md (median, min and max over runs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use snapact_adapter_square::mapping::map_payload;
use snapact_adapter_square::settings::MappingSettings;
use snapact_benches::square_catalog;
use snapact_host::registry::{Package, build};
use snapact_host::runtime::{Runtime, RuntimeConfig, ShopContext};

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

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let root = workspace_root();
    let out = root.join("target/bench-adapters");
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

    let settings: BTreeMap<String, String> = [("currency", "NGN"), ("location_id", "L1")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let native_settings = MappingSettings::from_lookup(|k| settings.get(k).cloned())
        .map_err(|e| anyhow::anyhow!("settings: {e:?}"))?;
    let mut ctx = ShopContext::new("bench");
    ctx.settings = settings.clone();

    // Cold compile vs cached start.
    let cache = tempdir_in(&root.join("target"))?;
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for i in 0..5 {
        let dir = cache.join(format!("c{i}"));
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(dir.clone()),
            ..RuntimeConfig::default()
        })?;
        let t = Instant::now();
        let a = runtime.load(&pkg)?;
        cold.push(t.elapsed());
        assert!(!a.load_report().from_cache);
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(dir),
            ..RuntimeConfig::default()
        })?;
        let t = Instant::now();
        let a = runtime.load(&pkg)?;
        warm.push(t.elapsed());
        assert!(a.load_report().from_cache);
    }
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let adapter = runtime.load(&pkg)?;

    println!("| Measurement | median | min | max | runs |");
    println!("|---|---|---|---|---|");
    let (c, w) = (stats(cold), stats(warm));
    println!(
        "| Square adapter load, cold compile | {} | {} | {} | 5 |",
        fmt(c.median),
        fmt(c.min),
        fmt(c.max)
    );
    println!(
        "| Square adapter load, from disk cache | {} | {} | {} | 5 |",
        fmt(w.median),
        fmt(w.min),
        fmt(w.max)
    );

    // Per-call overhead: instantiate + call + return on a tiny input.
    let tiny = b"[]";
    for _ in 0..200 {
        let _ = rt.block_on(adapter.map_records(&ctx, tiny, "application/json"));
    }
    let calls = 5_000;
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        let r = rt.block_on(adapter.map_records(&ctx, tiny, "application/json"));
        samples.push(t.elapsed());
        assert!(r.is_ok(), "tiny call failed: {r:?}");
    }
    let s = stats(samples);
    println!(
        "| Per-call overhead (instantiate + call, `[]`) | {} | {} | {} | {calls} |",
        fmt(s.median),
        fmt(s.min),
        fmt(s.max)
    );

    for (variations, runs) in [(1_000usize, 30usize), (100_000, 5)] {
        let payload = square_catalog(variations, 1);
        let mut native = Vec::new();
        let mut wasm = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let m =
                map_payload(&payload, &native_settings).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            native.push(t.elapsed());
            assert_eq!(m.changes.len(), variations);
            let t = Instant::now();
            let m = rt.block_on(adapter.map_records(&ctx, &payload, "application/json"))?;
            wasm.push(t.elapsed());
            assert_eq!(m.changes.len(), variations);
        }
        let (n, w) = (stats(native), stats(wasm));
        println!(
            "| Square map {variations} variations, native | {} | {} | {} | {runs} |",
            fmt(n.median),
            fmt(n.min),
            fmt(n.max)
        );
        println!(
            "| Square map {variations} variations, Wasm | {} | {} | {} | {runs} |",
            fmt(w.median),
            fmt(w.min),
            fmt(w.max)
        );
        println!(
            "| Wasm / native, {variations} variations (median) | {:.2}x | | | |",
            w.median.as_secs_f64() / n.median.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&cache);
    Ok(())
}

fn tempdir_in(parent: &Path) -> anyhow::Result<PathBuf> {
    let dir = parent.join(format!("bench-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
