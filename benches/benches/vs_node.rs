//! The host against what a POS vendor would otherwise write: the same
//! Square catalog (`square_catalog(N, 1)`, default N = 10,000) delivered to
//! the same SnapAct sandbox by
//!
//! 1. the host: `snapact-host import` into the durable outbox while
//!    `snapact-host run` (already up) delivers with its default batching
//!    (100 items per request), each a release build of the real binary;
//! 2. `benches/node-baseline/square-sync.mjs`: a plain Node.js script (no
//!    dependencies, Node's built-in fetch) that maps the catalog in
//!    JavaScript and sends one upsert request per item, as SnapAct's Node SDK
//!    guidance suggests, one request in flight;
//! 3. the same script with `COMPARE_CONCURRENCY` (default 8) requests in
//!    flight, the fairer variant;
//! 4. the same again with `--client http` (`node:http` with a keep-alive
//!    agent instead of fetch, which costs Node less CPU per request).
//!
//! Each run starts a fresh sandbox with one tenant (API key) per contender
//! and runs the three one after the other, never at the same time. The
//! clock runs from the spawn of the first process (`import`, `node`) until
//! SnapAct has acknowledged the last item (the host: recorded in the outbox;
//! the script: it has exited). Then every tenant must hold exactly the
//! items `square_catalog_expected` says (all of them, every field but
//! `verified_at`), so the contenders did the same work.
//!
//! CPU time: the contender's own processes (the host: `import` + `run`; the
//! script: `node`) and the sandbox's, from `/proc` and `getrusage`.
//!
//! Run: `cargo bench -p snapact-benches --bench vs_node`. Environment:
//! `COMPARE_ITEMS` (default 10000), `COMPARE_RUNS` (default 5),
//! `COMPARE_CONCURRENCY` (default 8), `COMPARE_LATENCY_MS` (default 0: the
//! sandbox's added latency per request, to model a network between the
//! shop and SnapAct). Needs `node` (20+) on the PATH. Prints a Markdown
//! section for BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use snapact_benches::report::{Session, Spread, cpu_seconds};
use snapact_benches::{env_usize, square_catalog, target_dir, workspace_root};
use snapact_host::registry::build;
use snapact_tests::catalogs::{SQUARE_SETTINGS, square_catalog_expected};
use snapact_tests::processes::{
    Connector, ConnectorConfig, HostProcess, SandboxProcess, log_tail, wait_for,
};

const BIN: &str = env!("CARGO_BIN_EXE_snapact-host-under-bench");
const HOST_TENANT: &str = "host";
const HOST_KEY: &str = "sk_bench_host";
/// The Node contenders: (tenant, API key, client, concurrent requests or
/// 0 for `COMPARE_CONCURRENCY`).
const NODE: [(&str, &str, &str, usize); 3] = [
    ("node-fetch-1", "sk_bench_node_fetch_1", "fetch", 1),
    ("node-fetch-n", "sk_bench_node_fetch_n", "fetch", 0),
    ("node-http-n", "sk_bench_node_http_n", "http", 0),
];
const BATCH: usize = 100;
/// A contender that takes longer than this is broken, not slow.
const PATIENCE: Duration = Duration::from_secs(1800);

