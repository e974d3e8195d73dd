//! The connector daemon: the store, the adapters each shop uses, and per
//! shop a relay delivering to SnapAct, an order worker pushing paid orders
//! into the POS and (when configured) a poller; plus the HTTP server
//! (health, SnapAct and POS webhooks). `snapact-host run` and
//! `snapact-host dev` both start one.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::config::{AdapterSpec, AdaptersConfig, Config, ShopConfig};
use crate::metrics::{HostMetrics, ShopMetrics};
use crate::operations::{self, Operations};
use crate::orders::{self, OrderTarget, OrderWorker, OrdersConfig};
use crate::outbox::relay::{RelayConfig, Relays};
use crate::outbox::{Backoff, SharedClock, SqliteStore, SystemClock};
use crate::poller::{self, PollSource, Poller, PollerConfig};
use crate::pos::PosTransport;
use crate::registry::Package;
use crate::runtime::{
    CallError, Function, LoadedAdapter, Order, OrderStatusUpdate, PollPage, PosOrderRef, Runtime,
    RuntimeConfig, ShopContext,
};
use crate::snapact::client::{ConnectClient, ConnectConfig};
use crate::telemetry::shop_span;
use crate::webhooks::{ShopHooks, Webhooks};

pub mod reload;
use reload::{AdapterSlot, WatchConfig, Watcher};

/// A shop as the daemon serves it.
pub struct Shop {
    /// Its configuration.
    pub config: ShopConfig,
    /// The adapter it maps through (swapped by hot reload).
    pub adapter: AdapterSlot,
    /// Its POS connection for `pos-http`; `None` without a `pos_base_url`.
    pub pos: Option<Arc<dyn PosTransport>>,
    /// Where its adapter calls, deliveries and webhooks are counted.
    pub metrics: Arc<ShopMetrics>,
}

impl Shop {
    /// The context adapter calls for this shop run in.
    pub fn context(&self) -> ShopContext {
        ShopContext {
            shop: self.config.id.clone(),
            settings: self.config.settings.clone(),
            secrets: self.config.secrets.clone(),
            pos_base_url: self.config.pos_base_url.clone(),
            pos: self.pos.clone(),
            // Config validation accepts plain http only for loopback URLs.
            local_pos: self.config.allow_insecure_http,
            metrics: Some(Arc::clone(&self.metrics)),
        }
    }
}

impl OrderTarget for Arc<Shop> {
    async fn push_order(&self, order: Order) -> Result<PosOrderRef, CallError> {
        let adapter = self.adapter.usable(Function::PushOrder)?;
        adapter.push_order(&self.context(), order).await
    }

    async fn order_status_changed(&self, update: OrderStatusUpdate) -> Result<(), CallError> {
        let adapter = self.adapter.usable(Function::OrderStatusChanged)?;
        adapter.order_status_changed(&self.context(), update).await
    }
}

impl PollSource for Arc<Shop> {
    async fn poll(&self, cursor: Option<String>) -> Result<PollPage, CallError> {
        let adapter = self.adapter.usable(Function::Poll)?;
        adapter.poll(&self.context(), cursor).await
    }
}

/// The runtime configured as the operator's config caps it.
pub fn runtime_for(config: &Config) -> anyhow::Result<Runtime> {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(config.adapters.cache_dir.clone()),
        max_memory_mb: config.adapters.max_memory_mb,
        max_timeout_ms: config.adapters.max_timeout_ms,
        max_output_bytes: config.adapters.max_output_bytes,
    })
    .context("failed to start the Wasm runtime")
}

/// The installed package `spec` selects: the newest matching version that
/// is not revoked, its signature checked under `[adapters]`'s trust policy
/// (see [`crate::registry::resolve`]).
pub fn find_package(adapters: &AdaptersConfig, spec: &AdapterSpec) -> anyhow::Result<Package> {
    let resolved = crate::registry::resolve(&adapters.dir, spec, &adapters.trust)?;
    tracing::info!(
        adapter = %spec.id,
        version = %resolved.package.manifest().version,
        publisher = resolved.publisher.as_deref().unwrap_or("unsigned"),
        location = %resolved.location,
        path = %resolved.package.dir().display(),
        "adapter package selected"
    );
    Ok(resolved.package)
}

