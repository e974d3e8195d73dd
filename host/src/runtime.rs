//! The adapter sandbox: one `Engine` and `Linker`, an `InstancePre` per
//! loaded adapter, and a fresh `Store` per call with a memory cap, a
//! deadline and a cap on the size of the result.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use snapact_host::registry::Package;
//! use snapact_host::runtime::{Runtime, RuntimeConfig, ShopContext};
//!
//! let runtime = Runtime::new(RuntimeConfig::default())?;
//! let adapter = runtime.load(&Package::open("target/adapters/square".as_ref())?)?;
//! let shop = ShopContext::new("lagos-main");
//! let mapped = adapter.map_records(&shop, br#"{"objects":[]}"#, "application/json").await?;
//! println!("{} changes", mapped.changes.len());
//! # Ok(()) }
//! ```
//!
//! Calls must run inside a Tokio runtime with its time driver enabled: the
//! deadline also bounds time the adapter spends waiting on the host.

mod bindings;
mod cache;
mod convert;
mod engine;
mod errors;
mod imports;
mod limits;
mod types;
mod wasi;

pub use errors::{AdapterError, CallError, Function, LoadError, TrapCause};
pub use types::{
    Fulfillment, Order, OrderLine, OrderStatus, OrderStatusUpdate, PollPage, PosOrderRef, Webhook,
    WebhookOutcome,
};

use crate::catalog::Mapped;
use crate::metrics::ShopMetrics;
use crate::pos::PosTransport;
use crate::registry::{Manifest, Package};
use imports::HostState;
use limits::{CallLimiter, DeadlineExceeded, OutputSize};
use secrecy::SecretString;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{
    Component, ComponentExportIndex, ComponentNamedList, Instance, Lift, Linker, Lower,
    ResourceTable,
};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Operator caps on what adapters may ask for, and where compiled code is
/// cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Folder for compiled adapters; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// Cap on an adapter's `limits.memory_mb`.
    pub max_memory_mb: u64,
    /// Cap on an adapter's `limits.timeout_ms`.
    pub max_timeout_ms: u64,
    /// Largest result (approximate bytes of text and values) a call may
    /// return.
    pub max_output_bytes: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            max_memory_mb: 512,
            max_timeout_ms: 30_000,
            max_output_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The sandbox. Cheap to clone; clones share the engine, linker and cache.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    engine: Engine,
    linker: Linker<CallState>,
    cache: Option<cache::CodeCache>,
    config: RuntimeConfig,
    pooling: bool,
    compiles: AtomicU64,
}

/// One shop's view for a call: its settings, secrets (by reference only)
/// and POS connection.
#[derive(Clone, Default)]
pub struct ShopContext {
    /// Shop id, for logs.
    pub shop: String,
    /// Non-secret settings; the adapter sees those its manifest declares.
    pub settings: BTreeMap<String, String>,
    /// Secrets the adapter may verify with (those its manifest declares).
    pub secrets: BTreeMap<String, SecretString>,
    /// Base URL `pos-http` paths are resolved against.
    pub pos_base_url: Option<String>,
    /// Sends allowed `pos-http` requests; `None`: outbound calls are
    /// answered `not-configured`.
    pub pos: Option<Arc<dyn PosTransport>>,
    /// `pos_base_url` is a local stand-in for the POS (a loopback URL the
    /// operator allowed with `allow_insecure_http`, for tests and demos):
    /// relative `pos-http` paths may go there although its host is not in
    /// the adapter's `http_hosts`. Absolute URLs still need the allowlist.
    pub local_pos: bool,
    /// Where the shop's adapter calls, mapped changes and `pos-http`
    /// requests are counted; `None`: not measured.
    pub metrics: Option<Arc<ShopMetrics>>,
}

impl ShopContext {
    /// A shop with no settings, secrets or POS connection.
    pub fn new(shop: impl Into<String>) -> Self {
        ShopContext {
            shop: shop.into(),
            ..ShopContext::default()
        }
    }
}

