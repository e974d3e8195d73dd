//! The SnapAct Connect emulator (`snapact-host sandbox`, DESIGN §7 and §9):
//! what tests, demos and adapter authors deliver to. It checks keys (each
//! key is its own tenant, so two shops never collide), validates every item
//! and refuses bad ones with a reason, keeps items in memory, and injects
//! faults on demand: 5xx, 429 with `Retry-After`, latency, and connections
//! dropped after the batch was applied.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use snapact_host::sandbox::{Sandbox, SandboxConfig, SandboxKey};
//! let mut config = SandboxConfig::default();
//! config.keys.push("lagos-main=sk_test_1".parse()?);
//! let sandbox = Sandbox::new(config)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let handle = sandbox.clone();
//! tokio::spawn(async move { handle.run(listener, std::future::pending()).await });
//! println!("{} items", sandbox.items(Some("lagos-main")).len());
//! # Ok(()) }
//! ```

mod orders;
mod routes;
mod state;
pub mod validate;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

pub use orders::{EventDelivery, SandboxWebhook};
pub use state::Stats;

use routes::ConnKill;
use state::{State, lock};

/// One accepted Connect API key and the tenant (shop namespace) it opens.
#[derive(Clone, PartialEq, Eq)]
pub struct SandboxKey {
    /// Namespace of the key's items (`GET /sandbox/items?tenant=`).
    pub tenant: String,
    /// The key clients send as `Authorization: Bearer`.
    pub key: String,
}

impl std::fmt::Debug for SandboxKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxKey")
            .field("tenant", &self.tenant)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl std::str::FromStr for SandboxKey {
    type Err = SandboxError;

    /// `TENANT=KEY`, or a bare `KEY` whose tenant is `tenant-` + the first 8
    /// hex digits of its SHA-256 (stable, and does not print the key).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (tenant, key) = match s.split_once('=') {
            Some((t, k)) => (t.trim().to_owned(), k.trim().to_owned()),
            None => {
                let digest = Sha256::digest(s.trim().as_bytes());
                (
                    format!("tenant-{}", &hex::encode(digest)[..8]),
                    s.trim().to_owned(),
                )
            }
        };
        if tenant.is_empty() || key.is_empty() {
            return Err(SandboxError::Key);
        }
        Ok(SandboxKey { tenant, key })
    }
}

/// How the sandbox behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    /// Accepted keys; at least one.
    pub keys: Vec<SandboxKey>,
    /// Share of Connect requests answered 503 (0.0..=1.0).
    pub fail_rate: f64,
    /// Requests per minute per key before 429 + `Retry-After`.
    pub rate_limit_per_min: Option<u32>,
    /// Added to every Connect request.
    pub latency: Duration,
    /// Share of applied requests whose connection is then closed without
    /// an answer (0.0..=1.0).
    pub drop_after_apply_rate: f64,
    /// Seed for the fault dice; `None` seeds from the OS.
    pub seed: Option<u64>,
    /// Largest batch accepted.
    pub max_batch: usize,
    /// Where each tenant's signed events (`order.paid`, ...) are delivered.
    pub webhooks: Vec<SandboxWebhook>,
}

impl Default for SandboxConfig {
    /// No keys, no faults, batches of up to 100.
    fn default() -> Self {
        SandboxConfig {
            keys: Vec::new(),
            fail_rate: 0.0,
            rate_limit_per_min: None,
            latency: Duration::ZERO,
            drop_after_apply_rate: 0.0,
            seed: None,
            max_batch: crate::snapact::wire::DEFAULT_BATCH_SIZE,
            webhooks: Vec::new(),
        }
    }
}

/// A sandbox configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// No `--key`.
    #[error("the sandbox needs at least one --key (TENANT=KEY or KEY)")]
    NoKeys,
    /// A key or tenant is empty.
    #[error("a --key must be TENANT=KEY or KEY, neither part empty")]
    Key,
    /// The same tenant twice.
    #[error("tenant {0:?} is given by two --key values; each key needs its own tenant")]
    DuplicateTenant(String),
    /// A rate outside 0..=1.
    #[error("{name} must be between 0 and 1, got {value}")]
    Rate {
        /// The flag.
        name: &'static str,
        /// Its value.
        value: f64,
    },
}