/// Load every shop's adapter (each package once); their metrics are
/// counted where nobody reads them (see [`load_shops_metered`]).
pub async fn load_shops(config: &Config, runtime: &Runtime) -> anyhow::Result<Vec<Arc<Shop>>> {
    load_shops_metered(config, runtime, &HostMetrics::new()).await
}

/// Load every shop's adapter (each package once), each shop counting into
/// `metrics`.
pub async fn load_shops_metered(
    config: &Config,
    runtime: &Runtime,
    metrics: &HostMetrics,
) -> anyhow::Result<Vec<Arc<Shop>>> {
    let mut loaded: BTreeMap<String, Arc<LoadedAdapter>> = BTreeMap::new();
    let mut shops = Vec::new();
    for shop in &config.shops {
        let key = shop.adapter.to_string();
        let adapter = match loaded.get(&key) {
            Some(a) => a.clone(),
            None => {
                let pkg = find_package(&config.adapters, &shop.adapter)
                    .with_context(|| format!("shop {}", shop.id))?;
                let rt = runtime.clone();
                let a = tokio::task::spawn_blocking(move || rt.load(&pkg))
                    .await
                    .context("adapter loading task failed")?
                    .with_context(|| {
                        format!(
                            "shop {}: failed to load adapter `{}`",
                            shop.id, shop.adapter
                        )
                    })?;
                tracing::info!(shop = %shop.id, adapter = %a.id(), version = %a.version(), "adapter loaded");
                loaded.insert(key, a.clone());
                a
            }
        };
        let pos = crate::pos::transport_for(shop)?;
        shops.push(Arc::new(Shop {
            config: shop.clone(),
            adapter: AdapterSlot::new(adapter),
            pos,
            metrics: metrics.shop(&shop.id, &shop.adapter.id),
        }));
    }
    Ok(shops)
}

/// The relay policy from the config.
pub fn relay_config(config: &Config) -> RelayConfig {
    RelayConfig {
        batch_size: config.snapact.batch_size,
        backoff: Backoff {
            base: config.relay.backoff_base,
            cap: config.relay.backoff_cap,
        },
        max_age: config.relay.max_age,
        ..RelayConfig::default()
    }
}

/// A SnapAct client for one shop's key.
pub fn connect_client(config: &Config, shop: &ShopConfig) -> anyhow::Result<ConnectClient> {
    let mut cc = ConnectConfig::new(config.snapact.base_url.clone());
    cc.batch_size = config.snapact.batch_size;
    cc.request_timeout = config.snapact.timeout;
    ConnectClient::new(&cc, shop.snapact_key.clone())
        .with_context(|| format!("shop {}: failed to set up the SnapAct client", shop.id))
}