impl std::fmt::Debug for ShopContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopContext")
            .field("shop", &self.shop)
            .field("settings", &self.settings)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("pos_base_url", &self.pos_base_url)
            .field("pos", &self.pos.as_ref().map(|_| "configured"))
            .field("local_pos", &self.local_pos)
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

/// How a load went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// The compiled code came from the disk cache (no compilation).
    pub from_cache: bool,
    /// Time to compile or read the cache, and link.
    pub duration: Duration,
    /// The cache file, when a cache is configured.
    pub cache_file: Option<PathBuf>,
}

/// An adapter ready to be called. Calls are independent: each gets a fresh
/// instance, so concurrent calls for many shops are fine.
pub struct LoadedAdapter {
    manifest: Arc<Manifest>,
    id: Arc<str>,
    version_text: Arc<str>,
    digest: String,
    pre: bindings::AdapterPre<CallState>,
    exports: Exports,
    memory_mb: u64,
    timeout: Duration,
    max_output_bytes: usize,
    warned: Arc<Mutex<BTreeSet<String>>>,
    report: LoadReport,
}

impl Runtime {
    /// Create the engine (pooling allocator where the OS allows), the linker
    /// with WASI p2 and the `snapact:adapter` imports, and the epoch ticker.
    pub fn new(cfg: RuntimeConfig) -> anyhow::Result<Self> {
        let max_memory_bytes = usize::try_from(cfg.max_memory_mb.saturating_mul(1024 * 1024))
            .map_err(|_| {
                anyhow::anyhow!(
                    "max_memory_mb {} is too large for this platform",
                    cfg.max_memory_mb
                )
            })?;
        let built = engine::build(max_memory_bytes)?;
        let engine = built.engine;
        let mut linker = Linker::<CallState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("failed to link WASI p2: {e:#}"))?;
        imports::add_to_linker(&mut linker, |s: &mut CallState| &mut s.host)
            .map_err(|e| anyhow::anyhow!("failed to link the snapact:adapter imports: {e:#}"))?;
        engine::start_epoch_ticker(&engine)?;
        let cache = cfg
            .cache_dir
            .clone()
            .map(|dir| cache::CodeCache::new(dir, engine::compatibility_key(&engine)));
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                cache,
                config: cfg,
                pooling: built.pooling,
                compiles: AtomicU64::new(0),
            }),
        })
    }

    /// The configuration the runtime was created with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Whether instances come from the pooling allocator (else on demand).
    pub fn pooling(&self) -> bool {
        self.inner.pooling
    }

    /// How many components this runtime compiled (cache hits do not count).
    pub fn compile_count(&self) -> u64 {
        self.inner.compiles.load(Ordering::Relaxed)
    }

    /// Compile (or read from the cache) and link `pkg`. Blocking: compiling a
    /// large component takes seconds, so async callers should use
    /// `spawn_blocking`.
    pub fn load(&self, pkg: &Package) -> Result<Arc<LoadedAdapter>, LoadError> {
        let started = Instant::now();
        let inner = &self.inner;
        let manifest = pkg.manifest();
        let digest = pkg.digest_hex();
        let cache_file = inner.cache.as_ref().map(|c| c.path(&digest));

        let cached = inner
            .cache
            .as_ref()
            .and_then(|c| c.load(&inner.engine, &digest));
        let from_cache = cached.is_some();
        let component = match cached {
            Some(component) => component,
            None => {
                let component =
                    Component::new(&inner.engine, pkg.wasm()).map_err(|e| LoadError::Compile {
                        adapter: manifest.id.clone(),
                        version: manifest.version.clone(),
                        reason: format!("{e:#}"),
                    })?;
                inner.compiles.fetch_add(1, Ordering::Relaxed);
                if let Some(cache) = &inner.cache {
                    cache.store(&digest, &component);
                }
                component
            }
        };

        let link_error = |e: wasmtime::Error| LoadError::Link {
            adapter: manifest.id.clone(),
            version: manifest.version.clone(),
            reason: format!("{e:#}"),
            needs: manifest.wit.to_string(),
        };
        let pre = inner
            .linker
            .instantiate_pre(&component)
            .map_err(link_error)?;
        let pre = bindings::AdapterPre::new(pre).map_err(link_error)?;
        let exports = Exports::find(pre.instance_pre().component()).map_err(link_error)?;

        let cfg = &inner.config;
        let memory_mb = manifest.limits.memory_mb.min(cfg.max_memory_mb);
        let timeout_ms = manifest.limits.timeout_ms.min(cfg.max_timeout_ms);
        if memory_mb < manifest.limits.memory_mb || timeout_ms < manifest.limits.timeout_ms {
            tracing::info!(
                adapter = %manifest.id, version = %manifest.version,
                requested_memory_mb = manifest.limits.memory_mb, memory_mb,
                requested_timeout_ms = manifest.limits.timeout_ms, timeout_ms,
                "adapter limits capped by the host configuration"
            );
        }
        let report = LoadReport {
            from_cache,
            duration: started.elapsed(),
            cache_file,
        };
        tracing::debug!(adapter = %manifest.id, version = %manifest.version, from_cache, ms = report.duration.as_millis() as u64, "adapter loaded");
        Ok(Arc::new(LoadedAdapter {
            manifest: Arc::new(manifest.clone()),
            id: manifest.id.as_str().into(),
            version_text: manifest.version.to_string().into(),
            digest,
            pre,
            exports,
            memory_mb,
            timeout: Duration::from_millis(timeout_ms),
            max_output_bytes: cfg.max_output_bytes,
            warned: Arc::default(),
            report,
        }))
    }
}

