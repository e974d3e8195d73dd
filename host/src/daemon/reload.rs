//! Hot reload: the adapters folder is watched while the daemon runs; a new
//! or changed package a shop may use is opened, verified, compiled and
//! swapped in atomically.
//!
//! - Each shop holds its adapter in an [`AdapterSlot`]. A call takes the
//!   current `Arc<LoadedAdapter>` and keeps it until it returns, so calls in
//!   flight finish on the old version while new calls get the new one.
//! - A package that fails to open, verify or compile is refused with one
//!   log line naming the shop, the package and why; the old version keeps
//!   serving.
//! - The watcher compares a cheap fingerprint of the folders the shops'
//!   adapters live in (names, sizes, modification times) every tick and
//!   acts only once a change has been stable for a whole tick, so a package
//!   being copied in is not read half-written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::Shop;
use crate::config::AdapterSpec;
use crate::registry::index::Status;
use crate::registry::{Package, RegistrySource};
use crate::runtime::{CallError, Function, LoadedAdapter, Runtime};

/// The adapter a shop calls now; swapped by the watcher.
pub struct AdapterSlot {
    state: RwLock<SlotState>,
}

struct SlotState {
    adapter: Arc<LoadedAdapter>,
    /// Set while the current version must not run (revoked) and nothing
    /// replaces it yet: why, and what to do.
    withdrawn: Option<Arc<str>>,
}