pub(crate) struct Inner {
    config: SandboxConfig,
    tenants: HashMap<String, String>,
    state: State,
    orders: orders::Orders,
}

impl Inner {
    fn items_of(&self, tenant: Option<&str>) -> Vec<Value> {
        let all = lock(&self.state.items);
        let mut tenants: Vec<&String> = all
            .keys()
            .filter(|t| tenant.is_none_or(|x| t.as_str() == x))
            .collect();
        tenants.sort();
        tenants
            .into_iter()
            .flat_map(|t| all[t].values().map(|s| s.to_value()))
            .collect()
    }

    fn stats(&self) -> Stats {
        lock(&self.state.stats).clone()
    }
}

/// A sandbox: its state and its router. Clones share the state, so a test
/// or `snapact-host dev` can serve it and read what arrived.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Sandbox {
    /// Checks `config` and builds an empty sandbox.
    pub fn new(config: SandboxConfig) -> Result<Self, SandboxError> {
        if config.keys.is_empty() {
            return Err(SandboxError::NoKeys);
        }
        for (name, value) in [
            ("--fail-rate", config.fail_rate),
            ("--drop-after-apply-rate", config.drop_after_apply_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(SandboxError::Rate { name, value });
            }
        }
        let mut tenants = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for k in &config.keys {
            if !seen.insert(k.tenant.clone()) {
                return Err(SandboxError::DuplicateTenant(k.tenant.clone()));
            }
            tenants.insert(k.key.clone(), k.tenant.clone());
        }
        let state = State::new(config.seed, config.rate_limit_per_min);
        Ok(Sandbox {
            inner: Arc::new(Inner {
                config,
                tenants,
                state,
                orders: orders::Orders::default(),
            }),
        })
    }

    /// The HTTP routes, for in-process tests (`tower::ServiceExt::oneshot`).
    /// Served this way, `drop_after_apply_rate` has no connection to drop
    /// and answers normally.
    pub fn router(&self) -> Router {
        routes::router(Arc::clone(&self.inner))
    }

    /// Every stored item of `tenant` (or of all tenants), in wire form,
    /// ordered by tenant and `external_ref`.
    pub fn items(&self, tenant: Option<&str>) -> Vec<Value> {
        self.inner.items_of(tenant)
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Every webhook event emitted so far, with its delivery state.
    pub fn deliveries(&self) -> Vec<EventDelivery> {
        self.inner.orders.deliveries()
    }

    /// Serves on `listener` until `shutdown` completes, then lets open
    /// connections finish their request and closes them.
    pub async fn run(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let addr = listener
            .local_addr()
            .context("failed to read the sandbox's listening address")?;
        info!(%addr, tenants = self.inner.tenants.len(), "sandbox listening");
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let router = self.router();
                        let stop = stop_rx.clone();
                        connections.spawn(async move {
                            serve_connection(stream, router, stop).await;
                            debug!(%peer, "connection closed");
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off briefly.
                        warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                () = &mut shutdown => break,
            }
        }
        let _ = stop_tx.send(true);
        while connections.join_next().await.is_some() {}
        info!("sandbox stopped");
        Ok(())
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let kill = Arc::new(Notify::new());
    let service =
        TowerToHyperService::new(router.layer(axum::Extension(ConnKill(Arc::clone(&kill)))));
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        // Returning drops the connection: the socket closes with no answer.
        () = kill.notified() => {}
        _ = stop.changed() => {
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                _ = connection.as_mut() => {}
                () = kill.notified() => {}
            }
        }
    }
}

/// Runs a sandbox with `config` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    config: SandboxConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let sandbox = Sandbox::new(config).context("invalid sandbox configuration")?;
    sandbox.run(listener, shutdown).await
}