/// Everything a call's `Store` holds.
struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: CallLimiter,
    host: HostState,
    stdout: wasi::GuestOutput,
    stderr: wasi::GuestOutput,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Where the `pos-adapter` functions are in the component, looked up once at
/// load. A call type-checks only the function it calls, not all five.
struct Exports {
    map_records: ComponentExportIndex,
    handle_webhook: ComponentExportIndex,
    poll: ComponentExportIndex,
    push_order: ComponentExportIndex,
    order_status_changed: ComponentExportIndex,
}

impl Exports {
    /// The exported interface, named as the bindings generated from `../wit`
    /// name it (export lookups accept semver-compatible versions).
    const INTERFACE: &str = "snapact:adapter/pos-adapter@0.1.0";

    fn find(component: &Component) -> wasmtime::Result<Self> {
        let interface = component
            .get_export_index(None, Self::INTERFACE)
            .ok_or_else(|| {
                wasmtime::format_err!("no exported instance named `{}`", Self::INTERFACE)
            })?;
        let function = |name: &str| {
            component
                .get_export_index(Some(&interface), name)
                .ok_or_else(|| {
                    wasmtime::format_err!(
                        "instance export `{}` does not have export `{name}`",
                        Self::INTERFACE
                    )
                })
        };
        Ok(Exports {
            map_records: function("map-records")?,
            handle_webhook: function("handle-webhook")?,
            poll: function("poll")?,
            push_order: function("push-order")?,
            order_status_changed: function("order-status-changed")?,
        })
    }
}

/// What a finished guest call produced before classification.
type RawResult<W> =
    Result<wasmtime::Result<Result<W, bindings::types::AdapterError>>, tokio::time::error::Elapsed>;

impl LoadedAdapter {
    /// The adapter's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The adapter's version.
    pub fn version(&self) -> &semver::Version {
        &self.manifest.version
    }

    /// The validated manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// sha256 of the component, hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// How the load went (cache hit or compile).
    pub fn load_report(&self) -> &LoadReport {
        &self.report
    }

