//! `snapact-host dev`: the whole product on one machine in a minute. Builds
//! the Square adapter, starts the SnapAct sandbox in-process, runs the host
//! against it with two example shops, imports their catalogs, shows what
//! SnapAct received, then feeds demo stock changes until Ctrl-C.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::DevArgs;
use crate::config::{Config, Overrides};
use crate::daemon::{self, Daemon, shutdown_signal};
use crate::outbox::store::{DrainOutcome, wait_drained};
use crate::registry::build;
use crate::sandbox::{Sandbox, SandboxConfig, SandboxKey};

/// The example shops: id, sandbox key, Square location.
const SHOPS: [(&str, &str); 2] = [
    ("lagos-yaba", "dev-key-yaba"),
    ("lagos-lekki", "dev-key-lekki"),
];
const LOCATION: &str = "LYABA7Q2NG0Z1";

fn dev_config(sandbox_url: &str, store: &Path, adapters: &Path) -> String {
    let mut text = format!(
        "[snapact]\nbase_url = {sandbox_url:?}\n[store]\npath = {:?}\n[adapters]\ndir = {:?}\nrequire_signatures = false\n[relay]\nbackoff_base_ms = 200\nbackoff_cap_ms = 5000\n",
        store.display().to_string(),
        adapters.display().to_string()
    );
    for (id, _) in SHOPS {
        let env = format!("DEV_KEY_{}", id.replace('-', "_").to_uppercase());
        text.push_str(&format!(
            "[[shop]]\nid = {id:?}\nadapter = \"square@^1\"\nsnapact_key = {{ env = {env:?} }}\nsettings = {{ location_id = {LOCATION:?}, currency = \"NGN\", low_stock_threshold = \"10\" }}\n"
        ));
    }
    text
}

fn naira(minor: Option<i64>) -> String {
    match minor {
        None => "price on request".into(),
        Some(m) => {
            let whole = m / 100;
            let mut digits = whole.to_string();
            let mut grouped = String::new();
            while digits.len() > 3 {
                let tail = digits.split_off(digits.len() - 3);
                grouped = format!(",{tail}{grouped}");
            }
            format!("₦{digits}{grouped}.{:02}", (m % 100).abs())
        }
    }
}

fn show_item(v: &Value) -> String {
    format!(
        "  {:<42} {:>14}  qty {:>4}  {}",
        v["name"].as_str().unwrap_or("?"),
        naira(v["price_minor"].as_i64()),
        v["quantity"].as_i64().map_or("-".into(), |q| q.to_string()),
        v["availability"].as_str().unwrap_or("?")
    )
}

