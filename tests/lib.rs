//! Helpers for the integration tests: build the test adapters once per test
//! run, a runtime to load them into, and a fake POS transport.
//!
//! Adapters are built with the same code the CLI uses
//! (`registry::build::build_rust_adapter`) into `target/test-adapters/`.
//! Within the test binary a mutex makes each adapter build once; across
//! processes (several test binaries or runners at once) a lock file does.
//!
//! [`catalogs`] generates vendor catalogs of any size with what SnapAct must
//! end up holding; [`processes`] drives real `snapact-host` processes.

pub mod catalogs;
pub mod processes;

use snapact_host::pos::{PosFuture, PosRequest, PosResponse, PosTransport};
use snapact_host::registry::{Package, build};
use snapact_host::runtime::{LoadedAdapter, Runtime, RuntimeConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub mod fake_square;

/// Everything the host logged in this test process since the first
/// [`capture_logs`], at debug level and above (both formats' content).
static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Route every log line of this test process (all tests, all threads) into
/// a buffer, from now on. Idempotent. Tests that handle secrets call it
/// first and [`assert_logs_hold_no_secret`] last.
pub fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = LogSink(Arc::clone(&buffer));
        let installed = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "debug,wasmtime=warn,cranelift=warn,cranelift_codegen=warn,hyper=info,h2=info,reqwest=debug,rustls=info",
            ))
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .try_init();
        assert!(
            installed.is_ok(),
            "another tracing subscriber was installed first; logs would escape the check"
        );
        buffer
    });
}

/// Everything captured so far.
pub fn captured_logs() -> String {
    let buffer = LOGS.get().expect("capture_logs() was called");
    String::from_utf8_lossy(&buffer.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

/// Fails if any of `secrets` appears in any log line captured so far (by
/// any test in this process), and if nothing at all was captured (the
/// check would be vacuous).
pub fn assert_logs_hold_no_secret(secrets: &[&str]) {
    assert_holds_no_secret("the logs", &captured_logs(), secrets);
}

/// Fails if any of `secrets` appears in `text` (what an operator sees:
/// logs, `/metrics`, `status` output), quoting the line with the secret
/// masked; also fails on empty `text`, where the check would prove nothing.
pub fn assert_holds_no_secret(what: &str, text: &str, secrets: &[&str]) {
    assert!(
        !text.is_empty(),
        "{what} are empty: the check would prove nothing"
    );
    for secret in secrets {
        if let Some(at) = text.find(secret) {
            let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
            panic!(
                "a secret value appears in {what}: {}",
                &text[start..end].replace(secret, "<SECRET>")
            );
        }
    }
}

/// `tests/fixtures/`: vendor payloads with their sources.
pub fn fixtures_dir() -> PathBuf {
    workspace_root().join("tests").join("fixtures")
}

/// The workspace's Cargo target directory (`CARGO_TARGET_DIR`, else `target/`).
pub fn target_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    if target.is_relative() {
        workspace_root().join(target)
    } else {
        target
    }
}

/// Where test adapter packages are written.
pub fn test_adapters_dir() -> PathBuf {
    target_dir().join("test-adapters")
}

/// Build the adapter crate at `crate_dir` (relative to the workspace root)
/// once per test run, and return its package folder.
pub fn build_adapter(crate_dir: &str) -> PathBuf {
    // Every test that runs an adapter has its host logs checked for secrets.
    capture_logs();
    static BUILT: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Mutex::default);
    let mut built = built
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(dir) = built.get(crate_dir) {
        return dir.clone();
    }
    let out = test_adapters_dir();
    std::fs::create_dir_all(&out).expect("create target/test-adapters");
    let lock = std::fs::File::create(out.join(".build.lock")).expect("create the build lock file");
    lock.lock().expect("take the build lock");
    let package = build::build_adapter(&workspace_root().join(crate_dir), &out)
        .unwrap_or_else(|e| panic!("building {crate_dir} failed: {e:#}"));
    // Dropping the file releases the lock.
    drop(lock);
    built.insert(crate_dir.to_string(), package.clone());
    package
}

/// The hostile test adapter's package, built once.
pub fn hostile_package() -> Package {
    let dir = build_adapter("tests/adapters/hostile");
    Package::open(&dir).unwrap_or_else(|e| panic!("opening {}: {e}", dir.display()))
}

/// A POS transport that answers 200 `{}` and records what it was asked.
#[derive(Default)]
pub struct RecordingPos {
    /// Requests received, in order.
    pub requests: Mutex<Vec<PosRequest>>,
}

impl RecordingPos {
    /// A new transport behind an `Arc`, as `ShopContext` holds it.
    pub fn new() -> Arc<Self> {
        Arc::new(RecordingPos::default())
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<PosRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl PosTransport for RecordingPos {
    fn send(&self, req: PosRequest) -> PosFuture<'_> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(req);
        Box::pin(async {
            Ok(PosResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: b"{}".to_vec(),
            })
        })
    }
}

/// Every adapter source folder under `adapters/` (one holding `adapter.toml`), sorted.
pub fn adapter_dirs() -> Vec<PathBuf> {
    let root = workspace_root().join("adapters");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("adapter.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// One runtime for the whole test process, caching compiled code under
/// `target/test-adapters/.cache` so Python and JavaScript components compile
/// once per machine, not once per test.
pub fn shared_runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::new(RuntimeConfig {
            cache_dir: Some(test_adapters_dir().join(".cache")),
            ..RuntimeConfig::default()
        })
        .expect("start the Wasm runtime")
    })
}

/// Build (once) and load (once) the adapter whose source is `dir`.
pub fn load_adapter(dir: &Path) -> Arc<LoadedAdapter> {
    static LOADED: OnceLock<Mutex<BTreeMap<PathBuf, Arc<LoadedAdapter>>>> = OnceLock::new();
    let loaded = LOADED.get_or_init(Mutex::default);
    if let Some(a) = loaded
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(dir)
    {
        return a.clone();
    }
    let rel = dir.strip_prefix(workspace_root()).unwrap_or(dir);
    let pkg_dir = build_adapter(&rel.to_string_lossy());
    let pkg =
        Package::open(&pkg_dir).unwrap_or_else(|e| panic!("opening {}: {e}", pkg_dir.display()));
    let adapter = shared_runtime()
        .load(&pkg)
        .unwrap_or_else(|e| panic!("loading {}: {e}", pkg_dir.display()));
    loaded
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(dir.to_path_buf(), adapter.clone());
    adapter
}

/// Run a future to completion on a small runtime of its own.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a tokio runtime")
        .block_on(f)
}