    /// Memory cap per call after the host's cap, MiB.
    pub fn memory_mb(&self) -> u64 {
        self.memory_mb
    }

    /// Deadline per call after the host's cap.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Map a payload of native POS records to changes.
    pub async fn map_records(
        &self,
        ctx: &ShopContext,
        payload: &[u8],
        content_type: &str,
    ) -> Result<Mapped, CallError> {
        let function = Function::MapRecords;
        let started = Instant::now();
        let result = match self
            .call(
                ctx,
                function,
                &self.exports.map_records,
                (payload, content_type),
            )
            .await
        {
            Ok((store, raw)) => self.finish(function, store, raw, convert::mapped),
            Err(e) => Err(e),
        };
        observe(ctx, function, started, &result, |m| {
            (m.changes.as_slice(), m.rejected.len())
        });
        result
    }

    /// Verify and map a webhook from the POS.
    pub async fn handle_webhook(
        &self,
        ctx: &ShopContext,
        req: Webhook,
    ) -> Result<WebhookOutcome, CallError> {
        let function = Function::HandleWebhook;
        let started = Instant::now();
        let req = convert::to_wit_webhook(req);
        let result = match self
            .call(ctx, function, &self.exports.handle_webhook, (&req,))
            .await
        {
            Ok((store, raw)) => self.finish(function, store, raw, convert::webhook_outcome),
            Err(e) => Err(e),
        };
        observe(ctx, function, started, &result, |o| {
            (o.changes.as_slice(), o.rejected.len())
        });
        result
    }

    /// Fetch one page of changes from the POS.
    pub async fn poll(
        &self,
        ctx: &ShopContext,
        cursor: Option<String>,
    ) -> Result<PollPage, CallError> {
        let function = Function::Poll;
        let started = Instant::now();
        let result = match self
            .call(ctx, function, &self.exports.poll, (cursor.as_deref(),))
            .await
        {
            Ok((store, raw)) => self.finish(function, store, raw, convert::poll_page),
            Err(e) => Err(e),
        };
        observe(ctx, function, started, &result, |p| {
            (p.changes.as_slice(), p.rejected.len())
        });
        result
    }

    /// Create a paid order in the POS.
    pub async fn push_order(
        &self,
        ctx: &ShopContext,
        order: Order,
    ) -> Result<PosOrderRef, CallError> {
        let function = Function::PushOrder;
        let started = Instant::now();
        let order = convert::to_wit_order(order);
        let result = match self
            .call(ctx, function, &self.exports.push_order, (&order,))
            .await
        {
            Ok((store, raw)) => self.finish(function, store, raw, convert::pos_order_ref),
            Err(e) => Err(e),
        };
        observe(ctx, function, started, &result, |_| (&[], 0));
        result
    }

    /// Tell the adapter a pushed order changed status.
    pub async fn order_status_changed(
        &self,
        ctx: &ShopContext,
        update: OrderStatusUpdate,
    ) -> Result<(), CallError> {
        let function = Function::OrderStatusChanged;
        let started = Instant::now();
        let update = convert::to_wit_status_update(update);
        let result = match self
            .call(
                ctx,
                function,
                &self.exports.order_status_changed,
                (&update,),
            )
            .await
        {
            Ok((store, raw)) => self.finish(function, store, raw, |()| ()),
            Err(e) => Err(e),
        };
        observe(ctx, function, started, &result, |()| (&[], 0));
        result
    }