pub(super) async fn run(args: DevArgs) -> anyhow::Result<u8> {
    let root = std::env::current_dir()?;
    let square_src = root.join("adapters/square");
    if !square_src.join("adapter.toml").is_file() {
        bail!(
            "run `snapact-host dev` from the repository root (adapters/square not found in {})",
            root.display()
        );
    }
    let work = root.join("target/dev");
    let adapters_dir = root.join("target/adapters");
    println!("building the Square adapter (adapters/square -> target/adapters/square)...");
    let out = adapters_dir.clone();
    tokio::task::spawn_blocking(move || build::build_adapter(&square_src, &out))
        .await
        .context("build task failed")?
        .context("building the Square adapter failed")?;

    // A fresh store each start, so the demo always shows a full import.
    std::fs::create_dir_all(&work)?;
    let store_path = work.join("dev.db");
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(PathBuf::from(format!("{}{ext}", store_path.display())));
    }

    let sandbox = Sandbox::new(SandboxConfig {
        keys: SHOPS
            .iter()
            .map(|(id, key)| SandboxKey {
                tenant: (*id).to_string(),
                key: (*key).to_string(),
            })
            .collect(),
        ..SandboxConfig::default()
    })?;
    let sandbox_listener = TcpListener::bind("127.0.0.1:0").await?;
    let sandbox_url = format!("http://{}", sandbox_listener.local_addr()?);
    let (stop_tx, stop_rx) = watch::channel(false);
    let sandbox_task = {
        let sandbox = sandbox.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            sandbox
                .run(sandbox_listener, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
        })
    };
    println!("SnapAct sandbox on {sandbox_url}");

    let env: BTreeMap<String, String> = SHOPS
        .iter()
        .map(|(id, key)| {
            (
                format!("DEV_KEY_{}", id.replace('-', "_").to_uppercase()),
                (*key).to_string(),
            )
        })
        .collect();
    let config = Config::from_toml(
        &dev_config(&sandbox_url, &store_path, &adapters_dir),
        "dev config",
        &Overrides::default(),
        &env,
    )?;
    let host_listener = TcpListener::bind("127.0.0.1:0").await?;
    println!(
        "host on http://{} (GET /healthz, /readyz)",
        host_listener.local_addr()?
    );
    let daemon = Daemon::start(&config, host_listener).await?;

    // Print every delivered batch as it is acknowledged.
    let mut printers = Vec::new();
    for (id, _) in SHOPS {
        if let Some(relay) = daemon.relays.get(id) {
            let mut events = relay.deliveries();
            printers.push(tokio::spawn(async move {
                while let Ok(ev) = events.recv().await {
                    for u in ev.upserted.iter().take(3) {
                        println!(
                            "[{}] delivered {} -> {} qty {} {}",
                            ev.shop,
                            u.item.name,
                            naira(u.item.price.as_ref().map(|p| p.amount_minor)),
                            u.item.quantity.map_or("-".into(), |q| q.to_string()),
                            u.item.availability.as_str()
                        );
                    }
                    if ev.upserted.len() > 3 {
                        println!(
                            "[{}] ... and {} more items in this batch",
                            ev.shop,
                            ev.upserted.len() - 3
                        );
                    }
                    for (r, why) in &ev.rejected {
                        println!("[{}] SnapAct rejected {r}: {why}", ev.shop);
                    }
                }
            }));
        }
    }

    let catalog = std::fs::read(root.join("adapters/square/sample/catalog.json"))?;
    let inventory = std::fs::read(root.join("adapters/square/sample/inventory.json"))?;
    for shop in &daemon.shops {
        for (what, payload) in [("catalog", &catalog), ("inventory", &inventory)] {
            let r =
                daemon::import(&daemon.store, shop, payload, "application/json", |_, _| {}).await?;
            println!(
                "[{}] imported the sample {what}: {} changes durable ({} rejected by the adapter)",
                shop.config.id,
                r.changes,
                r.rejected.len()
            );
        }
        daemon.relays.notify(&shop.config.id);
    }
    for (id, _) in SHOPS {
        let waited = tokio::time::timeout(
            Duration::from_secs(60),
            wait_drained(daemon.store.as_ref(), id, Duration::from_millis(100)),
        )
        .await;
        match waited {
            Ok(Ok(DrainOutcome::Drained(_))) => {}
            Ok(Ok(DrainOutcome::Paused(s))) => bail!("shop {id} paused: {:?}", s.paused),
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => bail!("shop {id}: not delivered within 60 s; see `outbox status`"),
        }
    }

    println!("\nWhat SnapAct now lists (GET {sandbox_url}/sandbox/items):");
    for (id, _) in SHOPS {
        let items = sandbox.items(Some(id));
        println!("{id}: {} items", items.len());
        for v in items.iter().take(5) {
            println!("{}", show_item(v));
        }
    }
    let stats = serde_json::to_value(sandbox.stats()).unwrap_or(Value::Null);
    println!("sandbox stats: {stats}");

    if !args.once {
        if args.feed_every > 0 {
            println!(
                "\ndemo feed: a stock change every {} s for {}; Ctrl-C stops",
                args.feed_every, SHOPS[0].0
            );
        } else {
            println!("\nrunning; Ctrl-C stops");
        }
        let feed = demo_feed(&daemon, &inventory, args.feed_every);
        tokio::select! {
            () = shutdown_signal() => {}
            r = feed => r?,
        }
    }
    daemon.shutdown().await?;
    let _ = stop_tx.send(true);
    let _ = sandbox_task.await;
    for p in printers {
        p.abort();
    }
    Ok(0)
}

/// Every `every` seconds, a Square `inventory.count.updated`-shaped count for
/// one of the sample variations, through the adapter and the outbox.
async fn demo_feed(daemon: &Daemon, inventory: &[u8], every: u64) -> anyhow::Result<()> {
    if every == 0 {
        std::future::pending::<()>().await;
    }
    let counts: Value = serde_json::from_slice(inventory)?;
    let ids: Vec<String> = counts["counts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["catalog_object_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let shop = Arc::clone(&daemon.shops[0]);
    let mut tick = 0usize;
    loop {
        tokio::time::sleep(Duration::from_secs(every)).await;
        if ids.is_empty() {
            continue;
        }
        tick += 1;
        let id = &ids[tick.wrapping_mul(7) % ids.len()];
        let quantity = (tick * 13) % 40;
        let payload = json!({"counts": [{
            "catalog_object_id": id,
            "catalog_object_type": "ITEM_VARIATION",
            "state": "IN_STOCK",
            "location_id": LOCATION,
            "quantity": quantity.to_string(),
            // Later than the sample's counts, and later each tick: newest wins.
            "calculated_at": format!("2026-03-{:02}T{:02}:{:02}:{:02}.000Z", 3 + tick / 86_400, tick / 3600 % 24, tick / 60 % 60, tick % 60)
        }]});
        let bytes = serde_json::to_vec(&payload)?;
        let r = daemon::import(&daemon.store, &shop, &bytes, "application/json", |_, _| {}).await?;
        println!(
            "[{}] POS stock: {id} now {quantity} ({} change queued)",
            shop.config.id, r.enqueued.queued
        );
        daemon.relays.notify(&shop.config.id);
    }
}
