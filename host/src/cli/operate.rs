//! `snapact-host run`, `import` and `outbox`: operating a connector.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use super::{EXIT_DATA, ImportArgs, OutboxCommand, RunArgs};
use crate::daemon::{self, Daemon, shutdown_signal};
use crate::metrics::HostMetrics;
use crate::outbox::SqliteStore;
use crate::outbox::inbox::{InboxCounts, InboxStore};
use crate::outbox::relay::Relays;
use crate::outbox::store::{DrainOutcome, ParkedSelection, ShopStatus, Store, wait_drained};

pub(super) async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let mut config = args.config.load()?;
    if let Some(listen) = args.listen {
        config.server.listen = listen.parse().with_context(|| {
            format!("--listen {listen:?} is not an address such as 127.0.0.1:8080")
        })?;
    }
    if config.shops.is_empty() {
        bail!(
            "{}: no [[shop]] configured: add at least one shop",
            args.config.config.display()
        );
    }
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} ([server] listen)",
                config.server.listen
            )
        })?;
    let daemon = Daemon::start(&config, listener).await?;
    tracing::info!(shops = daemon.shops.len(), store = %config.store_path.display(), "running; Ctrl-C or SIGTERM stops");
    daemon.run_until(shutdown_signal()).await?;
    Ok(0)
}

