//! Throughput of the durable pipeline, measured end to end:
//!
//! 1. outbox write rate: 100,000 upserts enqueued in group commits of 1,000
//!    (real SQLite file, WAL, synchronous=FULL);
//! 2. sync: those 100,000 changes delivered by one relay through
//!    ConnectClient to the in-process sandbox over 127.0.0.1, until all are
//!    acknowledged.
//!
//! Run: `cargo bench -p snapact-host --bench pipeline` (prints a table);
//! `PIPELINE_BENCH_CHANGES=N` changes the count (default 100,000).
//! A plain binary rather than criterion: one run of each already takes
//! seconds, and what matters is the wall time of the whole flow.

use std::sync::Arc;
use std::time::{Duration, Instant};

use snapact_host::catalog::{Availability, Change, Item, Money};
use snapact_host::outbox::{DrainOutcome, RelayConfig, SqliteStore, Store, relay, wait_drained};
use snapact_host::sandbox::{Sandbox, SandboxConfig};
use snapact_host::snapact::{ConnectClient, ConnectConfig};

const COMMIT: usize = 1_000;

fn item(i: usize, generation: usize) -> Item {
    Item {
        external_ref: format!("SKU-{i:06}"),
        name: format!("Product {i} g{generation}"),
        price: Some(Money {
            amount_minor: 10_000 + i as i64,
            currency: "NGN".into(),
        }),
        quantity: Some((i % 50) as i64),
        availability: Availability::InStock,
        sku: Some(format!("S{i}")),
        barcode: Some(format!("{:013}", i)),
        category: Some("Groceries".into()),
        description: None,
        image_url: None,
        parent_ref: None,
        stock_key: None,
        source_version: None,
    }
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: usize = match std::env::var("PIPELINE_BENCH_CHANGES") {
        Ok(v) => v.parse()?,
        Err(_) => 100_000,
    };
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("bench.db"))?);

    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(COMMIT) {
        let changes = chunk
            .iter()
            .map(|&i| Change::Upsert { item: item(i, 0) })
            .collect();
        store.enqueue("bench", changes).await?;
    }
    let enqueue = started.elapsed();

    let sandbox = Sandbox::new(SandboxConfig {
        keys: vec!["bench=bench-key".parse()?],
        ..SandboxConfig::default()
    })?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = sandbox.clone();
    let server = tokio::spawn(async move {
        serving
            .run(listener, async {
                let _ = stopped.await;
            })
            .await
    });
    let client = ConnectClient::new(&ConnectConfig::new(&url), "bench-key".to_owned().into())?;

    let started = Instant::now();
    let relay = relay::spawn("bench", store.clone(), client, RelayConfig::default());
    let outcome = wait_drained(&*store, "bench", Duration::from_millis(5)).await?;
    let sync = started.elapsed();
    relay.shutdown().await;
    let DrainOutcome::Drained(status) = outcome else {
        anyhow::bail!("the bench shop was paused: {outcome:?}");
    };
    anyhow::ensure!(
        status.acknowledged == n as u64 && sandbox.items(None).len() == n,
        "not everything arrived: {status:?}"
    );

    // Steady state: the same catalog again is skipped by the content hash.
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(COMMIT) {
        let changes = chunk
            .iter()
            .map(|&i| Change::Upsert { item: item(i, 0) })
            .collect();
        store.enqueue("bench", changes).await?;
    }
    let dedupe = started.elapsed();

    let _ = stop.send(());
    server.await??;

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!("pipeline bench, {n} changes, group commits of {COMMIT}");
    println!(
        "  outbox enqueue (new items)     {:>8.2} s  {:>10.0} changes/s",
        enqueue.as_secs_f64(),
        rate(enqueue)
    );
    println!(
        "  outbox enqueue (identical)     {:>8.2} s  {:>10.0} changes/s",
        dedupe.as_secs_f64(),
        rate(dedupe)
    );
    println!(
        "  relay -> sandbox, all acked    {:>8.2} s  {:>10.0} changes/s",
        sync.as_secs_f64(),
        rate(sync)
    );
    println!(
        "  enqueue + sync                 {:>8.2} s",
        (enqueue + sync).as_secs_f64()
    );
    if let Some(rss) = peak_rss_mib() {
        println!("  peak RSS (sandbox in-process)  {rss:>8.1} MiB");
    }
    Ok(())
}
