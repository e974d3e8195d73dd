//! Webhook in -> SnapAct POST out, end to end through a running daemon.
//!
//! Setup: the Square adapter (built like `adapter build`), a daemon with one
//! shop on a real SQLite file, and a recording stand-in for SnapAct Connect
//! on 127.0.0.1 that answers every upsert and notes when each item arrived.
//! 1,000 variations are imported first, so stock webhooks update known items.
//!
//! 1. **Latency at a steady rate**: signed Square `inventory.count.updated`
//!    webhooks at `WEBHOOK_BENCH_RATE` per second (default 1,000) for
//!    `WEBHOOK_BENCH_SECS` (default 60), round-robin over the variations, each
//!    with a unique quantity; latency = the moment the item with that
//!    quantity reached SnapAct minus the moment its webhook was sent.
//!    Webhooks superseded in the outbox by a newer one for the same item
//!    before delivery (coalesced) have no arrival and are counted apart.
//! 2. **Ingress rate**: as many webhooks as 32 concurrent connections can
//!    get answered 200 in `WEBHOOK_BENCH_INGRESS_SECS` (default 10).
//!
//! Run: `cargo bench -p snapact-benches --bench webhooks`. Load generator,
//! daemon and the SnapAct stand-in share the machine (and its cores).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
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

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let adapters = root.join("target/bench-adapters");
    build::build_adapter(&root.join("adapters/square"), &adapters)?;
    let rate = env_or("WEBHOOK_BENCH_RATE", 1_000).max(1);
    let secs = env_or("WEBHOOK_BENCH_SECS", 60).max(1);
    let ingress_secs = env_or("WEBHOOK_BENCH_INGRESS_SECS", 10).max(1);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
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
        let host_daemon = Daemon::start_with_clock(&config, listener, Arc::new(SystemClock)).await?;

        // Preload the catalog.
        let shop = host_daemon.shops[0].clone();
        let catalog = snapact_benches::square_catalog(VARIATIONS, 1);
        daemon::import(&host_daemon.store, &shop, &catalog, "application/json", |_, _| {})
            .await?;
        host_daemon.relays.notify(SHOP);
        let t0 = Instant::now();
        while arrivals.items.lock().unwrap_or_else(|p| p.into_inner()).len() < VARIATIONS {
            anyhow::ensure!(t0.elapsed() < Duration::from_secs(120), "preload did not arrive");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        arrivals.items.lock().unwrap_or_else(|p| p.into_inner()).clear();

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
            let (sent_at, answered, failed) =
                (Arc::clone(&sent_at), Arc::clone(&answered), Arc::clone(&failed));
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
            let n = arrivals.items.lock().unwrap_or_else(|p| p.into_inner()).len();
            if n == last || settle.elapsed() > Duration::from_secs(60) {
                break;
            }
            last = n;
        }
        let sent_at = sent_at.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut latencies = Vec::new();
        for (r, qty, at) in arrivals.items.lock().unwrap_or_else(|p| p.into_inner()).iter() {
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

        println!("| measure | value |");
        println!("|---|---|");
        println!(
            "| steady load | {rate}/s for {secs} s ({total} webhooks, sent over {:.1} s) |",
            send_window.as_secs_f64()
        );
        println!(
            "| webhook answered 200 | {} (failed {}) |",
            answered.len(),
            failed.load(Ordering::Relaxed)
        );
        println!(
            "| webhook HTTP answer p50 / p99 / max (ms) | {} / {} / {} |",
            ms(percentile(&answered, 0.5)),
            ms(percentile(&answered, 0.99)),
            ms(answered.last().copied().unwrap_or_default())
        );
        println!(
            "| delivered to SnapAct | {delivered} ({} coalesced into a newer change) in {requests} upsert requests |",
            total.saturating_sub(delivered)
        );
        println!(
            "| webhook in -> SnapAct POST p50 / p99 / max (ms) | {} / {} / {} |",
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99)),
            ms(latencies.last().copied().unwrap_or_default())
        );
        println!("| ingress, 32 connections, {ingress_secs} s | {ingress:.0} webhooks/s answered 200 |");
        anyhow::Ok(())
    })
}
