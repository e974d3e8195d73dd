//! End to end with real processes: a Square catalog of N changes (default
//! 100,000) from `snapact-host import` to all acknowledged by the SnapAct
//! sandbox, with `snapact-host run` delivering and `snapact-host sandbox`
//! receiving, each its own process, over 127.0.0.1 and a real SQLite file.
//!
//! Each run, on a fresh store and sandbox:
//! 1. pipelined (the target): `run` is up, `import` is started; the clock
//!    stops when the outbox records SnapAct's acknowledgement of the last
//!    change. The import's progress lines split it into mapping (process
//!    start, adapter load, map) and outbox writes; the rest is the delivery
//!    tail. `run`'s peak RSS is its VmHWM at the end.
//! 2. phases (where the time goes): `import` into an idle outbox (mapping,
//!    then the outbox's write rate with nobody else writing), then `run`
//!    started and timed until everything is acknowledged (relay rate).
//!
//! Run: `cargo bench -p snapact-benches --bench end_to_end`. Environment:
//! `E2E_BENCH_CHANGES` (default 100000), `E2E_BENCH_RUNS` (default 5),
//! `E2E_BENCH_FILES` (default 10: the catalog split into files imported one
//! after the other by the stock Square adapter, as `import` tells operators
//! to do, since its 64 MB limit is too small for 100,000 variations in one
//! call; 1: one file, mapped by a copy of the adapter whose manifest asks
//! for 512 MB).
//! Prints a Markdown section for BENCHMARKS.md (median, min, max over runs).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use snapact_benches::report::{SPREAD_HEADER, Session, spread_row};
use snapact_benches::{env_usize, target_dir, workspace_root};
use snapact_host::registry::build;
use snapact_tests::catalogs::{SQUARE_SETTINGS, square_catalog};
use snapact_tests::processes::{
    Connector, ConnectorConfig, SandboxProcess, log_tail, peak_rss_kib, wait_for,
};

const BIN: &str = env!("CARGO_BIN_EXE_snapact-host-under-bench");
const SHOP: &str = "bench-shop";
const KEY: &str = "sk_bench";
const BATCH: usize = 100;
/// A run that takes longer than this is broken, not slow.
const PATIENCE: Duration = Duration::from_secs(600);

/// The Square adapter, built with the adapter profile, installed in a
/// folder of its own; `memory_mb` raised to 512 when one call maps it all.
fn install_square(root: &Path, one_file: bool) -> anyhow::Result<PathBuf> {
    let target = target_dir();
    let built = build::build_rust_adapter(
        &root.join("adapters/square"),
        &target.join("bench-adapters"),
    )
    .context("building the Square adapter")?;
    let dir = target.join("bench-e2e-adapters");
    let pkg = dir.join("square");
    std::fs::create_dir_all(&pkg)?;
    std::fs::copy(built.join("adapter.wasm"), pkg.join("adapter.wasm"))?;
    let manifest = std::fs::read_to_string(built.join("adapter.toml"))?;
    let manifest: Vec<&str> = manifest
        .lines()
        .map(|l| {
            if one_file && l.starts_with("memory_mb") {
                "memory_mb = 512"
            } else {
                l
            }
        })
        .collect();
    std::fs::write(pkg.join("adapter.toml"), manifest.join("\n"))?;
    Ok(dir)
}

/// Catalog files: `files` parts of the N-variation catalog, each a complete
/// SearchCatalogObjects body. Parts carry distinct items.
fn write_catalogs(dir: &Path, n: usize, files: usize) -> anyhow::Result<Vec<PathBuf>> {
    ensure!(
        files >= 1 && n.is_multiple_of(files),
        "E2E_BENCH_FILES must divide E2E_BENCH_CHANGES"
    );
    let whole: serde_json::Value = serde_json::from_slice(&square_catalog(n, 1))?;
    let objects = whole["objects"].as_array().context("objects")?;
    let per = n / files;
    let mut paths = Vec::new();
    for (f, part) in objects.chunks(per).enumerate() {
        let path = dir.join(format!("catalog-{f:02}.json"));
        std::fs::write(
            &path,
            serde_json::to_vec(&serde_json::json!({ "objects": part }))?,
        )?;
        paths.push(path);
    }
    Ok(paths)
}

struct Env {
    bin: PathBuf,
    adapters_dir: PathBuf,
    catalogs: Vec<PathBuf>,
    n: usize,
}

struct Started {
    _dir: tempfile::TempDir,
    sandbox: SandboxProcess,
    connector: Connector,
}

