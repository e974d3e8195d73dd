//! Webhook in -> SnapAct POST out, end to end through a running daemon.
//!
//! Setup: the Square adapter (built like `adapter build`), a daemon with one
//! shop on a real SQLite file, and a recording stand-in for SnapAct Connect
//! on 127.0.0.1 that answers every upsert and notes when each item arrived.
//! 1,000 variations are imported first, so stock webhooks update known items.
//!
//! 1. **Latency at a steady rate**: signed Square `inventory.count.updated`
//!    webhooks at `WEBHOOK_BENCH_RATE` per second (default 1,000) for
//!    `WEBHOOK_BENCH_SECS` (default 30), round-robin over the variations, each
//!    with a unique quantity; latency = the moment the item with that
//!    quantity reached SnapAct minus the moment its webhook was sent.
//!    Webhooks superseded in the outbox by a newer one for the same item
//!    before delivery (coalesced) have no arrival and are counted apart.
//! 2. **Ingress rate**: as many webhooks as 32 concurrent connections can
//!    get answered 200 in `WEBHOOK_BENCH_INGRESS_SECS` (default 10).
//!
//! Each of `WEBHOOK_BENCH_RUNS` runs (default 3) starts a fresh daemon and
//! store; the table gives median, min, max and every run's value.
//!
//! Run: `cargo bench -p snapact-benches --bench webhooks`. Environment:
//! `WEBHOOK_BENCH_RATE` (1000), `WEBHOOK_BENCH_SECS` (30),
//! `WEBHOOK_BENCH_INGRESS_SECS` (10), `WEBHOOK_BENCH_RUNS` (3). Load
//! generator, daemon and the SnapAct stand-in share the machine (and its
//! cores).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use snapact_benches::report::{SPREAD_HEADER, Session, spread_row};
use snapact_host::config::{Config, Overrides};
use snapact_host::daemon::{self, Daemon};
use snapact_host::outbox::SystemClock;
use snapact_host::registry::build;

const SHOP: &str = "bench-shop";
const VARIATIONS: usize = 1_000;
const SIGNATURE_KEY: &str = "bench-square-signature-key";
const PUBLIC_URL: &str = "https://bench.example";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Arrivals at the SnapAct stand-in: (external_ref, quantity, when).
#[derive(Default)]
struct Arrivals {
    items: Mutex<Vec<(String, i64, Instant)>>,
    requests: AtomicU64,
}