/// CPU time (user + system) of this process's children that have been
/// waited for, in seconds (`getrusage(RUSAGE_CHILDREN)`).
fn reaped_children_cpu() -> f64 {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is valid and writable.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    if rc != 0 {
        return f64::NAN;
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

fn pid_cpu(pid: Option<u32>) -> f64 {
    pid.and_then(cpu_seconds).unwrap_or(f64::NAN)
}

/// The Square adapter, built with the adapter profile, alone in a folder.
fn install_square(root: &Path) -> anyhow::Result<PathBuf> {
    let target = target_dir();
    let built = build::build_rust_adapter(
        &root.join("adapters/square"),
        &target.join("bench-adapters"),
    )
    .context("building the Square adapter")?;
    let dir = target.join("bench-vs-node-adapters");
    let pkg = dir.join("square");
    std::fs::create_dir_all(&pkg)?;
    for file in ["adapter.wasm", "adapter.toml"] {
        std::fs::copy(built.join(file), pkg.join(file))
            .with_context(|| format!("copying {file} of the Square adapter"))?;
    }
    Ok(dir)
}

/// One contender's run.
#[derive(Debug, Clone, Copy)]
struct Measured {
    /// Seconds from the first spawn until SnapAct acknowledged the last item.
    wall: f64,
    /// Upsert requests SnapAct answered 200.
    requests: f64,
    /// CPU seconds of the contender's own processes.
    cpu: f64,
    /// CPU seconds of the sandbox while it ran.
    sandbox_cpu: f64,
    /// The host only: seconds until `import` exited.
    import_exit: f64,
}

async fn ok_requests(sandbox: &SandboxProcess) -> anyhow::Result<u64> {
    Ok(sandbox
        .stats()
        .await?
        .requests
        .get("200")
        .copied()
        .unwrap_or(0))
}

/// Waits until `run` has loaded its adapter and started relaying.
async fn ready(run: &mut HostProcess) -> anyhow::Result<()> {
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

async fn host(
    sandbox: &SandboxProcess,
    dir: &Path,
    adapters_dir: &Path,
    catalog: &Path,
    n: usize,
) -> anyhow::Result<Measured> {
    let connector = Connector::new(
        Path::new(BIN),
        dir,
        &ConnectorConfig {
            snapact_url: sandbox.url.clone(),
            shop: HOST_TENANT.into(),
            key: HOST_KEY.into(),
            adapters_dir: adapters_dir.to_path_buf(),
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
    let mut run = connector.start_run()?;
    ready(&mut run).await?;
    let store = connector.open_store()?;
    let (requests0, distinct0) = (
        ok_requests(sandbox).await?,
        sandbox.stats().await?.distinct(),
    );
    let (run_cpu0, sandbox_cpu0, reaped0) = (
        pid_cpu(run.pid()),
        pid_cpu(sandbox.pid()),
        reaped_children_cpu(),
    );

    let t0 = Instant::now();
    let mut import = connector.start_import(catalog, &[])?;
    let status = import.wait().await?;
    let import_exit = t0.elapsed();
    ensure!(
        status.success(),
        "import exited with {status}: {}",
        import.seen.join("\n")
    );
    let import_cpu = reaped_children_cpu() - reaped0;
    wait_for(
        "the sandbox to apply the host's items",
        PATIENCE,
        Duration::from_millis(2),
        || {
            let alive = run.ensure_alive();
            async move {
                alive?;
                let distinct = sandbox.stats().await?.distinct();
                Ok((distinct >= distinct0 + n as u64).then_some(()))
            }
        },
    )
    .await?;
    let st = wait_for(
        "the outbox to record every acknowledgement",
        PATIENCE,
        Duration::from_millis(2),
        || {
            let store = &store;
            async move {
                let st = Connector::status(store, HOST_TENANT).await?;
                Ok((st.pending == 0).then_some(st))
            }
        },
    )
    .await?;
    let wall = t0.elapsed();
    ensure!(
        st.acknowledged == n as u64 && st.parked == 0,
        "the host did not deliver everything: {st:?}"
    );
    let run_cpu = pid_cpu(run.pid()) - run_cpu0;
    let sandbox_cpu = pid_cpu(sandbox.pid()) - sandbox_cpu0;
    let requests = ok_requests(sandbox).await? - requests0;
    run.kill9().await?;
    Ok(Measured {
        wall: wall.as_secs_f64(),
        requests: requests as f64,
        cpu: import_cpu + run_cpu,
        sandbox_cpu,
        import_exit: import_exit.as_secs_f64(),
    })
}

/// What every run shares.
struct Setup {
    adapters_dir: PathBuf,
    script: PathBuf,
    catalog: PathBuf,
    /// Items in the catalog.
    n: usize,
    /// Requests in flight for the Node contenders that take the setting.
    concurrency: usize,
    /// The sandbox's added latency per request.
    latency_ms: usize,
}

/// One Node contender in one run.
struct NodeContender<'a> {
    key: &'a str,
    client: &'a str,
    concurrency: usize,
    log: PathBuf,
}

async fn node(
    sandbox: &SandboxProcess,
    setup: &Setup,
    contender: &NodeContender<'_>,
) -> anyhow::Result<Measured> {
    let (script, catalog, n, log) = (&setup.script, &setup.catalog, setup.n, &contender.log);
    let (key, client, concurrency) = (contender.key, contender.client, contender.concurrency);
    let requests0 = ok_requests(sandbox).await?;
    let (sandbox_cpu0, reaped0) = (pid_cpu(sandbox.pid()), reaped_children_cpu());
    let t0 = Instant::now();
    let child = tokio::process::Command::new("node")
        .arg(script)
        .arg("--file")
        .arg(catalog)
        .args(["--base-url", &sandbox.url])
        .args(["--concurrency", &concurrency.to_string()])
        .args(["--currency", "NGN"])
        .args(["--client", client])
        .env("SNAPACT_API_KEY", key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log)?)
        .kill_on_drop(true)
        .spawn()
        .context("failed to start `node` (Node.js 20 or newer must be on the PATH)")?;
    let out = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .context("the Node script did not finish")??;
    let wall = t0.elapsed();
    let cpu = reaped_children_cpu() - reaped0;
    let sandbox_cpu = pid_cpu(sandbox.pid()) - sandbox_cpu0;
    ensure!(
        out.status.success(),
        "the Node script exited with {}\n{}",
        out.status,
        log_tail(log, 20)
    );
    let summary: Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("the Node script's summary is not JSON: {:?}", out.stdout))?;
    ensure!(
        summary["upserted"].as_u64() == Some(n as u64) && summary["failed"].as_u64() == Some(0),
        "the Node script did not upsert every item: {summary}"
    );
    let requests = ok_requests(sandbox).await? - requests0;
    Ok(Measured {
        wall: wall.as_secs_f64(),
        requests: requests as f64,
        cpu,
        sandbox_cpu,
        import_exit: f64::NAN,
    })
}

/// Every tenant holds exactly the expected items (all fields but
/// `verified_at`, which is when each contender saw them).
async fn verify(sandbox: &SandboxProcess, n: usize) -> anyhow::Result<()> {
    let expected = square_catalog_expected(n, 1);
    let tenants = std::iter::once(HOST_TENANT).chain(NODE.iter().map(|c| c.0));
    for tenant in tenants {
        let mut items = sandbox.items(tenant).await?;
        ensure!(
            items.len() == n,
            "tenant {tenant} holds {} items, expected {n}",
            items.len()
        );
        for item in &mut items {
            let Some(obj) = item.as_object_mut() else {
                bail!("tenant {tenant}: an item is not an object: {item}");
            };
            ensure!(
                obj.remove("verified_at").is_some_and(|v| v.is_string()),
                "tenant {tenant}: an item has no verified_at"
            );
        }
        if let Some((got, want)) = items.iter().zip(&expected).find(|(g, w)| g != w) {
            bail!("tenant {tenant} holds {got}, expected {want}");
        }
    }
    Ok(())
}

/// One run: the host, then the Node contenders in the order of [`NODE`].
type Run = Vec<Measured>;

async fn one_run(work: &Path, i: usize, setup: &Setup) -> anyhow::Result<Run> {
    let (n, latency_ms) = (setup.n, setup.latency_ms);
    let dir = work.join(format!("run-{i}"));
    std::fs::create_dir_all(&dir)?;
    let latency = latency_ms.to_string();
    let extra: Vec<&str> = if latency_ms > 0 {
        vec!["--latency-ms", &latency]
    } else {
        Vec::new()
    };
    let mut keys = vec![(HOST_TENANT, HOST_KEY)];
    keys.extend(NODE.iter().map(|c| (c.0, c.1)));
    let sandbox =
        SandboxProcess::start(Path::new(BIN), &keys, &extra, &dir.join("sandbox.log")).await?;
    eprintln!("run {i}: host");
    let mut run = vec![host(&sandbox, &dir, &setup.adapters_dir, &setup.catalog, n).await?];
    for (tenant, key, client, c) in NODE {
        let concurrency = if c == 0 { setup.concurrency } else { c };
        eprintln!("run {i}: node, {client}, {concurrency} in flight");
        let contender = NodeContender {
            key,
            client,
            concurrency,
            log: dir.join(format!("{tenant}.log")),
        };
        run.push(node(&sandbox, setup, &contender).await?);
    }
    verify(&sandbox, n).await?;
    sandbox.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(run)
}

/// `median (min – max)` of `values`, `decimals` places.
fn cell(values: &[f64], decimals: usize) -> String {
    match Spread::of(values) {
        Some(s) => format!(
            "{:.decimals$} ({:.decimals$} – {:.decimals$})",
            s.median, s.min, s.max
        ),
        None => "n/a".into(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let n = env_usize("COMPARE_ITEMS", 10_000)?;
    let runs = env_usize("COMPARE_RUNS", 5)?;
    let concurrency = env_usize("COMPARE_CONCURRENCY", 8)?;
    let latency_ms = env_usize("COMPARE_LATENCY_MS", 0)?;
    ensure!(
        n > 0 && runs > 0 && concurrency > 0,
        "COMPARE_ITEMS, COMPARE_RUNS and COMPARE_CONCURRENCY must be at least 1"
    );
    let mut command = String::new();
    for (name, value, default) in [
        ("COMPARE_ITEMS", n, 10_000),
        ("COMPARE_RUNS", runs, 5),
        ("COMPARE_CONCURRENCY", concurrency, 8),
        ("COMPARE_LATENCY_MS", latency_ms, 0),
    ] {
        if value != default {
            command.push_str(&format!("{name}={value} "));
        }
    }
    command.push_str("cargo bench -p snapact-benches --bench vs_node");
    let session = Session::start(command);
    let root = workspace_root();
    let script = root.join("benches/node-baseline/square-sync.mjs");
    let node_version = snapact_benches::report::first_line("node", &["--version"]);
    let adapters_dir = tokio::task::spawn_blocking({
        let root = root.clone();
        move || install_square(&root)
    })
    .await??;
    let work = tempfile::tempdir()?;
    let catalog = work.path().join("catalog.json");
    let body = square_catalog(n, 1);
    std::fs::write(&catalog, &body)?;

    // Fill the compiled-code cache so no run pays for a cold compile.
    {
        let warm = work.path().join("warm");
        std::fs::create_dir_all(&warm)?;
        let sandbox = SandboxProcess::start(
            Path::new(BIN),
            &[(HOST_TENANT, HOST_KEY)],
            &[],
            &warm.join("sandbox.log"),
        )
        .await?;
        host(&sandbox, &warm, &adapters_dir, &catalog, n).await?;
        sandbox.stop().await;
    }

    let setup = Setup {
        adapters_dir,
        script,
        catalog,
        n,
        concurrency,
        latency_ms,
    };
    let mut all = Vec::new();
    for i in 1..=runs {
        all.push(one_run(work.path(), i, &setup).await?);
    }

    let nf = n as f64;
    let contenders = 1 + NODE.len();
    let col = |pick: &dyn Fn(&Measured) -> f64, decimals: usize| -> Vec<String> {
        (0..contenders)
            .map(|c| {
                cell(
                    &all.iter().map(|r| pick(&r[c])).collect::<Vec<_>>(),
                    decimals,
                )
            })
            .collect()
    };
    let line = |label: &str, cells: Vec<String>| {
        println!("| {label} | {} |", cells.join(" | "));
    };

    session.print_header(&format!(
        "The host vs a plain Node.js script: {n} Square items to the sandbox"
    ));
    println!(
        "- Input: `square_catalog({n}, 1)` ({} bytes), one SearchCatalogObjects body, NGN; \
         the same file for every contender.",
        body.len()
    );
    println!(
        "- Host: `snapact-host import` (stock Square adapter, Wasm) into the outbox (SQLite, WAL, \
         synchronous=FULL) while `snapact-host run` delivers, batches of {BATCH}."
    );
    println!(
        "- Node: `benches/node-baseline/square-sync.mjs` on Node.js {node_version}, one upsert \
         request per item, no durable state; `fetch` is Node's global fetch, `http` is \
         `node:http` with a keep-alive agent (`--client http`)."
    );
    println!(
        "- Sandbox: `snapact-host sandbox`, one tenant per contender, {}; contenders run one \
         after the other. Checked after every run: each tenant holds exactly the {n} expected \
         items, every field but `verified_at` compared.",
        if latency_ms > 0 {
            format!("`--latency-ms {latency_ms}` on every request")
        } else {
            "no added latency (127.0.0.1)".to_owned()
        }
    );
    println!("- Cells: median (min – max) over {runs} runs.");
    println!();
    let mut heads = vec!["host (`import` + `run`)".to_owned()];
    for (_, _, client, c) in NODE {
        let c = if c == 0 { concurrency } else { c };
        heads.push(format!("Node `{client}`, {c} in flight"));
    }
    println!("| measure | {} |", heads.join(" | "));
    println!("|---|{}", "---|".repeat(contenders));
    line(
        "wall time, first spawn -> last item acknowledged (s)",
        col(&|m| m.wall, 2),
    );
    line("items/s", col(&|m| nf / m.wall, 0));
    let mut ratio = vec!["1".to_owned()];
    for c in 1..contenders {
        ratio.push(cell(
            &all.iter()
                .map(|r| r[c].wall / r[0].wall)
                .collect::<Vec<_>>(),
            1,
        ));
    }
    line("wall time / host's wall time (per run)", ratio);
    line("upsert requests answered 200", col(&|m| m.requests, 0));
    line(
        "CPU of the contender's processes (s; host: import + run)",
        col(&|m| m.cpu, 2),
    );
    line(
        "CPU of the sandbox answering (s)",
        col(&|m| m.sandbox_cpu, 2),
    );
    let mut import = vec![cell(
        &all.iter().map(|r| r[0].import_exit).collect::<Vec<_>>(),
        2,
    )];
    import.resize(contenders, String::new());
    line("host: `import` exited (s)", import);
    println!();
    let each: Vec<String> = (0..contenders)
        .map(|c| {
            let runs: Vec<String> = all.iter().map(|r| format!("{:.2}", r[c].wall)).collect();
            format!("{}: {}", heads[c], runs.join(" / "))
        })
        .collect();
    println!("Wall time of each run, in order (s): {}.", each.join("; "));
    Ok(())
}