async fn start(env: &Env) -> anyhow::Result<Started> {
    let dir = tempfile::tempdir()?;
    let sandbox = SandboxProcess::start(
        &env.bin,
        &[(SHOP, KEY)],
        &[],
        &dir.path().join("sandbox.log"),
    )
    .await?;
    let connector = Connector::new(
        &env.bin,
        dir.path(),
        &ConnectorConfig {
            snapact_url: sandbox.url.clone(),
            shop: SHOP.into(),
            key: KEY.into(),
            adapters_dir: env.adapters_dir.clone(),
            adapter: "square@^1".into(),
            settings: SQUARE_SETTINGS
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            batch_size: BATCH,
            listen: String::new(),
            shop_extra: String::new(),
            env: Vec::new(),
            require_signatures: false,
        },
    )?;
    Ok(Started {
        _dir: dir,
        sandbox,
        connector,
    })
}

/// Where the imports of every file spent their time, summed over files.
struct ImportTimes {
    /// Process start, adapter load, reading and mapping: from each spawn to
    /// its first progress line.
    mapping: Duration,
    /// Outbox writes: from each first progress line to its last.
    writing: Duration,
    /// From the first spawn until the last import exited.
    done: Duration,
}

async fn import_all(
    connector: &Connector,
    catalogs: &[PathBuf],
    n: usize,
    t0: Instant,
) -> anyhow::Result<ImportTimes> {
    let mut mapping = Duration::ZERO;
    let mut writing = Duration::ZERO;
    let mut written_total = 0;
    for file in catalogs {
        let spawned = Instant::now();
        let mut import = connector.start_import(file, &[])?;
        let mut first = None;
        let mut last = None;
        while let Some((done, total)) = import.next_progress().await? {
            let now = Instant::now();
            first.get_or_insert(now);
            if done == total {
                last = Some(now);
                written_total += total;
            }
        }
        let status = import.wait().await?;
        ensure!(
            status.success(),
            "import of {} exited with {status}: {}",
            file.display(),
            import.seen.join("\n")
        );
        let (Some(first), Some(last)) = (first, last) else {
            bail!("no progress lines from the import of {}", file.display());
        };
        mapping += first - spawned;
        writing += last - first;
    }
    ensure!(
        written_total == n,
        "imports wrote {written_total} changes, expected {n}"
    );
    Ok(ImportTimes {
        mapping,
        writing,
        done: t0.elapsed(),
    })
}

/// Waits until the outbox has every change acknowledged: the sandbox's
/// counter first (cheap to poll), then the store.
async fn all_acknowledged(
    started: &Started,
    run: &mut snapact_tests::processes::HostProcess,
    n: usize,
) -> anyhow::Result<()> {
    let store = started.connector.open_store()?;
    wait_for(
        "the sandbox to apply everything",
        PATIENCE,
        Duration::from_millis(5),
        || {
            let alive = run.ensure_alive();
            let sandbox = &started.sandbox;
            async move {
                alive?;
                Ok((sandbox.stats().await?.distinct() >= n as u64).then_some(()))
            }
        },
    )
    .await?;
    let status = wait_for(
        "the outbox to record it",
        PATIENCE,
        Duration::from_millis(2),
        || {
            let store = &store;
            async move {
                let st = Connector::status(store, SHOP).await?;
                Ok((st.pending == 0).then_some(st))
            }
        },
    )
    .await?;
    ensure!(
        status.acknowledged == n as u64 && status.parked == 0,
        "not everything was acknowledged: {status:?}"
    );
    Ok(())
}

/// Waits until `run` has loaded its adapters and started relaying.
async fn ready(run: &mut snapact_tests::processes::HostProcess) -> anyhow::Result<()> {
    let log = run.log.clone();
    wait_for("run to start", PATIENCE, Duration::from_millis(5), || {
        let alive = run.ensure_alive();
        let log = log.clone();
        async move {
            alive?;
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            Ok(text.contains("relay started").then_some(()))
        }
    })
    .await
}

struct Pipelined {
    total: Duration,
    mapping: Duration,
    writing: Duration,
    tail: Duration,
    rss_kib: u64,
}

async fn pipelined(env: &Env) -> anyhow::Result<Pipelined> {
    let started = start(env).await?;
    let mut run = started.connector.start_run()?;
    ready(&mut run).await?;
    let t0 = Instant::now();
    let imports = import_all(&started.connector, &env.catalogs, env.n, t0).await?;
    all_acknowledged(&started, &mut run, env.n).await?;
    let total = t0.elapsed();
    let pid = run.pid().context("run has exited")?;
    let rss_kib = peak_rss_kib(pid)
        .with_context(|| format!("no VmHWM for run\n{}", log_tail(&run.log, 20)))?;
    run.kill9().await?;
    started.sandbox.stop().await;
    Ok(Pipelined {
        total,
        mapping: imports.mapping,
        writing: imports.writing,
        tail: total.saturating_sub(imports.done),
        rss_kib,
    })
}

struct Phases {
    mapping: Duration,
    writing: Duration,
    relay: Duration,
}