async fn snapact_upsert(
    axum::extract::State(arrivals): axum::extract::State<Arc<Arrivals>>,
    body: Bytes,
) -> axum::Json<Value> {
    let at = Instant::now();
    arrivals.requests.fetch_add(1, Ordering::Relaxed);
    let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let items = doc["items"].as_array().cloned().unwrap_or_default();
    let mut results = Vec::with_capacity(items.len());
    {
        let mut seen = arrivals.items.lock().unwrap_or_else(|p| p.into_inner());
        for item in &items {
            let r = item["external_ref"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            seen.push((r.clone(), item["quantity"].as_i64().unwrap_or(-1), at));
            results.push(json!({ "external_ref": r, "status": "upserted" }));
        }
    }
    axum::Json(json!({ "results": results }))
}

fn variation(i: usize) -> String {
    format!("VAR{i:08}X00")
}

/// Square's `inventory.count.updated` body (the shape of Square's example).
fn inventory_webhook(seq: u64) -> String {
    let i = (seq as usize) % VARIATIONS;
    let ms = seq;
    let calculated_at = format!(
        "2026-11-27T{:02}:{:02}:{:02}.{:03}Z",
        10 + ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000
    );
    json!({
        "merchant_id": "BENCHMERCHANT",
        "type": "inventory.count.updated",
        "event_id": format!("bench-{seq}"),
        "created_at": calculated_at,
        "data": {
            "type": "inventory_counts",
            "id": format!("bench-{seq}"),
            "object": { "inventory_counts": [{
                "calculated_at": calculated_at,
                "catalog_object_id": variation(i),
                "catalog_object_type": "ITEM_VARIATION",
                "location_id": "L1",
                "quantity": (seq + 1).to_string(),
                "state": "IN_STOCK"
            }]}
        }
    })
    .to_string()
}

fn square_signature(url: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SIGNATURE_KEY.as_bytes()).expect("any key length");
    mac.update(url.as_bytes());
    mac.update(body.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// What one run measured.
struct Sample {
    send_window: Duration,
    answered: Vec<Duration>,
    failed: u64,
    delivered: u64,
    requests: u64,
    latencies: Vec<Duration>,
    ingress: f64,
}

fn main() -> anyhow::Result<()> {
    let root = snapact_benches::workspace_root();
    // Its own folder: the Square package alone (the mapping bench puts a
    // second copy with the same id next to `target/bench-adapters/square`).
    let adapters = snapact_benches::target_dir().join("bench-webhooks-adapters");
    build::build_adapter(&root.join("adapters/square"), &adapters)?;
    let rate = env_or("WEBHOOK_BENCH_RATE", 1_000).max(1);
    let secs = env_or("WEBHOOK_BENCH_SECS", 30).max(1);
    let ingress_secs = env_or("WEBHOOK_BENCH_INGRESS_SECS", 10).max(1);
    let runs = env_or("WEBHOOK_BENCH_RUNS", 3).max(1);
    let mut command = String::new();
    for (name, value, default) in [
        ("WEBHOOK_BENCH_RATE", rate, 1_000),
        ("WEBHOOK_BENCH_SECS", secs, 30),
        ("WEBHOOK_BENCH_INGRESS_SECS", ingress_secs, 10),
        ("WEBHOOK_BENCH_RUNS", runs, 3),
    ] {
        if value != default {
            command.push_str(&format!("{name}={value} "));
        }
    }
    command.push_str("cargo bench -p snapact-benches --bench webhooks");
    let session = Session::start(command);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut samples = Vec::new();
    for run in 1..=runs {
        eprintln!("run {run}/{runs}");
        samples.push(rt.block_on(one_run(&adapters, rate, secs, ingress_secs))?);
    }
    report(&session, &samples, rate, secs, ingress_secs);
    Ok(())
}

fn report(session: &Session, samples: &[Sample], rate: u64, secs: u64, ingress_secs: u64) {
    let total = rate * secs;
    session.print_header("Webhook in -> SnapAct POST out (release)");
    println!(
        "- Setup: one daemon in the bench process (Square adapter, SQLite file, WAL + \
         synchronous=FULL, group commit), {VARIATIONS} variations imported first; signed Square \
         `inventory.count.updated` webhooks round-robin over them, each with a unique quantity; \
         a recording stand-in for SnapAct Connect on 127.0.0.1. Load generator, daemon and \
         stand-in share the cores. Latency = arrival at SnapAct of the item with that quantity \
         minus the webhook's send time; webhooks coalesced into a newer change for the same item \
         before delivery have no arrival."
    );
    println!(
        "- Load: {rate}/s for {secs} s ({total} webhooks) per run, then as many as 32 connections \
         get answered in {ingress_secs} s (ingress). A fresh daemon and store per run."
    );
    let answered: Vec<u64> = samples.iter().map(|s| s.answered.len() as u64).collect();
    let failed: Vec<u64> = samples.iter().map(|s| s.failed).collect();
    let delivered: Vec<u64> = samples.iter().map(|s| s.delivered).collect();
    let requests: Vec<u64> = samples.iter().map(|s| s.requests).collect();
    let windows: Vec<String> = samples
        .iter()
        .map(|s| format!("{:.1}", s.send_window.as_secs_f64()))
        .collect();
    let join = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(" / ");
    println!(
        "- Per run: answered 200 {}, failed {}; delivered {} (the rest coalesced) in {} upsert \
         requests; sent over {} s.",
        join(&answered),
        join(&failed),
        join(&delivered),
        join(&requests),
        windows.join(" / ")
    );
    println!();
    println!("{}", SPREAD_HEADER);
    let ms_of = |f: &dyn Fn(&Sample) -> Duration| -> Vec<f64> {
        samples
            .iter()
            .map(|s| f(s).as_secs_f64() * 1000.0)
            .collect()
    };
    for (label, values) in [
        (
            "**webhook in -> SnapAct POST, p50 (ms)**",
            ms_of(&|s| percentile(&s.latencies, 0.5)),
        ),
        (
            "**webhook in -> SnapAct POST, p99 (ms)**",
            ms_of(&|s| percentile(&s.latencies, 0.99)),
        ),
        (
            "webhook in -> SnapAct POST, max (ms)",
            ms_of(&|s| s.latencies.last().copied().unwrap_or_default()),
        ),
        (
            "webhook HTTP answer, p50 (ms)",
            ms_of(&|s| percentile(&s.answered, 0.5)),
        ),
        (
            "webhook HTTP answer, p99 (ms)",
            ms_of(&|s| percentile(&s.answered, 0.99)),
        ),
        (
            "webhook HTTP answer, max (ms)",
            ms_of(&|s| s.answered.last().copied().unwrap_or_default()),
        ),
    ] {
        println!("{}", spread_row(label, &values, 1, ""));
    }
    println!(
        "{}",
        spread_row(
            &format!("ingress, 32 connections, {ingress_secs} s (webhooks/s answered 200)"),
            &samples.iter().map(|s| s.ingress).collect::<Vec<_>>(),
            0,
            ""
        )
    );
}

async fn one_run(
    adapters: &std::path::Path,
    rate: u64,
    secs: u64,
    ingress_secs: u64,
) -> anyhow::Result<Sample> {
    {
        let arrivals = Arc::new(Arrivals::default());
        let snapact = axum::Router::new()
            .route(
                "/connect/v1/catalog/items",
                axum::routing::post(snapact_upsert),
            )
            .with_state(Arc::clone(&arrivals));
        let snapact_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let snapact_url = format!("http://{}", snapact_listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(snapact_listener, snapact).await;
        });

        let dir = tempfile::tempdir()?;
        let text = format!(
            r#"
[snapact]
base_url = "{snapact_url}"
[store]
path = "{store}"
[server]
listen = "127.0.0.1:0"
public_url = "{PUBLIC_URL}"
[adapters]
dir = "{adapters}"
require_signatures = false
cache_dir = "{cache}"
[[shop]]
id = "{SHOP}"
adapter = "square"
snapact_key = {{ env = "KEY" }}
secrets = {{ webhook_signature_key = {{ env = "SIG" }} }}
settings = {{ location_id = "L1", currency = "NGN" }}
"#,
            store = dir.path().join("host.db").display(),
            adapters = adapters.display(),
            cache = adapters.join(".cache").display(),
        );
        let env: BTreeMap<String, String> = [("KEY", "sk_bench"), ("SIG", SIGNATURE_KEY)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = Config::from_toml(&text, "bench.toml", &Overrides::default(), &env)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let host = format!("http://{}", listener.local_addr()?);
        let host_daemon =
            Daemon::start_with_clock(&config, listener, Arc::new(SystemClock)).await?;

        // Preload the catalog.
        let shop = host_daemon.shops[0].clone();
        let catalog = snapact_benches::square_catalog(VARIATIONS, 1);
        daemon::import(
            &host_daemon.store,
            &shop,
            &catalog,
            "application/json",
            |_, _| {},
        )
        .await?;
        host_daemon.relays.notify(SHOP);
        let t0 = Instant::now();
        while arrivals
            .items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
            < VARIATIONS
        {
            anyhow::ensure!(
                t0.elapsed() < Duration::from_secs(120),
                "preload did not arrive"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        arrivals
            .items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();

        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        let endpoint = format!("{host}/webhooks/pos/{SHOP}");
        let signed_url = format!("{PUBLIC_URL}/webhooks/pos/{SHOP}");
        let send = |seq: u64| {
            let body = inventory_webhook(seq);
            let sig = square_signature(&signed_url, &body);
            client
                .post(&endpoint)
                .header("content-type", "application/json")
                .header("x-square-hmacsha256-signature", sig)
                .body(body)
                .send()
        };

        // 1. Steady rate.
        let total = rate * secs;
        let sent_at: Arc<Mutex<Vec<Option<Instant>>>> =
            Arc::new(Mutex::new(vec![None; total as usize]));
        let answered: Arc<Mutex<Vec<Duration>>> = Arc::new(Mutex::new(Vec::new()));
        let failed = Arc::new(AtomicU64::new(0));
        let start = tokio::time::Instant::now();
        let period = Duration::from_secs_f64(1.0 / rate as f64);
        let mut tasks = tokio::task::JoinSet::new();
        for seq in 0..total {
            tokio::time::sleep_until(start + period.mul_f64(seq as f64)).await;
            let fut = send(seq);
            let (sent_at, answered, failed) = (
                Arc::clone(&sent_at),
                Arc::clone(&answered),
                Arc::clone(&failed),
            );
            tasks.spawn(async move {
                let t = Instant::now();
                sent_at.lock().unwrap_or_else(|p| p.into_inner())[seq as usize] = Some(t);
                match fut.await {
                    Ok(r) if r.status().is_success() => answered
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(t.elapsed()),
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            while tasks.try_join_next().is_some() {}
        }
        let send_window = start.elapsed();
        while tasks.join_next().await.is_some() {}
        // Let the last deliveries arrive.
        let settle = Instant::now();
        let mut last = usize::MAX;
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let n = arrivals
                .items
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .len();
            if n == last || settle.elapsed() > Duration::from_secs(60) {
                break;
            }
            last = n;
        }
        let sent_at = sent_at.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut latencies = Vec::new();
        for (r, qty, at) in arrivals
            .items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let seq = (*qty - 1) as usize;
            if seq < sent_at.len()
                && variation(seq % VARIATIONS) == *r
                && let Some(t) = sent_at[seq]
            {
                latencies.push(at.saturating_duration_since(t));
            }
        }
        latencies.sort();
        let mut answered = answered.lock().unwrap_or_else(|p| p.into_inner()).clone();
        answered.sort();
        let delivered = latencies.len() as u64;
        let requests = arrivals.requests.load(Ordering::Relaxed);

        // 2. Ingress rate.
        let counter = Arc::new(AtomicU64::new(0));
        let next = Arc::new(AtomicU64::new(total));
        let deadline = Instant::now() + Duration::from_secs(ingress_secs);
        let begin = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let (client, endpoint, signed_url, counter, next) = (
                client.clone(),
                endpoint.clone(),
                signed_url.clone(),
                Arc::clone(&counter),
                Arc::clone(&next),
            );
            workers.spawn(async move {
                while Instant::now() < deadline {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    let body = inventory_webhook(seq);
                    let sig = square_signature(&signed_url, &body);
                    let ok = client
                        .post(&endpoint)
                        .header("content-type", "application/json")
                        .header("x-square-hmacsha256-signature", sig)
                        .body(body)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    if ok {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        while workers.join_next().await.is_some() {}
        let ingress = counter.load(Ordering::Relaxed) as f64 / begin.elapsed().as_secs_f64();

        host_daemon.shutdown().await?;
        Ok(Sample {
            send_window,
            answered,
            failed: failed.load(Ordering::Relaxed),
            delivered,
            requests,
            latencies,
            ingress,
        })
    }
}