/// Start one relay per shop, each counting into `metrics`.
pub fn start_relays(
    config: &Config,
    store: &Arc<SqliteStore>,
    metrics: &HostMetrics,
) -> anyhow::Result<Relays> {
    let mut relays = Relays::new();
    for shop in &config.shops {
        let client = connect_client(config, shop)?;
        relays
            .start_with_metrics(
                &shop.id,
                Arc::clone(store),
                client,
                relay_config(config),
                Some(metrics.shop(&shop.id, &shop.adapter.id)),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(relays)
}

/// The order workers' retry policy from the config.
pub fn orders_config(config: &Config) -> OrdersConfig {
    OrdersConfig {
        backoff: Backoff {
            base: config.relay.backoff_base,
            cap: config.relay.backoff_cap,
        },
        max_age: config.relay.max_age,
        ..OrdersConfig::default()
    }
}

/// A running daemon.
pub struct Daemon {
    /// The durable store.
    pub store: Arc<SqliteStore>,
    /// The shops it serves.
    pub shops: Vec<Arc<Shop>>,
    /// Their relays.
    pub relays: Relays,
    /// Their order workers.
    pub orders: Vec<OrderWorker>,
    /// Pollers of the shops that poll.
    pub pollers: BTreeMap<String, Poller>,
    /// What `/metrics` shows.
    pub metrics: Arc<HostMetrics>,
    /// Hot reload of adapters (`None` with `[adapters] watch = "off"`).
    pub watcher: Option<Watcher>,
    server: JoinHandle<anyhow::Result<()>>,
    stop: watch::Sender<bool>,
}

impl Daemon {
    /// Open the store, load adapters, start relays and serve HTTP on `listener`.
    pub async fn start(config: &Config, listener: TcpListener) -> anyhow::Result<Daemon> {
        Self::start_with_clock(config, listener, Arc::new(SystemClock)).await
    }

    /// Like [`Daemon::start`]; `clock` checks webhook timestamps (tests).
    pub async fn start_with_clock(
        config: &Config,
        listener: TcpListener,
        clock: SharedClock,
    ) -> anyhow::Result<Daemon> {
        let store = Arc::new(SqliteStore::open(&config.store_path).with_context(|| {
            format!(
                "failed to open the outbox at {}",
                config.store_path.display()
            )
        })?);
        let runtime = runtime_for(config)?;
        let metrics = Arc::new(HostMetrics::new());
        let shops = load_shops_metered(config, &runtime, &metrics).await?;
        let watcher = config.adapters.watch_every.map(|every| {
            let adapters = config.adapters.clone();
            let index_dir = adapters.dir.clone();
            Watcher::spawn(
                WatchConfig {
                    dir: adapters.dir.clone(),
                    every,
                    refresh: adapters
                        .registry
                        .clone()
                        .map(|source| (source, reload::REGISTRY_REFRESH)),
                    resolve: Arc::new(move |spec: &AdapterSpec| find_package(&adapters, spec)),
                    revoked: Arc::new(move |id: &str, version: &semver::Version| {
                        reload::revoked_in_cached_index(&index_dir, id, version)
                    }),
                },
                runtime.clone(),
                shops.clone(),
            )
        });
        let relays = start_relays(config, &store, &metrics)?;
        let mut orders = Vec::new();
        let mut pollers = BTreeMap::new();
        let mut hooks = Vec::new();
        for shop in &shops {
            let id = &shop.config.id;
            let relay = relays
                .get(id)
                .map(|r| r.waker())
                .context("a shop has no relay")?;
            // The tasks' own spans nest in this one: their lines carry the adapter.
            let span = shop_span(id, shop.metrics.adapter());
            let worker = span.in_scope(|| {
                orders::spawn(
                    id,
                    Arc::clone(&store),
                    Arc::clone(shop),
                    orders_config(config),
                )
            });
            let mut poll = None;
            if let Some(every) = shop.config.poll_every {
                let p = span.in_scope(|| {
                    poller::spawn(
                        id,
                        Arc::clone(&store),
                        Arc::clone(shop),
                        PollerConfig::every(every),
                        Arc::clone(&relay),
                    )
                });
                poll = Some(p.trigger_handle());
                pollers.insert(id.clone(), p);
            }
            hooks.push(ShopHooks {
                shop: Arc::clone(shop),
                relay,
                orders: worker.waker(),
                poll,
            });
            orders.push(worker);
        }
        let webhooks = Webhooks::new(
            hooks,
            Arc::clone(&store),
            clock,
            config.server.public_url.clone(),
        )
        .with_metrics(Arc::clone(&metrics));
        let (stop, stop_rx) = watch::channel(false);
        let wakers: Vec<Arc<tokio::sync::Notify>> = relays.wakers().collect();
        tokio::spawn(wake_on_external_writes(
            Arc::clone(&store),
            wakers,
            stop_rx.clone(),
        ));
        let router = operations::router(Operations {
            store: Arc::clone(&store),
            shops: shops.clone(),
            metrics: Arc::clone(&metrics),
        })
        .merge(webhooks.router(config.server.max_body_bytes));
        let addr = listener.local_addr().ok();
        let server = tokio::spawn(async move {
            let mut stop_rx = stop_rx;
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.wait_for(|s| *s).await;
                })
                .await
                .context("the HTTP server failed")
        });
        if let Some(addr) = addr {
            tracing::info!(%addr, shops = shops.len(), polling = pollers.len(),
                "host listening (/healthz, /readyz, /metrics, /webhooks/snapact/{{shop}}, /webhooks/pos/{{shop}})");
        }
        Ok(Daemon {
            store,
            shops,
            relays,
            orders,
            pollers,
            metrics,
            watcher,
            server,
            stop,
        })
    }

    /// Run until `shutdown` completes, then stop cleanly: the HTTP server
    /// stops accepting, each relay finishes its batch in flight (or leaves it
    /// pending), and the store is flushed.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        shutdown.await;
        self.shutdown().await
    }

    /// Stop cleanly now.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        tracing::info!("shutting down: finishing batches in flight");
        let _ = self.stop.send(true);
        if let Some(w) = self.watcher {
            w.shutdown().await;
        }
        for (_, p) in self.pollers {
            p.shutdown().await;
        }
        for w in self.orders {
            w.shutdown().await;
        }
        self.relays.shutdown().await;
        match self.server.await {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("the HTTP server task failed: {e}")),
        }
    }
}

