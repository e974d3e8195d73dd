//! Real `snapact-host` processes for end-to-end tests and benchmarks: the
//! SnapAct sandbox, `run` and `import`, each spawned from a copy of the
//! binary (the caller passes its path, `env!("CARGO_BIN_EXE_...")`), talking
//! HTTP over 127.0.0.1 and sharing a real SQLite file. Their state is read
//! the way an operator reads it: the sandbox's `/sandbox/*` routes and the
//! outbox store.
//!
//! Every child is killed when its handle is dropped, so a failing test
//! leaves no process behind. Each process's log goes to a file in the
//! connector's directory; errors quote its end.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use snapact_host::outbox::{ShopStatus, SqliteStore, Store};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};

/// Polls `check` every `every` until it yields a value, failing after
/// `timeout` with `what` in the message. For conditions another process
/// brings about; a generous `timeout` keeps it deterministic on a loaded box.
pub async fn wait_for<T, F, Fut>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(every).await;
    }
}

/// Peak resident set size (`VmHWM`) of a live process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    format!(
        "--- {} (last {lines} lines)\n{}",
        path.display(),
        all[start..].join("\n")
    )
}

/// What `GET /sandbox/stats` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxStats {
    /// Items stored (new, changed or identical).
    pub items_upserted: u64,
    /// Upserts identical to the stored item: deliveries SnapAct saw twice.
    pub duplicates: u64,
    /// Items refused with a reason.
    pub items_rejected: u64,
    /// Requests by answer (`"200"`, `"503"`, `"dropped"`, ...).
    pub requests: BTreeMap<String, u64>,
}

impl SandboxStats {
    /// Upserts that changed something: with a catalog whose items are each
    /// sent with one content, the number of distinct items stored.
    pub fn distinct(&self) -> u64 {
        self.items_upserted.saturating_sub(self.duplicates)
    }

    fn from_json(v: &Value) -> anyhow::Result<Self> {
        let n = |key: &str| {
            v[key]
                .as_u64()
                .with_context(|| format!("/sandbox/stats has no number {key:?}: {v}"))
        };
        let requests = v["requests"]
            .as_object()
            .with_context(|| format!("/sandbox/stats has no `requests` object: {v}"))?
            .iter()
            .map(|(k, c)| (k.clone(), c.as_u64().unwrap_or(0)))
            .collect();
        Ok(SandboxStats {
            items_upserted: n("items_upserted")?,
            duplicates: n("duplicates")?,
            items_rejected: n("items_rejected")?,
            requests,
        })
    }
}

/// `snapact-host sandbox` running on a free port of 127.0.0.1.
pub struct SandboxProcess {
    child: Child,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    http: reqwest::Client,
}

impl SandboxProcess {
    /// Starts the sandbox accepting `keys` (`(tenant, key)`), with `extra`
    /// flags (fault injection), logging to `log`.
    pub async fn start(
        bin: &Path,
        keys: &[(&str, &str)],
        extra: &[&str],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let mut cmd = Command::new(bin);
        cmd.args(["sandbox", "--listen", "127.0.0.1:0"]);
        for (tenant, key) in keys {
            cmd.arg("--key").arg(format!("{tenant}={key}"));
        }
        cmd.args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(log)?)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("failed to start {} sandbox", bin.display()))?;
        let stdout = child.stdout.take().context("sandbox stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        // "SnapAct sandbox on http://127.0.0.1:PORT  (...)"
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .with_context(|| format!("the sandbox printed no address\n{}", log_tail(log, 20)))?
            .context("reading the sandbox's stdout")?
            .with_context(|| format!("the sandbox exited at start\n{}", log_tail(log, 20)))?;
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .with_context(|| format!("no URL in the sandbox's first line {first:?}"))?
            .to_owned();
        // Keep draining stdout so the sandbox never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(SandboxProcess {
            child,
            url,
            http: reqwest::Client::new(),
        })
    }

    /// Its process id (None once reaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// `GET /sandbox/stats`.
    pub async fn stats(&self) -> anyhow::Result<SandboxStats> {
        let v: Value = self.get("/sandbox/stats").await?;
        SandboxStats::from_json(&v)
    }

    /// `GET /sandbox/items?tenant=`: every stored item in wire form, ordered
    /// by `external_ref`.
    pub async fn items(&self, tenant: &str) -> anyhow::Result<Vec<Value>> {
        let v: Value = self.get(&format!("/sandbox/items?tenant={tenant}")).await?;
        match v {
            Value::Array(items) => Ok(items),
            other => bail!("/sandbox/items is not an array: {other}"),
        }
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.url);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        ensure!(
            response.status().is_success(),
            "GET {url}: {}",
            response.status()
        );
        response
            .json()
            .await
            .with_context(|| format!("GET {url}: not JSON"))
    }

    /// Stops it (SIGKILL: the sandbox keeps nothing on disk).
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// How a [`Connector`] is configured.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// The SnapAct URL (the sandbox's).
    pub snapact_url: String,
    /// The one shop's id (also its sandbox tenant).
    pub shop: String,
    /// Its Connect API key.
    pub key: String,
    /// Where installed adapter packages are (`<dir>/square/`).
    pub adapters_dir: PathBuf,
    /// The shop's adapter, `id@req`.
    pub adapter: String,
    /// The shop's settings.
    pub settings: Vec<(String, String)>,
    /// `snapact.batch_size`.
    pub batch_size: usize,
    /// `server.listen` (`127.0.0.1:0` when empty).
    pub listen: String,
    /// More keys of the shop's table, as TOML lines (POS, webhooks, poll).
    pub shop_extra: String,
    /// Environment the processes get (the secrets `shop_extra` names).
    pub env: Vec<(String, String)>,
    /// `[adapters] require_signatures`: tests run unsigned local builds,
    /// so `false` unless a test is about signatures.
    pub require_signatures: bool,
}