async fn phases(env: &Env) -> anyhow::Result<Phases> {
    let started = start(env).await?;
    let t0 = Instant::now();
    let imports = import_all(&started.connector, &env.catalogs, env.n, t0).await?;
    let t1 = Instant::now();
    let mut run = started.connector.start_run()?;
    all_acknowledged(&started, &mut run, env.n).await?;
    let relay = t1.elapsed();
    run.kill9().await?;
    started.sandbox.stop().await;
    Ok(Phases {
        mapping: imports.mapping,
        writing: imports.writing,
        relay,
    })
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let n = env_usize("E2E_BENCH_CHANGES", 100_000)?;
    let runs = env_usize("E2E_BENCH_RUNS", 5)?;
    let files = env_usize("E2E_BENCH_FILES", 10)?;
    if runs == 0 {
        bail!("E2E_BENCH_RUNS must be at least 1");
    }
    let mut command = String::new();
    for (name, value, default) in [
        ("E2E_BENCH_CHANGES", n, 100_000),
        ("E2E_BENCH_RUNS", runs, 5),
        ("E2E_BENCH_FILES", files, 10),
    ] {
        if value != default {
            command.push_str(&format!("{name}={value} "));
        }
    }
    command.push_str("cargo bench -p snapact-benches --bench end_to_end");
    let session = Session::start(command);
    let root = workspace_root();
    let adapters_dir = tokio::task::spawn_blocking({
        let root = root.clone();
        move || install_square(&root, files == 1)
    })
    .await??;
    let work = tempfile::tempdir()?;
    let catalogs = write_catalogs(work.path(), n, files)?;
    let env = Env {
        bin: PathBuf::from(BIN),
        adapters_dir,
        catalogs,
        n,
    };

    // Fill the compiled-code cache so no run pays for a cold compile.
    {
        let started = start(&env).await?;
        let mut run = started.connector.start_run()?;
        ready(&mut run).await?;
        run.kill9().await?;
        started.sandbox.stop().await;
    }

    let mut p = Vec::new();
    let mut f = Vec::new();
    for i in 0..runs {
        eprintln!("run {}/{runs}: pipelined", i + 1);
        p.push(pipelined(&env).await?);
        eprintln!("run {}/{runs}: phases", i + 1);
        f.push(phases(&env).await?);
    }

    let nf = n as f64;
    let per_file = n / files;
    session.print_header(&format!(
        "End to end: {n} changes, `import` to acknowledged by the sandbox (real processes)"
    ));
    println!(
        "- Input: `square_catalog({n}, 1)` in {files} file(s) of {per_file} variations; {}; \
         one shop, batches of {BATCH}, SQLite WAL + synchronous=FULL, import writes chunks of {}.",
        if files == 1 {
            "the Square adapter with `memory_mb = 512`"
        } else {
            "the stock Square adapter"
        },
        snapact_host::daemon::IMPORT_CHUNK
    );
    println!(
        "- Processes: `snapact-host sandbox`, `snapact-host run` (already up) and `snapact-host import`, \
         release builds, on 127.0.0.1; the clock stops when the outbox has recorded SnapAct's \
         acknowledgement of every change. \"Phases\" rows come from separate runs: `import` into an \
         idle outbox, then `run` started and timed until everything is acknowledged."
    );
    println!();
    println!("{SPREAD_HEADER}");
    let rows: [(&str, Vec<f64>, usize, &str); 9] = [
        (
            "**import -> all acknowledged, `run` up (target < 10 s)**",
            p.iter().map(|r| secs(r.total)).collect(),
            2,
            "s",
        ),
        (
            "of which: import process start, adapter load, map (all files)",
            p.iter().map(|r| secs(r.mapping)).collect(),
            2,
            "s",
        ),
        (
            "of which: outbox writes, `run` delivering meanwhile (all files)",
            p.iter().map(|r| secs(r.writing)).collect(),
            2,
            "s",
        ),
        (
            "of which: delivery after the import exited",
            p.iter().map(|r| secs(r.tail)).collect(),
            2,
            "s",
        ),
        (
            "outbox write rate, `run` delivering meanwhile (changes/s durable)",
            p.iter().map(|r| nf / secs(r.writing)).collect(),
            0,
            "",
        ),
        (
            "`run` peak RSS (VmHWM, MiB)",
            p.iter().map(|r| r.rss_kib as f64 / 1024.0).collect(),
            1,
            "",
        ),
        (
            "phases: import process start, adapter load, map (all files)",
            f.iter().map(|r| secs(r.mapping)).collect(),
            2,
            "s",
        ),
        (
            "phases: outbox write rate, nobody else writing (changes/s durable)",
            f.iter().map(|r| nf / secs(r.writing)).collect(),
            0,
            "",
        ),
        (
            "phases: `run` start -> all acknowledged (changes/s)",
            f.iter().map(|r| nf / secs(r.relay)).collect(),
            0,
            "",
        ),
    ];
    for (label, values, decimals, unit) in rows {
        println!("{}", spread_row(label, &values, decimals, unit));
    }
    Ok(())
}