pub(super) async fn import(args: ImportArgs) -> anyhow::Result<u8> {
    let config = args.config.load()?;
    let shop_config = config.shop(&args.shop).with_context(|| {
        format!(
            "no shop {:?} in {}: shops are {}",
            args.shop,
            args.config.config.display(),
            config
                .shops
                .iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let payload = std::fs::read(&args.file)
        .with_context(|| format!("failed to read {}", args.file.display()))?;
    let store = Arc::new(SqliteStore::open(&config.store_path).with_context(|| {
        format!(
            "failed to open the outbox at {}",
            config.store_path.display()
        )
    })?);
    let runtime = daemon::runtime_for(&config)?;
    let pkg = daemon::find_package(&config.adapters, &shop_config.adapter)?;
    let adapter = tokio::task::spawn_blocking(move || runtime.load(&pkg))
        .await
        .context("adapter loading task failed")??;
    let metrics = HostMetrics::detached(&shop_config.id, &shop_config.adapter.id);
    let shop = daemon::Shop {
        config: shop_config.clone(),
        adapter: daemon::reload::AdapterSlot::new(adapter),
        pos: crate::pos::transport_for(shop_config)?,
        metrics: Arc::clone(&metrics),
    };

    let bar = progress_bar();
    let report = daemon::import(
        &store,
        &shop,
        &payload,
        &args.content_type,
        |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            if bar.is_hidden() && total > 0 {
                eprintln!("written {done}/{total} changes");
            }
        },
    )
    .await?;
    bar.finish_and_clear();
    let e = &report.enqueued;
    println!(
        "{}: {} changes durable in the outbox ({} queued, {} coalesced, {} unchanged, {} older skipped, {} stock waiting for its item)",
        args.shop,
        report.changes,
        e.queued,
        e.coalesced,
        e.skipped_identical,
        e.skipped_older,
        e.stock_waiting
    );
    for r in &report.rejected {
        eprintln!("{}: {}: {r}", args.shop, args.file.display());
    }
    if !report.rejected.is_empty() {
        eprintln!(
            "{} records rejected by the adapter (not imported)",
            report.rejected.len()
        );
    }
    if !args.wait {
        return Ok(if report.rejected.is_empty() {
            0
        } else {
            EXIT_DATA
        });
    }

    let mut relays = Relays::new();
    let client = daemon::connect_client(&config, shop_config)?;
    relays
        .start_with_metrics(
            &shop_config.id,
            Arc::clone(&store),
            client,
            daemon::relay_config(&config),
            Some(metrics),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let outcome = wait_drained(store.as_ref(), &shop_config.id, Duration::from_millis(200)).await;
    relays.shutdown().await;
    let status = match outcome? {
        DrainOutcome::Drained(s) => s,
        DrainOutcome::Paused(s) => {
            eprintln!(
                "{}: delivery paused: {}",
                s.shop,
                s.paused.as_deref().unwrap_or("unknown reason")
            );
            return Ok(1);
        }
    };
    println!("{}: SnapAct acknowledged everything pending", status.shop);
    if status.parked > 0 {
        let parked = store.parked(Some(&status.shop)).await?;
        eprintln!("{} changes are parked:", parked.len());
        for p in parked.iter().take(20) {
            eprintln!("  #{} {} {}: {}", p.id, p.op, p.external_ref, p.reason);
        }
        return Ok(EXIT_DATA);
    }
    Ok(if report.rejected.is_empty() {
        0
    } else {
        EXIT_DATA
    })
}

fn progress_bar() -> indicatif::ProgressBar {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} changes written")
        {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    }
}

fn age(secs: Option<u64>) -> String {
    match secs {
        None => "-".into(),
        Some(s) if s < 120 => format!("{s}s"),
        Some(s) if s < 7200 => format!("{}m", s / 60),
        Some(s) => format!("{}h", s / 3600),
    }
}

/// A shop's outbox status and its SnapAct events, as `outbox status` prints them.
#[derive(serde::Serialize)]
struct StatusRow {
    #[serde(flatten)]
    status: ShopStatus,
    orders: InboxCounts,
}

fn status_line(row: &StatusRow) -> String {
    let s = &row.status;
    let o = &row.orders;
    format!(
        "{:<20} {:>8} {:>8} {:>7} {:>8} {:>10} {:>16}  {}",
        s.shop,
        s.pending,
        s.pending_stock,
        s.parked,
        s.acknowledged,
        age(s.oldest_pending_age_secs),
        format!("{}/{}/{}", o.pending, o.parked, o.orders_pushed),
        match (&s.paused, &s.last_error) {
            (Some(p), _) => format!("PAUSED: {p}"),
            (None, Some(e)) if s.pending > 0 => format!("retrying: {e}"),
            _ => "ok".into(),
        }
    )
}

pub(super) async fn outbox(cmd: OutboxCommand) -> anyhow::Result<u8> {
    match cmd {
        OutboxCommand::Status(args) => {
            let config = args.config.load()?;
            let store = SqliteStore::open(&config.store_path)?;
            let mut statuses = store.status(args.shop.as_deref()).await?;
            // Configured shops with nothing recorded yet still show up.
            for shop in &config.shops {
                if args.shop.as_deref().is_none_or(|s| s == shop.id)
                    && !statuses.iter().any(|s| s.shop == shop.id)
                {
                    statuses.push(ShopStatus::empty(&shop.id));
                }
            }
            statuses.sort_by(|a, b| a.shop.cmp(&b.shop));
            let mut rows = Vec::with_capacity(statuses.len());
            for status in statuses {
                let orders = store.inbox_counts(&status.shop).await?;
                rows.push(StatusRow { status, orders });
            }
            if args.json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<20} {:>8} {:>8} {:>7} {:>8} {:>10} {:>16}  state",
                    "shop", "pending", "stock*", "parked", "acked", "oldest", "orders p/x/ok"
                );
                for r in &rows {
                    println!("{}", status_line(r));
                }
                println!("(stock*: stock changes waiting for their item to arrive in full;");
                println!(
                    " orders p/x/ok: SnapAct events pending / parked / orders created in the POS)"
                );
            }
            Ok(0)
        }
        OutboxCommand::Parked(args) => {
            let config = args.config.load()?;
            let store = SqliteStore::open(&config.store_path)?;
            let parked = store.parked(args.shop.as_deref()).await?;
            let events = store.parked_events(args.shop.as_deref()).await?;
            if args.json {
                let all = serde_json::json!({ "changes": parked, "events": events });
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if parked.is_empty() && events.is_empty() {
                println!("nothing parked");
            } else {
                for p in &parked {
                    println!(
                        "#{:<6} {:<16} {:<7} {:<24} {}",
                        p.id, p.shop, p.op, p.external_ref, p.reason
                    );
                }
                for e in &events {
                    println!(
                        "{:<22} {:<16} {:<20} order {:<16} {}",
                        e.event_id,
                        e.shop,
                        e.event_type,
                        e.order_id.as_deref().unwrap_or("-"),
                        e.reason
                    );
                }
                println!(
                    "{} changes and {} SnapAct events parked; retry with \
                     `snapact-host outbox retry --shop SHOP [ID...] [--event EVENT_ID]...`",
                    parked.len(),
                    events.len()
                );
            }
            Ok(0)
        }
        OutboxCommand::Retry(args) => {
            let config = args.config.load()?;
            let store = SqliteStore::open(&config.store_path)?;
            if config.shop(&args.shop).is_none() {
                anyhow::bail!(
                    "shop `{}` is not in {}: check --shop",
                    args.shop,
                    args.config.config.display()
                );
            }
            let everything = args.ids.is_empty() && args.events.is_empty();
            let report = if everything || !args.ids.is_empty() {
                let which = if args.ids.is_empty() {
                    ParkedSelection::All
                } else {
                    ParkedSelection::Ids(args.ids.clone())
                };
                Some(store.retry_parked(&args.shop, which).await?)
            } else {
                None
            };
            let mut events = 0;
            if everything {
                events += store.retry_parked_events(&args.shop, None).await?;
            }
            for id in &args.events {
                events += store.retry_parked_events(&args.shop, Some(id)).await?;
            }
            if args.json {
                let out = serde_json::json!({ "changes": report, "events": events });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                if let Some(r) = report {
                    println!("{r:?}");
                }
                println!(
                    "{events} SnapAct events pending again; a running host picks them up within its backoff"
                );
            }
            Ok(0)
        }
    }
}