/// One shop's connector on disk: `snapact.toml` and the SQLite store in a
/// directory, and the binary that runs it. `run` and `import` are separate
/// processes sharing the store, as an operator runs them.
pub struct Connector {
    bin: PathBuf,
    dir: PathBuf,
    /// The config file.
    pub config_path: PathBuf,
    /// The outbox database.
    pub store_path: PathBuf,
    /// The shop.
    pub shop: String,
    key: String,
    env: Vec<(String, String)>,
    logs: std::sync::atomic::AtomicUsize,
}

/// Environment variable the config names for the shop's key.
const KEY_ENV: &str = "SNAPACT_E2E_KEY";

impl Connector {
    /// Writes the config into `dir` (which must exist).
    pub fn new(bin: &Path, dir: &Path, config: &ConnectorConfig) -> anyhow::Result<Self> {
        let store_path = dir.join("outbox.db");
        let settings = config
            .settings
            .iter()
            .map(|(k, v)| format!("{k} = {v:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "[snapact]\nbase_url = {:?}\nbatch_size = {}\n\
             [store]\npath = {:?}\n\
             [server]\nlisten = {:?}\n\
             [adapters]\ndir = {:?}\nrequire_signatures = {}\n\
             [relay]\nbackoff_base_ms = 20\nbackoff_cap_ms = 500\n\
             [[shop]]\nid = {:?}\nadapter = {:?}\nsnapact_key = {{ env = {KEY_ENV:?} }}\n\
             settings = {{ {settings} }}\n{}",
            config.snapact_url,
            config.batch_size,
            store_path.display().to_string(),
            if config.listen.is_empty() {
                "127.0.0.1:0"
            } else {
                config.listen.as_str()
            },
            config.adapters_dir.display().to_string(),
            config.require_signatures,
            config.shop,
            config.adapter,
            config.shop_extra,
        );
        let config_path = dir.join("snapact.toml");
        std::fs::write(&config_path, text)
            .with_context(|| format!("writing {}", config_path.display()))?;
        Ok(Connector {
            bin: bin.to_path_buf(),
            dir: dir.to_path_buf(),
            config_path,
            store_path,
            shop: config.shop.clone(),
            key: config.key.clone(),
            env: config.env.clone(),
            logs: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// A fresh log file name for a `what` process.
    fn next_log(&self, what: &str) -> PathBuf {
        let n = self.logs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.dir.join(format!("{n:03}-{what}.log"))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .arg("--config")
            .arg(&self.config_path)
            .env(KEY_ENV, &self.key)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Starts `snapact-host run`.
    pub fn start_run(&self) -> anyhow::Result<HostProcess> {
        let log = self.next_log("run");
        let child = self
            .command(&["run"])
            .stdout(log_file(&log)?)
            .stderr(log_file(&log)?)
            .spawn()
            .with_context(|| format!("failed to start {} run", self.bin.display()))?;
        Ok(HostProcess {
            child,
            log,
            what: "run",
        })
    }

    /// Starts `snapact-host import --shop SHOP FILE [extra]` with its
    /// standard error (progress lines and logs) readable through
    /// [`Import::next_progress`].
    pub fn start_import(&self, file: &Path, extra: &[&str]) -> anyhow::Result<Import> {
        let log = self.next_log("import");
        let mut child = self
            .command(&["import", "--shop", &self.shop])
            .arg(file)
            .args(extra)
            .stdout(log_file(&log)?)
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("failed to start {} import", self.bin.display()))?;
        let stderr = child.stderr.take().context("import stderr")?;
        Ok(Import {
            process: HostProcess {
                child,
                log,
                what: "import",
            },
            stderr: BufReader::new(stderr).lines(),
            seen: Vec::new(),
        })
    }

    /// Runs `snapact-host import` to the end and returns its standard output
    /// (the summary); fails with its output when it exits non-zero.
    pub async fn import(&self, file: &Path, extra: &[&str]) -> anyhow::Result<String> {
        let mut import = self.start_import(file, extra)?;
        let status = import.wait().await?;
        let stdout = std::fs::read_to_string(&import.process.log).unwrap_or_default();
        ensure!(
            status.success(),
            "import exited with {status}\nstdout:\n{stdout}\nstderr:\n{}",
            import.seen.join("\n")
        );
        Ok(stdout)
    }

    /// The outbox, opened as `snapact-host outbox status` opens it (another
    /// process may be writing it).
    pub fn open_store(&self) -> anyhow::Result<SqliteStore> {
        SqliteStore::open(&self.store_path)
            .with_context(|| format!("opening {}", self.store_path.display()))
    }

    /// The shop's outbox status.
    pub async fn status(store: &SqliteStore, shop: &str) -> anyhow::Result<ShopStatus> {
        Ok(store
            .status(Some(shop))
            .await?
            .into_iter()
            .next()
            .unwrap_or_else(|| ShopStatus::empty(shop)))
    }
}

/// A running `snapact-host` process.
pub struct HostProcess {
    child: Child,
    /// Its log file.
    pub log: PathBuf,
    what: &'static str,
}

impl HostProcess {
    /// Its process id (None once reaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Fails (with its log) if it has already exited.
    pub fn ensure_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "snapact-host {} exited by itself with {status}\n{}",
                self.what,
                log_tail(&self.log, 30)
            );
        }
        Ok(())
    }

    /// `kill -9`: fails unless it was still running and died of SIGKILL.
    pub async fn kill9(mut self) -> anyhow::Result<()> {
        self.ensure_alive()?;
        self.child.start_kill().context("sending SIGKILL")?;
        let status = self.child.wait().await?;
        ensure!(
            killed_by_sigkill(status),
            "snapact-host {} ended with {status}, not by SIGKILL\n{}",
            self.what,
            log_tail(&self.log, 30)
        );
        Ok(())
    }
}

#[cfg(unix)]
fn killed_by_sigkill(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9)
}