/// How often the daemon looks for commits by other processes.
const EXTERNAL_WRITES_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Wake every relay when another process (`import`, `outbox retry`)
/// commits to the store, so its changes go out at once rather than on the
/// relays' idle poll. One `PRAGMA data_version` per tick for the whole host.
async fn wake_on_external_writes(
    store: Arc<SqliteStore>,
    relays: Vec<Arc<tokio::sync::Notify>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut seen = store.data_version().await.ok();
    let mut tick = tokio::time::interval(EXTERNAL_WRITES_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        match store.data_version().await {
            Ok(v) if Some(v) != seen => {
                seen = Some(v);
                tracing::debug!("another process wrote to the store; waking the relays");
                for relay in &relays {
                    relay.notify_one();
                }
            }
            Ok(_) => {}
            // The relays' own polling still finds the changes.
            Err(e) => tracing::debug!("could not read the store's data version: {e}"),
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Changes the adapter produced.
    pub changes: usize,
    /// Records it rejected, with why.
    pub rejected: Vec<crate::catalog::Rejection>,
    /// What the outbox did with the changes.
    pub enqueued: crate::outbox::store::EnqueueReport,
}

/// Changes are written in transactions of this many: one fsync per chunk,
/// and progress to show between them.
pub const IMPORT_CHUNK: usize = 5_000;

/// Map `payload` through the shop's adapter and write the changes durably
/// to the outbox. `progress` is told (written, total) after each chunk.
pub async fn import(
    store: &SqliteStore,
    shop: &Shop,
    payload: &[u8],
    content_type: &str,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<ImportReport> {
    use crate::outbox::store::Store;
    let adapter = shop.adapter.usable(Function::MapRecords)?;
    let limit = adapter.manifest().limits.memory_mb.saturating_mul(1 << 20);
    if (payload.len() as u64) > limit / 2 {
        bail!(
            "shop {}: the file is {} MiB, too large for adapter `{}` (memory limit {} MiB, about half of it for the input): \
             split the file into parts under {} MiB, or raise [limits] memory_mb in the adapter's manifest and [adapters] max_memory_mb",
            shop.config.id,
            payload.len() >> 20,
            adapter.id(),
            limit >> 20,
            limit >> 21
        );
    }
    let mapped = adapter
        .map_records(&shop.context(), payload, content_type)
        .instrument(shop_span(&shop.config.id, shop.metrics.adapter()))
        .await
        .with_context(|| format!("shop {}: mapping failed", shop.config.id))?;
    let total = mapped.changes.len();
    let mut report = ImportReport {
        changes: total,
        rejected: mapped.rejected,
        ..ImportReport::default()
    };
    let mut written = 0;
    let mut changes = mapped.changes;
    progress(0, total);
    while !changes.is_empty() {
        let rest = changes.split_off(changes.len().min(IMPORT_CHUNK));
        let n = changes.len();
        let r = store
            .enqueue(&shop.config.id, changes)
            .await
            .with_context(|| format!("shop {}: writing to the outbox failed", shop.config.id))?;
        report.enqueued.queued += r.queued;
        report.enqueued.coalesced += r.coalesced;
        report.enqueued.skipped_identical += r.skipped_identical;
        report.enqueued.skipped_older += r.skipped_older;
        report.enqueued.stock_waiting += r.stock_waiting;
        report.enqueued.stock_applied += r.stock_applied;
        written += n;
        progress(written, total);
        changes = rest;
    }
    Ok(report)
}