    /// Instantiate, look up `export` with the WIT signature `P -> result<W,
    /// adapter-error>`, and call it with `params` before the deadline.
    async fn call<P, W>(
        &self,
        ctx: &ShopContext,
        function: Function,
        export: &ComponentExportIndex,
        params: P,
    ) -> Result<(Store<CallState>, RawResult<W>), CallError>
    where
        P: ComponentNamedList + Lower + Send + Sync,
        (Result<W, bindings::types::AdapterError>,):
            ComponentNamedList + Lift + Send + Sync + 'static,
    {
        let (mut store, instance, deadline) = self.instantiate(ctx, function).await?;
        let func = instance
            .get_typed_func::<P, (Result<W, bindings::types::AdapterError>,)>(&mut store, export)
            .map_err(|e| self.trap(function, &store, Some(e)))?;
        let raw = tokio::time::timeout_at(deadline.into(), func.call_async(&mut store, params))
            .await
            .map(|called| called.map(|(result,)| result));
        Ok((store, raw))
    }

    /// A fresh store (limits, deadline, WASI context, the shop's view) and a
    /// fresh instance.
    async fn instantiate(
        &self,
        ctx: &ShopContext,
        function: Function,
    ) -> Result<(Store<CallState>, Instance, Instant), CallError> {
        let deadline = Instant::now() + self.timeout;
        let shop: Arc<str> = ctx.shop.as_str().into();
        let declared = &self.manifest.capabilities;
        let settings = ctx
            .settings
            .iter()
            .filter(|(k, _)| declared.settings.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let secrets = ctx
            .secrets
            .iter()
            .filter(|(k, _)| declared.secrets.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let stdout = wasi::GuestOutput::new(
            wasi::Stream::Stdout,
            shop.clone(),
            self.id.clone(),
            self.version_text.clone(),
        );
        let stderr = wasi::GuestOutput::new(
            wasi::Stream::Stderr,
            shop.clone(),
            self.id.clone(),
            self.version_text.clone(),
        );
        let memory_bytes = usize::try_from(self.memory_mb * 1024 * 1024).unwrap_or(usize::MAX);
        let state = CallState {
            wasi: wasi::context(&stdout, &stderr),
            table: ResourceTable::new(),
            limiter: CallLimiter::new(memory_bytes),
            host: HostState {
                shop,
                adapter: self.id.clone(),
                version: self.version_text.clone(),
                manifest: self.manifest.clone(),
                settings,
                secrets,
                pos_base_url: ctx.pos_base_url.clone(),
                pos: ctx.pos.clone(),
                local_pos: ctx.local_pos,
                metrics: ctx.metrics.clone(),
                warned: self.warned.clone(),
                deadline,
            },
            stdout,
            stderr,
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limiter);
        // Every tick the guest yields its thread back to Tokio, so a busy
        // adapter never starves other shops; past the deadline it traps.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(wasmtime::Error::new(DeadlineExceeded))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let instantiated = tokio::time::timeout_at(
            deadline.into(),
            self.pre.instance_pre().instantiate_async(&mut store),
        )
        .await;
        match instantiated {
            Ok(Ok(instance)) => Ok((store, instance, deadline)),
            Ok(Err(e)) => Err(self.trap(function, &store, Some(e))),
            Err(_) => Err(self.trap(function, &store, None)),
        }
    }

    fn finish<W, H: OutputSize>(
        &self,
        function: Function,
        store: Store<CallState>,
        raw: RawResult<W>,
        convert: impl FnOnce(W) -> H,
    ) -> Result<H, CallError> {
        store.data().stdout.flush();
        store.data().stderr.flush();
        match raw {
            Err(_elapsed) => Err(self.trap(function, &store, None)),
            Ok(Err(e)) => Err(self.trap(function, &store, Some(e))),
            Ok(Ok(Err(e))) => Err(CallError::Adapter {
                adapter: self.id.to_string(),
                version: self.manifest.version.clone(),
                function,
                error: convert::adapter_error(e),
            }),
            Ok(Ok(Ok(value))) => {
                let value = convert(value);
                let bytes = value.output_size();
                if bytes > self.max_output_bytes {
                    return Err(self.stopped(
                        function,
                        TrapCause::OutputTooLarge {
                            bytes,
                            limit: self.max_output_bytes,
                        },
                    ));
                }
                Ok(value)
            }
        }
    }

    /// Classify a failed or timed-out (`None`) call. The store is dropped by
    /// the caller: a trapped instance is never reused.
    fn trap(
        &self,
        function: Function,
        store: &Store<CallState>,
        error: Option<wasmtime::Error>,
    ) -> CallError {
        let timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        let cause = match error {
            None => TrapCause::Deadline { timeout_ms },
            Some(e) if e.downcast_ref::<DeadlineExceeded>().is_some() => {
                TrapCause::Deadline { timeout_ms }
            }
            Some(e)
                if matches!(
                    e.downcast_ref::<wasmtime::Trap>(),
                    Some(wasmtime::Trap::Interrupt)
                ) =>
            {
                TrapCause::Deadline { timeout_ms }
            }
            Some(_) if store.data().limiter.memory_refused => TrapCause::Memory {
                limit_mb: self.memory_mb,
            },
            Some(e)
                if matches!(
                    e.downcast_ref::<wasmtime::Trap>(),
                    Some(wasmtime::Trap::UnreachableCodeReached)
                ) =>
            {
                TrapCause::Panic(panic_message(&store.data().stderr.tail()))
            }
            Some(e) => match e.downcast_ref::<wasmtime::Trap>() {
                Some(trap) => TrapCause::Other(format!("wasm trap: {trap}")),
                None => TrapCause::Other(first_line(&format!("{e:#}"))),
            },
        };
        let error = self.stopped(function, cause);
        tracing::warn!(shop = %store.data().host.shop, adapter = %self.id, version = %self.version_text, function = %function, "{error}");
        error
    }

    fn stopped(&self, function: Function, cause: TrapCause) -> CallError {
        CallError::Trap {
            adapter: self.id.to_string(),
            version: self.manifest.version.clone(),
            function,
            cause,
        }
    }
}

/// Count a finished call into the shop's metrics, when it has them:
/// latency, trap or error, and the changes `mapped` says it produced.
fn observe<T>(
    ctx: &ShopContext,
    function: Function,
    started: Instant,
    result: &Result<T, CallError>,
    mapped: impl FnOnce(&T) -> (&[crate::catalog::Change], usize),
) {
    let Some(metrics) = &ctx.metrics else {
        return;
    };
    metrics.adapter_call(function, started.elapsed(), result.as_ref().err());
    if let Ok(value) = result {
        let (changes, rejected) = mapped(value);
        metrics.mapped(changes, rejected);
    }
}

/// The panic message a Rust guest printed to stderr before aborting, as one
/// line (`panicked at src/lib.rs:3:5: boom`).
fn panic_message(stderr_tail: &str) -> String {
    let lines: Vec<&str> = stderr_tail.lines().collect();
    match lines.iter().rposition(|l| l.contains("panicked at")) {
        Some(i) => {
            let at = lines[i]
                .find("panicked at")
                .map_or(lines[i], |p| &lines[i][p..])
                .trim_end_matches(':');
            match lines.get(i + 1) {
                Some(msg) if !msg.starts_with("note:") => format!("{at}: {msg}"),
                _ => at.to_string(),
            }
        }
        None => "the adapter aborted (wasm `unreachable`)".to_string(),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_is_one_line_from_the_stderr_tail() {
        let tail = "\nthread '<unnamed>' panicked at src/lib.rs:40:24:\nboom\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(panic_message(tail), "panicked at src/lib.rs:40:24: boom");
        assert_eq!(
            panic_message(""),
            "the adapter aborted (wasm `unreachable`)"
        );
    }

    #[test]
    fn shop_context_debug_hides_secret_values() {
        let mut ctx = ShopContext::new("lagos-main");
        ctx.secrets
            .insert("webhook_key".into(), SecretString::from("hunter2"));
        let shown = format!("{ctx:?}");
        assert!(shown.contains("webhook_key"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