#[cfg(not(unix))]
fn killed_by_sigkill(status: ExitStatus) -> bool {
    !status.success()
}

/// A running `snapact-host import`.
pub struct Import {
    /// The process.
    pub process: HostProcess,
    stderr: tokio::io::Lines<BufReader<ChildStderr>>,
    /// Every standard error line read so far.
    pub seen: Vec<String>,
}

impl Import {
    /// The next progress line, `written DONE/TOTAL changes`, as
    /// `(done, total)`; `None` when standard error closed (the import ended).
    pub async fn next_progress(&mut self) -> anyhow::Result<Option<(usize, usize)>> {
        while let Some(line) = self.stderr.next_line().await? {
            self.seen.push(line.clone());
            if let Some(p) = parse_progress(&line) {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// Reads the rest of its standard error and waits for it to exit.
    pub async fn wait(&mut self) -> anyhow::Result<ExitStatus> {
        while self.next_progress().await?.is_some() {}
        Ok(self.process.child.wait().await?)
    }
}

fn parse_progress(line: &str) -> Option<(usize, usize)> {
    let rest = line.strip_prefix("written ")?;
    let (fraction, _) = rest.split_once(' ')?;
    let (done, total) = fraction.split_once('/')?;
    Some((done.parse().ok()?, total.parse().ok()?))
}

fn log_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_parse() {
        assert_eq!(
            parse_progress("written 5000/10000 changes"),
            Some((5000, 10000))
        );
        assert_eq!(parse_progress("2026-01-01 INFO adapter loaded"), None);
    }
}