impl AdapterSlot {
    /// A slot serving `adapter`.
    pub fn new(adapter: Arc<LoadedAdapter>) -> Self {
        AdapterSlot {
            state: RwLock::new(SlotState {
                adapter,
                withdrawn: None,
            }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, SlotState> {
        // A panic while holding the lock cannot leave the state half
        // written (each write is one assignment): keep serving.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, SlotState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The version loaded last (also while withdrawn: for names in logs).
    pub fn current(&self) -> Arc<LoadedAdapter> {
        Arc::clone(&self.read().adapter)
    }

    /// The adapter to call `function` on, or why it must not be called.
    pub fn usable(&self, function: Function) -> Result<Arc<LoadedAdapter>, CallError> {
        let state = self.read();
        match &state.withdrawn {
            None => Ok(Arc::clone(&state.adapter)),
            Some(reason) => Err(CallError::Withdrawn {
                adapter: state.adapter.id().to_string(),
                version: state.adapter.version().clone(),
                function,
                reason: reason.to_string(),
            }),
        }
    }

    /// Serve `adapter` from now on; returns the version it replaces.
    pub fn replace(&self, adapter: Arc<LoadedAdapter>) -> Arc<LoadedAdapter> {
        let mut state = self.write();
        state.withdrawn = None;
        std::mem::replace(&mut state.adapter, adapter)
    }

    /// Stop calling the current version (it was revoked): calls fail with
    /// [`CallError::Withdrawn`] until [`AdapterSlot::replace`].
    pub fn withdraw(&self, reason: String) {
        self.write().withdrawn = Some(reason.into());
    }

    /// Why the current version is withdrawn, if it is.
    pub fn withdrawn(&self) -> Option<Arc<str>> {
        self.read().withdrawn.clone()
    }
}

/// Finds the package a shop's adapter spec selects (signature and
/// revocation checks included).
pub type Resolver = Arc<dyn Fn(&AdapterSpec) -> anyhow::Result<Package> + Send + Sync>;

/// Tells whether an installed version must not run, and why (with the
/// version to move to).
pub type RevocationCheck = Arc<dyn Fn(&str, &semver::Version) -> Option<String> + Send + Sync>;

/// How often `run` fetches the registry's index for revocations, when
/// `[adapters] registry` is set.
pub const REGISTRY_REFRESH: Duration = Duration::from_secs(600);

/// What the watcher needs.
pub struct WatchConfig {
    /// The adapters folder.
    pub dir: PathBuf,
    /// How often to look.
    pub every: Duration,
    /// The registry whose index (yanked and revoked versions) is fetched
    /// into `<dir>/.registry/index.json`, and how often.
    pub refresh: Option<(RegistrySource, Duration)>,
    /// Selects each shop's package.
    pub resolve: Resolver,
    /// Whether a running version was revoked since it was loaded.
    pub revoked: RevocationCheck,
}

/// The running watcher.
pub struct Watcher {
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
    reloads: watch::Receiver<u64>,
}

impl Watcher {
    /// Start watching for the packages of `shops`.
    pub fn spawn(config: WatchConfig, runtime: Runtime, shops: Vec<Arc<Shop>>) -> Watcher {
        let (stop, stop_rx) = watch::channel(false);
        let (done_tx, reloads) = watch::channel(0);
        let task = tokio::spawn(watch_loop(config, runtime, shops, stop_rx, done_tx));
        Watcher {
            task,
            stop,
            reloads,
        }
    }

    /// Completes after the next scan that acted on a change (tests, tools).
    pub fn scans(&self) -> watch::Receiver<u64> {
        self.reloads.clone()
    }

    /// Stop watching.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            error!("the adapter watcher task failed: {e}");
        }
    }
}

/// Names, sizes and modification times of everything that decides which
/// package a shop gets: the folders of the shops' adapter ids (two levels:
/// `<id>/adapter.*` and `<id>/<version>/adapter.*`) and the registry index
/// kept for revocations.
type Fingerprint = BTreeMap<PathBuf, (u64, Option<SystemTime>)>;

fn fingerprint(dir: &Path, ids: &[String]) -> Fingerprint {
    fn walk(path: &Path, depth: usize, out: &mut Fingerprint) {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            out.insert(p.clone(), (meta.len(), meta.modified().ok()));
            if meta.is_dir() && depth > 0 {
                walk(&p, depth - 1, out);
            }
        }
    }
    let mut out = Fingerprint::new();
    for id in ids {
        let root = dir.join(id);
        if let Ok(meta) = std::fs::metadata(&root) {
            out.insert(root.clone(), (meta.len(), meta.modified().ok()));
        }
        walk(&root, 2, &mut out);
    }
    let index = dir.join(".registry").join("index.json");
    if let Ok(meta) = std::fs::metadata(&index) {
        out.insert(index, (meta.len(), meta.modified().ok()));
    }
    out
}

async fn watch_loop(
    config: WatchConfig,
    runtime: Runtime,
    shops: Vec<Arc<Shop>>,
    mut stop: watch::Receiver<bool>,
    done: watch::Sender<u64>,
) {
    let mut ids: Vec<String> = shops.iter().map(|s| s.config.adapter.id.clone()).collect();
    ids.sort();
    ids.dedup();
    let config = Arc::new(config);
    let snapshot = {
        let (dir, ids) = (config.dir.clone(), ids.clone());
        move || fingerprint(&dir, &ids)
    };
    let mut applied = match tokio::task::spawn_blocking(snapshot.clone()).await {
        Ok(f) => f,
        Err(e) => {
            error!("the adapter watcher could not start: {e}");
            return;
        }
    };
    let mut last_seen = applied.clone();
    let mut ticker = tokio::time::interval(config.every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut scans = 0u64;
    // The first refresh is right away: a revocation published while the
    // host was down takes effect at start.
    let mut refresh = config
        .refresh
        .as_ref()
        .map(|(_, every)| tokio::time::interval(*every));
    loop {
        let refresh_tick = async {
            match refresh.as_mut() {
                Some(r) => {
                    r.tick().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = ticker.tick() => {}
            () = refresh_tick => {
                if let Some((source, _)) = &config.refresh {
                    refresh_index(&config.dir, source).await;
                }
                continue;
            }
            () = stopped(&mut stop) => return,
        }
        let now = match tokio::task::spawn_blocking(snapshot.clone()).await {
            Ok(f) => f,
            Err(e) => {
                error!(
                    "the adapter watcher failed to read {}: {e}",
                    config.dir.display()
                );
                continue;
            }
        };
        // Act on a change once it has held still for a whole tick.
        let stable = now == last_seen;
        last_seen = now;
        if !stable || last_seen == applied {
            continue;
        }
        applied = last_seen.clone();
        reload(&config, &runtime, &shops).await;
        scans += 1;
        let _ = done.send(scans);
    }
}

/// Completes when the daemon stops (holding no lock guard across awaits).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Fetch the registry's index into the adapters folder (the watcher then
/// sees a changed `.registry/index.json`). Offline is fine: the last index
/// fetched stays in force.
async fn refresh_index(dir: &Path, source: &RegistrySource) {
    match crate::registry::refresh_index(dir, source).await {
        Ok(_) => tracing::debug!(registry = %source, "registry index refreshed"),
        Err(e) => warn!(
            registry = %source,
            "could not refresh the registry index (the last one fetched stays in force): {e}"
        ),
    }
}

/// Why `id@version` must not run, from the registry index kept in `dir`
/// (`None`: it may run, or no index was fetched).
pub fn revoked_in_cached_index(dir: &Path, id: &str, version: &semver::Version) -> Option<String> {
    let index = crate::registry::installed::load_cached_index(dir).ok()??;
    let entry = index.entry(id, version)?;
    if entry.status != Status::Revoked {
        return None;
    }
    let why = entry.reason.as_deref().unwrap_or("no reason given");
    Some(match index.replacement_for(id, version) {
        Some(to) => format!(
            "revoked by the registry: {why}; install {id}@{to} with `snapact-host adapter install {id}@={to}`"
        ),
        None => format!("revoked by the registry: {why}; the registry lists no replacement"),
    })
}

/// Re-resolve every shop's adapter and swap in what changed.
async fn reload(config: &Arc<WatchConfig>, runtime: &Runtime, shops: &[Arc<Shop>]) {
    // Shops sharing a spec share one resolution and one loaded adapter.
    let mut by_spec: BTreeMap<String, Vec<&Arc<Shop>>> = BTreeMap::new();
    for shop in shops {
        by_spec
            .entry(shop.config.adapter.to_string())
            .or_default()
            .push(shop);
    }
    let mut loaded: BTreeMap<(String, String), Arc<LoadedAdapter>> = BTreeMap::new();
    for shops in by_spec.into_values() {
        let spec = shops[0].config.adapter.clone();
        let resolve = {
            let config = Arc::clone(config);
            let spec = spec.clone();
            move || (config.resolve)(&spec)
        };
        let resolved = match tokio::task::spawn_blocking(resolve).await {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("the package check task failed: {e}")),
        };
        let package = match resolved {
            Ok(p) => p,
            Err(e) => {
                for shop in &shops {
                    keep_or_withdraw(config, shop, &format!("{e:#}"));
                }
                continue;
            }
        };
        let key = (package.manifest().version.to_string(), package.digest_hex());
        let unchanged = |shop: &Arc<Shop>| {
            let current = shop.adapter.current();
            current.version() == &package.manifest().version
                && current.digest() == package.digest_hex()
                && shop.adapter.withdrawn().is_none()
        };
        if shops.iter().all(|s| unchanged(s)) {
            continue;
        }
        let adapter = match loaded.get(&key) {
            Some(a) => Arc::clone(a),
            None => {
                let rt = runtime.clone();
                let pkg = package.clone();
                match tokio::task::spawn_blocking(move || rt.load(&pkg)).await {
                    Ok(Ok(a)) => {
                        loaded.insert(key, Arc::clone(&a));
                        a
                    }
                    Ok(Err(e)) => {
                        for shop in &shops {
                            keep_or_withdraw(config, shop, &e.to_string());
                        }
                        continue;
                    }
                    Err(e) => {
                        error!(adapter = %spec.id, "the adapter loading task failed: {e}");
                        continue;
                    }
                }
            }
        };
        for shop in shops {
            if unchanged(shop) {
                continue;
            }
            let old = shop.adapter.replace(Arc::clone(&adapter));
            info!(
                shop = %shop.config.id,
                adapter = %adapter.id(),
                from = %old.version(),
                to = %adapter.version(),
                digest = %&adapter.digest()[..12],
                "adapter reloaded: new calls use {}@{}; calls in flight finish on {}",
                adapter.id(),
                adapter.version(),
                old.version()
            );
        }
    }
}

/// A shop's new package was refused: the current version keeps serving,
/// unless it was revoked, in which case it stops being called.
fn keep_or_withdraw(config: &WatchConfig, shop: &Arc<Shop>, why: &str) {
    let current = shop.adapter.current();
    if let Some(revoked) = (config.revoked)(current.id(), current.version()) {
        if shop.adapter.withdrawn().is_none() {
            error!(
                shop = %shop.config.id,
                adapter = %current.id(),
                version = %current.version(),
                "adapter {}@{} was revoked and no version the shop may use replaces it: \
                 calls stop until one is installed ({revoked}); also: {why}",
                current.id(),
                current.version()
            );
            shop.adapter.withdraw(format!(
                "{}@{} is {revoked}",
                current.id(),
                current.version()
            ));
        }
        return;
    }
    warn!(
        shop = %shop.config.id,
        adapter = %current.id(),
        version = %current.version(),
        "a changed adapter package was refused; {}@{} keeps serving: {why}",
        current.id(),
        current.version()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_sees_new_versions_and_changed_files_of_watched_ids_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let square = dir.path().join("square");
        std::fs::create_dir_all(square.join("1.0.0")).expect("mkdir");
        std::fs::write(square.join("1.0.0").join("adapter.toml"), "a").expect("write");
        std::fs::create_dir_all(dir.path().join("clover")).expect("mkdir");
        let ids = vec!["square".to_string()];
        let first = fingerprint(dir.path(), &ids);
        assert_eq!(
            first,
            fingerprint(dir.path(), &ids),
            "stable when nothing changes"
        );

        std::fs::write(dir.path().join("clover").join("adapter.toml"), "x").expect("write");
        assert_eq!(
            first,
            fingerprint(dir.path(), &ids),
            "other adapters are not watched"
        );

        std::fs::write(square.join("1.0.0").join("adapter.toml"), "ab").expect("write");
        let second = fingerprint(dir.path(), &ids);
        assert_ne!(first, second, "a changed file");

        std::fs::create_dir_all(square.join("1.1.0")).expect("mkdir");
        let third = fingerprint(dir.path(), &ids);
        assert_ne!(second, third, "a new version folder");

        std::fs::create_dir_all(dir.path().join(".registry")).expect("mkdir");
        std::fs::write(dir.path().join(".registry").join("index.json"), "{}").expect("write");
        assert_ne!(third, fingerprint(dir.path(), &ids), "the registry index");
    }
}
