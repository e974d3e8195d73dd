//! `snapact.toml`: raw TOML (unknown keys are errors) validated into a
//! [`Config`] with every secret resolved and every reference checked.
//!
//! Precedence: command-line flag > `SNAPACT_*` environment > file > default.
//! Secrets are only ever references (`{ env = "NAME" }` or `{ file = "PATH" }`);
//! their values live in [`SecretString`]s and never reach `Debug`, logs or adapters.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// A configuration problem, naming the key and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why: part of the message, and so not also a `source` (which
        /// `{:#}` would print a second time).
        error: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// toml's message, with line and key.
        message: String,
    },
    /// A value is invalid.
    #[error("{key}: {message}")]
    Invalid {
        /// Dotted key, e.g. `shop[lagos-main].pos_base_url`.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// Where a secret comes from. Never the value itself.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum SecretRef {
    /// An environment variable's value.
    Env(String),
    /// A file's content, without the trailing newline.
    File(PathBuf),
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "environment variable {name}"),
            SecretRef::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

impl SecretRef {
    /// Read the secret. `key` names the config key for the error.
    pub fn resolve(&self, key: &str, env: &dyn Env) -> Result<SecretString, ConfigError> {
        let value = match self {
            SecretRef::Env(name) => env.var(name).ok_or_else(|| {
                invalid(
                    key,
                    format!("environment variable {name} is not set: export it, or point `{key}` at a file with {{ file = \"...\" }}"),
                )
            })?,
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map_err(|e| invalid(key, format!("cannot read secret file {}: {e}", path.display())))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        };
        if value.is_empty() {
            return Err(invalid(key, format!("the secret in {self} is empty")));
        }
        Ok(SecretString::from(value))
    }
}

/// The process environment, injectable for tests.
pub trait Env {
    /// A variable's value.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

// ---------- raw, as written ----------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    snapact: RawSnapact,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    adapters: RawAdapters,
    #[serde(default)]
    relay: RawRelay,
    #[serde(default)]
    shop: Vec<RawShop>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSnapact {
    base_url: Option<String>,
    batch_size: Option<usize>,
    timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    public_url: Option<String>,
    max_body_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdapters {
    dir: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    max_memory_mb: Option<u64>,
    max_timeout_ms: Option<u64>,
    max_output_mb: Option<u64>,
    watch: Option<String>,
    require_signatures: Option<bool>,
    trusted_keys: Option<Vec<toml::Value>>,
    registry: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelay {
    backoff_base_ms: Option<u64>,
    backoff_cap_ms: Option<u64>,
    max_age_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShop {
    id: String,
    adapter: String,
    snapact_key: SecretRef,
    webhook_secret: Option<WebhookSecrets>,
    pos_base_url: Option<String>,
    pos_auth: Option<RawPosAuth>,
    #[serde(default)]
    allow_insecure_http: bool,
    pos_limits: Option<RawPosLimits>,
    #[serde(default)]
    secrets: BTreeMap<String, SecretRef>,
    #[serde(default)]
    settings: BTreeMap<String, String>,
    poll: Option<RawPoll>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoll {
    every: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPosLimits {
    requests_per_sec: Option<f64>,
    burst: Option<u32>,
    concurrency: Option<u32>,
    timeout_ms: Option<u64>,
    max_response_mb: Option<u64>,
}

/// One webhook secret, or several during rotation.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum WebhookSecrets {
    One(SecretRef),
    Many(Vec<SecretRef>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum RawPosAuth {
    Bearer(SecretRef),
    Basic {
        username: String,
        password: SecretRef,
    },
    Header {
        name: String,
        value: SecretRef,
    },
}

// ---------- validated ----------

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// SnapAct Connect.
    pub snapact: SnapactConfig,
    /// The durable store.
    pub store_path: PathBuf,
    /// The HTTP server (webhooks, health, metrics).
    pub server: ServerConfig,
    /// Where adapters come from and how far they may go.
    pub adapters: AdaptersConfig,
    /// Delivery retries.
    pub relay: RelayConfig,
    /// The shops this host serves.
    pub shops: Vec<ShopConfig>,
}

/// SnapAct Connect settings.
#[derive(Debug, Clone)]
pub struct SnapactConfig {
    /// Base URL, e.g. `https://connect.snapact.io`.
    pub base_url: String,
    /// Items per upsert request.
    pub batch_size: usize,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// HTTP server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// The public base URL POS vendors post webhooks to (for signature checks).
    pub public_url: Option<String>,
    /// Largest webhook body accepted.
    pub max_body_bytes: usize,
}

/// Adapter loading settings.
#[derive(Debug, Clone)]
pub struct AdaptersConfig {
    /// Installed packages: `<dir>/<id>/<version>/` and local builds in
    /// `<dir>/<id>/` (see [`crate::registry::installed`]).
    pub dir: PathBuf,
    /// Compiled-code cache.
    pub cache_dir: PathBuf,
    /// Caps on what a manifest may request.
    pub max_memory_mb: u64,
    /// Cap on a manifest's call timeout.
    pub max_timeout_ms: u64,
    /// Cap on one call's result.
    pub max_output_bytes: usize,
    /// How often `run` looks for new or changed packages (hot reload);
    /// `None` with `watch = "off"`.
    pub watch_every: Option<Duration>,
    /// Which publishers are trusted, and whether packages must be signed
    /// (`require_signatures`, default on; `trusted_keys`).
    pub trust: crate::registry::TrustPolicy,
    /// The registry `adapter install` and `adapter refresh` use when no
    /// `--registry` is given.
    pub registry: Option<crate::registry::RegistrySource>,
}

/// Retry policy for deliveries.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// First backoff step.
    pub backoff_base: Duration,
    /// Largest backoff step.
    pub backoff_cap: Duration,
    /// A change still undelivered after this long is parked.
    pub max_age: Duration,
}

/// Which adapter a shop uses: an id and a version requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSpec {
    /// Adapter id (`square`).
    pub id: String,
    /// `*` when the shop does not pin a version.
    pub version: semver::VersionReq,
}

impl std::str::FromStr for AdapterSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (id, req) = match s.split_once('@') {
            Some((id, req)) => (id, req),
            None => (s, "*"),
        };
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!(
                "adapter id {id:?} must be lower-case letters, digits and '-' (e.g. \"square\" or \"square@^1\")"
            ));
        }
        let version = semver::VersionReq::parse(req)
            .map_err(|e| format!("version requirement {req:?} is not valid semver: {e}"))?;
        Ok(AdapterSpec {
            id: id.to_string(),
            version,
        })
    }
}

impl fmt::Display for AdapterSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.version == semver::VersionReq::STAR {
            write!(f, "{}", self.id)
        } else {
            write!(f, "{}@{}", self.id, self.version)
        }
    }
}

/// How the host authenticates to a shop's POS.
#[derive(Debug, Clone)]
pub enum PosAuth {
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
    /// HTTP basic auth.
    Basic {
        /// User name (not secret).
        username: String,
        /// Password.
        password: SecretString,
    },
    /// A named header (`X-Api-Key: <value>`).
    Header {
        /// Header name.
        name: String,
        /// Header value.
        value: SecretString,
    },
}

/// How hard the host may drive one shop's POS on its adapter's behalf
/// (`[[shop]] pos_limits`). Retries count against the rate and the
/// concurrency like first attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PosLimits {
    /// Sustained requests per second (`requests_per_sec`, may be below 1).
    pub requests_per_sec: f64,
    /// Requests that may go at once after a quiet spell (`burst`).
    pub burst: u32,
    /// Requests in flight at once (`concurrency`).
    pub concurrency: usize,
    /// Limit for one attempt, answer included (`timeout_ms`); also the
    /// longest a request waits for the rate or concurrency limit.
    pub timeout: Duration,
    /// Largest response body accepted (`max_response_mb`).
    pub max_response_bytes: u64,
}

impl Default for PosLimits {
    /// 10 requests/s, bursts of 20, 4 in flight, 15 s, 16 MiB.
    fn default() -> Self {
        PosLimits {
            requests_per_sec: 10.0,
            burst: 20,
            concurrency: 4,
            timeout: Duration::from_secs(15),
            max_response_bytes: 16 << 20,
        }
    }
}

/// One shop.
#[derive(Debug, Clone)]
pub struct ShopConfig {
    /// Unique id, used in URLs and logs.
    pub id: String,
    /// The adapter it uses.
    pub adapter: AdapterSpec,
    /// Its SnapAct Connect API key.
    pub snapact_key: SecretString,
    /// Secrets SnapAct signs this shop's webhooks with (several during rotation).
    pub webhook_secrets: Vec<SecretString>,
    /// POS API base URL for `pos-http`.
    pub pos_base_url: Option<String>,
    /// POS credentials the host injects.
    pub pos_auth: Option<PosAuth>,
    /// Allow a plain `http://` POS URL on this machine (loopback only:
    /// tests against a local fake POS).
    pub allow_insecure_http: bool,
    /// Rate, concurrency, timeout and size limits on POS calls.
    pub pos_limits: PosLimits,
    /// Named secrets adapters may verify with (never read).
    pub secrets: BTreeMap<String, SecretString>,
    /// Non-secret settings adapters may read.
    pub settings: BTreeMap<String, String>,
    /// Poll the POS through the adapter this often (`poll = { every = "5m" }`).
    pub poll_every: Option<Duration>,
}

/// Overrides from the command line; they win over env and file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--store`.
    pub store_path: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<String>,
    /// `--adapters-dir`.
    pub adapters_dir: Option<PathBuf>,
    /// `--snapact-url`.
    pub snapact_base_url: Option<String>,
}

impl Config {
    /// Read and validate a config file.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_toml(&text, &path.display().to_string(), overrides, &ProcessEnv)
    }

    /// Validate config text; `origin` names it in errors.
    pub fn from_toml(
        text: &str,
        origin: &str,
        overrides: &Overrides,
        env: &dyn Env,
    ) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        validate(raw, overrides, env)
    }

    /// A shop by id.
    pub fn shop(&self, id: &str) -> Option<&ShopConfig> {
        self.shops.iter().find(|s| s.id == id)
    }
}

fn pick<T: Clone>(flag: Option<T>, env: Option<T>, file: Option<T>, default: T) -> T {
    flag.or(env).or(file).unwrap_or(default)
}

fn check_url(key: &str, url: &str, allow_http: bool) -> Result<String, ConfigError> {
    let lower = url.to_ascii_lowercase();
    let ok = lower.starts_with("https://") || (allow_http && lower.starts_with("http://"));
    if !ok {
        let hint = if allow_http {
            "it must start with http:// or https://"
        } else {
            "it must start with https:// (plain http is allowed only with allow_insecure_http = true, for local tests)"
        };
        return Err(invalid(key, format!("{url:?} is not a usable URL: {hint}")));
    }
    let rest = &url[url.find("://").map_or(0, |i| i + 3)..];
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid(key, format!("{url:?} has no host")));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// `"90s"`, `"5m"`, `"1h"`: a poll interval, at least one second.
fn parse_interval(key: &str, text: &str) -> Result<Duration, ConfigError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| {
        invalid(
            key,
            format!("{text:?} is not an interval such as \"30s\", \"5m\" or \"1h\""),
        )
    })?;
    let secs = match unit.trim() {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    }
    .ok_or_else(|| {
        invalid(
            key,
            format!("{text:?} is not an interval such as \"30s\", \"5m\" or \"1h\""),
        )
    })?;
    if secs == 0 {
        return Err(invalid(key, "the interval must be at least 1s"));
    }
    Ok(Duration::from_secs(secs))
}

/// A shop's POS base URL: https, or plain http to this machine when the
/// shop allows it; no credentials, query or fragment in it.
fn check_pos_url(key: &str, url: &str, allow_http: bool) -> Result<String, ConfigError> {
    let checked = check_url(key, url, allow_http)?;
    let parsed = url::Url::parse(&checked)
        .map_err(|e| invalid(key, format!("{url:?} is not a URL: {e}")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            key,
            "the URL carries a user name or password: put the POS credentials in pos_auth",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid(
            key,
            format!("{url:?} has a query or fragment: give the POS API's base URL only"),
        ));
    }
    if parsed.scheme() == "http" && !crate::pos::is_loopback(&parsed) {
        return Err(invalid(
            key,
            format!(
                "{url:?}: plain http is allowed only to this machine (localhost, 127.0.0.1, [::1]), \
                 for tests against a local POS; use https"
            ),
        ));
    }
    Ok(checked)
}

/// Validate `[[shop]] pos_limits`; `key` names a field for errors.
fn pos_limits(raw: RawPosLimits, key: impl Fn(&str) -> String) -> Result<PosLimits, ConfigError> {
    let d = PosLimits::default();
    let rate = raw.requests_per_sec.unwrap_or(d.requests_per_sec);
    if !(rate.is_finite() && rate > 0.0 && rate <= 10_000.0) {
        return Err(invalid(
            key("requests_per_sec"),
            format!(
                "{rate} is out of range: give requests per second above 0 and at most 10000 (e.g. 0.5 or 10)"
            ),
        ));
    }
    let burst = raw.burst.unwrap_or(d.burst);
    if !(1..=10_000).contains(&burst) {
        return Err(invalid(
            key("burst"),
            format!("{burst} is out of range 1..=10000"),
        ));
    }
    let concurrency = raw
        .concurrency
        .map_or(d.concurrency, |n| usize::try_from(n).unwrap_or(usize::MAX));
    if !(1..=256).contains(&concurrency) {
        return Err(invalid(
            key("concurrency"),
            format!("{concurrency} is out of range 1..=256"),
        ));
    }
    let timeout_ms = raw
        .timeout_ms
        .unwrap_or_else(|| u64::try_from(d.timeout.as_millis()).unwrap_or(u64::MAX));
    if !(1..=600_000).contains(&timeout_ms) {
        return Err(invalid(
            key("timeout_ms"),
            format!("{timeout_ms} is out of range 1..=600000 (10 minutes)"),
        ));
    }
    let max_response_mb = raw.max_response_mb.unwrap_or(d.max_response_bytes >> 20);
    if !(1..=1024).contains(&max_response_mb) {
        return Err(invalid(
            key("max_response_mb"),
            format!("{max_response_mb} is out of range 1..=1024"),
        ));
    }
    Ok(PosLimits {
        requests_per_sec: rate,
        burst,
        concurrency,
        timeout: Duration::from_millis(timeout_ms),
        max_response_bytes: max_response_mb << 20,
    })
}

/// Validate `[adapters]`.
fn adapters_config(
    raw: RawAdapters,
    o: &Overrides,
    env: &dyn Env,
) -> Result<AdaptersConfig, ConfigError> {
    let adapters_dir = pick(
        o.adapters_dir.clone(),
        env.var("SNAPACT_ADAPTERS_DIR").map(PathBuf::from),
        raw.dir,
        PathBuf::from("target/adapters"),
    );
    let cache_dir = raw.cache_dir.unwrap_or_else(|| adapters_dir.join(".cache"));
    let mut trusted_keys = Vec::new();
    for (i, value) in raw.trusted_keys.unwrap_or_default().iter().enumerate() {
        let key = format!("adapters.trusted_keys[{i}]");
        let parsed = match value {
            toml::Value::String(text) => crate::registry::PublisherKey::parse(text),
            toml::Value::Table(t)
                if t.len() == 1 && t.get("file").is_some_and(toml::Value::is_str) =>
            {
                let path = t
                    .get("file")
                    .and_then(toml::Value::as_str)
                    .unwrap_or_default();
                crate::registry::PublisherKey::from_file(Path::new(path))
            }
            _ => {
                return Err(invalid(
                    key,
                    "expected a publisher key \"ed25519:<base64>\" as printed by `snapact-host keys generate`, \
                     or { file = \"publisher.pub\" }",
                ));
            }
        };
        let parsed = parsed.map_err(|e| invalid(&key, e.to_string()))?;
        if !trusted_keys.contains(&parsed) {
            trusted_keys.push(parsed);
        }
    }
    let trust = crate::registry::TrustPolicy {
        require_signatures: raw.require_signatures.unwrap_or(true),
        trusted_keys,
    };
    let registry = raw
        .registry
        .map(|r| {
            r.parse::<crate::registry::RegistrySource>()
                .map_err(|e| invalid("adapters.registry", e.to_string()))
        })
        .transpose()?;
    Ok(AdaptersConfig {
        dir: adapters_dir,
        cache_dir,
        max_memory_mb: raw.max_memory_mb.unwrap_or(512),
        max_timeout_ms: raw.max_timeout_ms.unwrap_or(30_000),
        max_output_bytes: usize::try_from(raw.max_output_mb.unwrap_or(64))
            .unwrap_or(64)
            .saturating_mul(1 << 20),
        watch_every: match raw.watch.as_deref().map(str::trim) {
            None => Some(Duration::from_secs(2)),
            Some("off") => None,
            Some(every) => Some(parse_interval("adapters.watch", every)?),
        },
        trust,
        registry,
    })
}

impl AdaptersConfig {
    /// `[adapters]` of a config file, for the commands that manage
    /// packages: the whole file must be valid TOML without unknown keys,
    /// but shops are not validated and no secret is read, so installing an
    /// adapter does not need the shops' credentials at hand.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<AdaptersConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let raw: RawConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        adapters_config(raw.adapters, overrides, &ProcessEnv)
    }

    /// The defaults, as if the config file had no `[adapters]` section.
    pub fn defaults(overrides: &Overrides) -> Result<AdaptersConfig, ConfigError> {
        adapters_config(RawAdapters::default(), overrides, &ProcessEnv)
    }
}

fn validate(raw: RawConfig, o: &Overrides, env: &dyn Env) -> Result<Config, ConfigError> {
    let base_url = pick(
        o.snapact_base_url.clone(),
        env.var("SNAPACT_BASE_URL"),
        raw.snapact.base_url,
        "https://connect.snapact.io".to_string(),
    );
    // The SnapAct URL may be plain http only on loopback (the sandbox).
    let loopback = base_url.starts_with("http://127.") || base_url.starts_with("http://localhost");
    let base_url = check_url("snapact.base_url", &base_url, loopback)?;
    let max_batch = crate::snapact::wire::DEFAULT_BATCH_SIZE;
    let batch_size = raw.snapact.batch_size.unwrap_or(max_batch);
    if !(1..=max_batch).contains(&batch_size) {
        return Err(invalid(
            "snapact.batch_size",
            format!("must be between 1 and {max_batch} (SnapAct's limit per upsert request)"),
        ));
    }
    let timeout = Duration::from_millis(raw.snapact.timeout_ms.unwrap_or(10_000));

    let store_path = pick(
        o.store_path.clone(),
        env.var("SNAPACT_STORE_PATH").map(PathBuf::from),
        raw.store.path,
        PathBuf::from("snapact-host.db"),
    );

    let listen_text = pick(
        o.listen.clone(),
        env.var("SNAPACT_LISTEN"),
        raw.server.listen,
        "127.0.0.1:8080".to_string(),
    );
    let listen = listen_text.parse().map_err(|_| {
        invalid(
            "server.listen",
            format!("{listen_text:?} is not an address such as \"127.0.0.1:8080\""),
        )
    })?;
    let public_url = raw
        .server
        .public_url
        .map(|u| check_url("server.public_url", &u, true))
        .transpose()?;
    let server = ServerConfig {
        listen,
        public_url,
        max_body_bytes: raw.server.max_body_bytes.unwrap_or(1 << 20),
    };

    let adapters = adapters_config(raw.adapters, o, env)?;

    let relay = RelayConfig {
        backoff_base: Duration::from_millis(raw.relay.backoff_base_ms.unwrap_or(500)),
        backoff_cap: Duration::from_millis(raw.relay.backoff_cap_ms.unwrap_or(60_000)),
        max_age: Duration::from_secs(raw.relay.max_age_secs.unwrap_or(7 * 24 * 3600)),
    };
    if relay.backoff_base.is_zero() || relay.backoff_cap < relay.backoff_base {
        return Err(invalid(
            "relay",
            "backoff_base_ms must be > 0 and backoff_cap_ms >= backoff_base_ms",
        ));
    }

    let mut seen = BTreeSet::new();
    let mut shops = Vec::with_capacity(raw.shop.len());
    for (i, s) in raw.shop.into_iter().enumerate() {
        let key = |field: &str| {
            if s.id.is_empty() {
                format!("shop[{i}].{field}")
            } else {
                format!("shop[{}].{field}", s.id)
            }
        };
        if s.id.is_empty()
            || s.id.len() > 64
            || !s
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                key("id"),
                format!(
                    "{:?} must be 1-64 letters, digits, '-' or '_' (it appears in webhook URLs)",
                    s.id
                ),
            ));
        }
        if !seen.insert(s.id.clone()) {
            return Err(invalid(
                key("id"),
                "two shops have this id; ids must be unique",
            ));
        }
        let adapter = s
            .adapter
            .parse()
            .map_err(|m: String| invalid(key("adapter"), m))?;
        let snapact_key = s.snapact_key.resolve(&key("snapact_key"), env)?;
        let webhook_secrets = match s.webhook_secret {
            None => Vec::new(),
            Some(WebhookSecrets::One(r)) => vec![r.resolve(&key("webhook_secret"), env)?],
            Some(WebhookSecrets::Many(rs)) => rs
                .iter()
                .enumerate()
                .map(|(j, r)| r.resolve(&key(&format!("webhook_secret[{j}]")), env))
                .collect::<Result<_, _>>()?,
        };
        let pos_base_url = s
            .pos_base_url
            .map(|u| check_pos_url(&key("pos_base_url"), &u, s.allow_insecure_http))
            .transpose()?;
        let pos_auth = match s.pos_auth {
            None => None,
            Some(RawPosAuth::Bearer(r)) => {
                Some(PosAuth::Bearer(r.resolve(&key("pos_auth.bearer"), env)?))
            }
            Some(RawPosAuth::Basic { username, password }) => Some(PosAuth::Basic {
                username,
                password: password.resolve(&key("pos_auth.basic.password"), env)?,
            }),
            Some(RawPosAuth::Header { name, value }) => {
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err(invalid(
                        key("pos_auth.header.name"),
                        format!("{name:?} is not a header name"),
                    ));
                }
                Some(PosAuth::Header {
                    name,
                    value: value.resolve(&key("pos_auth.header.value"), env)?,
                })
            }
        };
        if pos_auth.is_some() && pos_base_url.is_none() {
            return Err(invalid(
                key("pos_base_url"),
                "pos_auth is set but pos_base_url is missing",
            ));
        }
        if s.pos_limits.is_some() && pos_base_url.is_none() {
            return Err(invalid(
                key("pos_base_url"),
                "pos_limits is set but pos_base_url is missing",
            ));
        }
        let pos_limits = pos_limits(s.pos_limits.unwrap_or_default(), |field| {
            key(&format!("pos_limits.{field}"))
        })?;
        let secrets = s
            .secrets
            .iter()
            .map(|(name, r)| {
                Ok((
                    name.clone(),
                    r.resolve(&key(&format!("secrets.{name}")), env)?,
                ))
            })
            .collect::<Result<_, ConfigError>>()?;
        let poll_every = s
            .poll
            .map(|p| parse_interval(&key("poll.every"), &p.every))
            .transpose()?;
        shops.push(ShopConfig {
            poll_every,
            id: s.id,
            adapter,
            snapact_key,
            webhook_secrets,
            pos_base_url,
            pos_auth,
            allow_insecure_http: s.allow_insecure_http,
            pos_limits,
            secrets,
            settings: s.settings,
        });
    }

    Ok(Config {
        snapact: SnapactConfig {
            base_url,
            batch_size,
            timeout,
        },
        store_path,
        server,
        adapters,
        relay,
        shops,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn a_missing_config_file_names_the_os_error_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nope.toml");
        let e = Config::load(&path, &Overrides::default()).expect_err("no such file");
        // As `main` prints it: the message, then each cause.
        let shown = format!("{:#}", anyhow::Error::from(e));
        assert!(shown.starts_with("cannot read config file"), "{shown}");
        assert!(
            shown.contains("No such file or directory"),
            "the OS error is shown: {shown}"
        );
        assert_eq!(
            shown.matches("No such file or directory").count(),
            1,
            "the OS error is shown once: {shown}"
        );
        let e = AdaptersConfig::load(&path, &Overrides::default()).expect_err("no such file");
        let shown = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(
            shown.matches("No such file or directory").count(),
            1,
            "{shown}"
        );
    }

    #[test]
    fn poll_intervals() {
        assert_eq!(
            parse_interval("k", "5m").expect("test setup"),
            Duration::from_secs(300)
        );
        assert_eq!(
            parse_interval("k", "90s").expect("test setup"),
            Duration::from_secs(90)
        );
        assert_eq!(
            parse_interval("k", "2h").expect("test setup"),
            Duration::from_secs(7200)
        );
        for bad in ["", "5", "m", "0s", "5 minutes", "-1s", "1.5m"] {
            let e = parse_interval("shop[a].poll.every", bad)
                .expect_err("must fail")
                .to_string();
            assert!(e.starts_with("shop[a].poll.every:"), "{e}");
        }
    }

    fn env() -> BTreeMap<String, String> {
        [
            ("KEY", "sk_live_123"),
            ("TOKEN", "sq-token"),
            ("SIG", "sig-key"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    const GOOD: &str = r#"
[snapact]
base_url = "http://127.0.0.1:9000"
[[shop]]
id = "lagos-main"
adapter = "square@^1"
snapact_key = { env = "KEY" }
webhook_secret = [{ env = "KEY" }, { env = "SIG" }]
pos_base_url = "https://connect.squareup.com/"
pos_auth = { bearer = { env = "TOKEN" } }
secrets = { webhook_signature_key = { env = "SIG" } }
settings = { location_id = "L1", currency = "NGN" }
"#;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, "snapact.toml", &Overrides::default(), &env())
    }

    #[test]
    fn a_full_shop_validates() {
        let c = load(GOOD).expect("valid");
        let shop = c.shop("lagos-main").expect("shop");
        assert_eq!(shop.adapter.id, "square");
        assert!(shop.adapter.version.matches(&semver::Version::new(1, 4, 0)));
        assert!(!shop.adapter.version.matches(&semver::Version::new(2, 0, 0)));
        assert_eq!(
            shop.pos_base_url.as_deref(),
            Some("https://connect.squareup.com")
        );
        assert_eq!(shop.webhook_secrets.len(), 2);
        assert_eq!(
            shop.secrets["webhook_signature_key"].expose_secret(),
            "sig-key"
        );
        assert_eq!(c.snapact.batch_size, 100);
        assert_eq!(c.store_path, PathBuf::from("snapact-host.db"));
    }

    #[test]
    fn batch_size_is_refused_above_what_snapact_accepts_per_request() {
        let text = |n: usize| {
            format!(
                "[snapact]\nbatch_size = {n}\n[[shop]]\nid = \"a\"\nadapter = \"square\"\nsnapact_key = {{ env = \"KEY\" }}\n"
            )
        };
        let env: BTreeMap<String, String> = [("KEY".to_string(), "k".to_string())].into();
        let ok = Config::from_toml(&text(100), "t.toml", &Overrides::default(), &env);
        assert_eq!(ok.expect("100 is accepted").snapact.batch_size, 100);
        for bad in [0, 101, 1000] {
            let e = Config::from_toml(&text(bad), "t.toml", &Overrides::default(), &env)
                .expect_err("refused")
                .to_string();
            assert!(
                e.contains("snapact.batch_size") && e.contains("between 1 and 100"),
                "{e}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key() {
        let e =
            load(&GOOD.replace("[snapact]", "[snapact]\nbatchsize = 5")).expect_err("unknown key");
        assert!(e.to_string().contains("batchsize"), "{e}");
        let e = load(&GOOD.replace(
            "id = \"lagos-main\"",
            "id = \"lagos-main\"\nlocation = \"x\"",
        ))
        .expect_err("unknown key");
        assert!(e.to_string().contains("location"), "{e}");
    }

    #[test]
    fn missing_secrets_name_the_key_and_variable() {
        let e =
            load(&GOOD.replace("{ env = \"TOKEN\" }", "{ env = \"NOPE\" }")).expect_err("missing");
        let msg = e.to_string();
        assert!(msg.contains("shop[lagos-main].pos_auth.bearer"), "{msg}");
        assert!(msg.contains("NOPE"), "{msg}");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let c = load(GOOD).expect("valid");
        let debug = format!("{c:?}");
        for secret in ["sk_live_123", "sq-token", "sig-key"] {
            assert!(!debug.contains(secret), "secret {secret} leaked into Debug");
        }
    }

    #[test]
    fn bad_values_are_explained() {
        let e = load(&GOOD.replace(
            "https://connect.squareup.com/",
            "http://connect.squareup.com",
        ))
        .expect_err("http");
        assert!(e.to_string().contains("allow_insecure_http"), "{e}");
        let e = load(&GOOD.replace("square@^1", "Square")).expect_err("bad id");
        assert!(e.to_string().contains("shop[lagos-main].adapter"), "{e}");
        let e = load(&format!(
            "{GOOD}\n{}",
            &GOOD[GOOD.find("[[shop]]").expect("shop")..]
        ))
        .expect_err("dup");
        assert!(e.to_string().contains("unique"), "{e}");
    }

    #[test]
    fn pos_limits_default_and_override() {
        let c = load(GOOD).expect("valid");
        let shop = c.shop("lagos-main").expect("shop");
        assert_eq!(shop.pos_limits, PosLimits::default());
        assert_eq!(shop.pos_limits.requests_per_sec, 10.0);
        assert_eq!(shop.pos_limits.burst, 20);
        assert_eq!(shop.pos_limits.concurrency, 4);
        assert_eq!(shop.pos_limits.timeout, Duration::from_secs(15));
        assert_eq!(shop.pos_limits.max_response_bytes, 16 << 20);
        let c = load(&GOOD.replace(
            "settings =",
            "pos_limits = { requests_per_sec = 0.5, burst = 2, concurrency = 1, timeout_ms = 3000, max_response_mb = 4 }\nsettings =",
        ))
        .expect("valid");
        let limits = c.shop("lagos-main").expect("shop").pos_limits;
        assert_eq!(
            limits,
            PosLimits {
                requests_per_sec: 0.5,
                burst: 2,
                concurrency: 1,
                timeout: Duration::from_millis(3000),
                max_response_bytes: 4 << 20,
            }
        );
        let c = load(&GOOD.replace(
            "settings =",
            "pos_limits = { requests_per_sec = 3 }\nsettings =",
        ))
        .expect("an integer rate");
        assert_eq!(c.shops[0].pos_limits.requests_per_sec, 3.0);
        assert_eq!(c.shops[0].pos_limits.burst, 20);
    }

    #[test]
    fn bad_pos_limits_name_the_key() {
        for (limits, key) in [
            ("requests_per_sec = 0", "pos_limits.requests_per_sec"),
            ("requests_per_sec = -1.5", "pos_limits.requests_per_sec"),
            ("burst = 0", "pos_limits.burst"),
            ("concurrency = 0", "pos_limits.concurrency"),
            ("concurrency = 1000", "pos_limits.concurrency"),
            ("timeout_ms = 0", "pos_limits.timeout_ms"),
            ("max_response_mb = 0", "pos_limits.max_response_mb"),
            ("rps = 5", "rps"),
        ] {
            let e = load(&GOOD.replace(
                "settings =",
                &format!("pos_limits = {{ {limits} }}\nsettings ="),
            ))
            .expect_err(limits);
            assert!(e.to_string().contains(key), "{limits}: {e}");
        }
        let e = load(
            &GOOD
                .replace("pos_base_url = \"https://connect.squareup.com/\"\n", "")
                .replace("pos_auth = { bearer = { env = \"TOKEN\" } }\n", "")
                .replace("settings =", "pos_limits = { burst = 5 }\nsettings ="),
        )
        .expect_err("limits without a POS");
        assert!(
            e.to_string()
                .starts_with("shop[lagos-main].pos_base_url: pos_limits is set"),
            "{e}"
        );
    }

    #[test]
    fn plain_http_pos_urls_are_for_this_machine_only() {
        let with = |url: &str| {
            load(&GOOD.replace(
                "pos_base_url = \"https://connect.squareup.com/\"",
                &format!("pos_base_url = \"{url}\"\nallow_insecure_http = true"),
            ))
        };
        for ok in [
            "http://127.0.0.1:8089",
            "http://localhost:8089/api",
            "http://[::1]:8089",
        ] {
            let c = with(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(c.shops[0].allow_insecure_http);
        }
        for bad in ["http://pos.example.com", "http://10.1.2.3:8080"] {
            let e = with(bad).expect_err(bad).to_string();
            assert!(e.starts_with("shop[lagos-main].pos_base_url:"), "{e}");
            assert!(e.contains("only to this machine"), "{e}");
        }
        let e = with("https://user:pw@pos.example.com").expect_err("userinfo");
        assert!(
            e.to_string()
                .contains("put the POS credentials in pos_auth"),
            "{e}"
        );
        assert!(!e.to_string().contains("pw@"), "{e}");
        let e = with("https://pos.example.com/?token=abc").expect_err("query");
        assert!(e.to_string().contains("query"), "{e}");
    }

    #[test]
    fn signatures_are_required_by_default_and_keys_are_checked() {
        let c = load(GOOD).expect("valid");
        assert!(c.adapters.trust.require_signatures);
        assert!(c.adapters.trust.trusted_keys.is_empty());
        assert_eq!(c.adapters.registry, None);

        let dir = tempfile::tempdir().expect("tempdir");
        let a = crate::registry::SecretKey::generate()
            .expect("key")
            .public();
        let b = crate::registry::SecretKey::generate()
            .expect("key")
            .public();
        let b_file = dir.path().join("b.pub");
        std::fs::write(&b_file, format!("{b}\n")).expect("write");
        let c = load(&format!(
            "[adapters]\nrequire_signatures = false\nregistry = \"https://adapters.example.com/r\"\n\
             trusted_keys = [\"{a}\", {{ file = {:?} }}, \"{a}\"]\n{GOOD}",
            b_file.display().to_string()
        ))
        .expect("valid");
        assert!(!c.adapters.trust.require_signatures);
        assert_eq!(c.adapters.trust.trusted_keys, vec![a.clone(), b]);
        assert!(c.adapters.registry.is_some());

        for (keys, says) in [
            (
                "[\"ssh-ed25519 AAAA\"]",
                "adapters.trusted_keys[0]: \"ssh-ed25519 AAAA\" is not a publisher key",
            ),
            (
                "[{ path = \"x.pub\" }]",
                "adapters.trusted_keys[0]: expected a publisher key",
            ),
            (
                "[{ file = \"/nonexistent/x.pub\" }]",
                "adapters.trusted_keys[0]: /nonexistent/x.pub",
            ),
            ("[42]", "adapters.trusted_keys[0]: expected"),
        ] {
            let e = load(&format!("[adapters]\ntrusted_keys = {keys}\n{GOOD}")).expect_err(keys);
            assert!(e.to_string().starts_with(says), "{keys}: {e}");
        }
        let e = load(&format!(
            "[adapters]\nregistry = \"http://adapters.example.com\"\n{GOOD}"
        ))
        .expect_err("plain http");
        assert!(e.to_string().starts_with("adapters.registry:"), "{e}");
        let e = load(&format!("[adapters]\nrequire_signature = false\n{GOOD}")).expect_err("typo");
        assert!(e.to_string().contains("require_signature"), "{e}");
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let mut e = env();
        e.insert("SNAPACT_STORE_PATH".into(), "/env.db".into());
        let text = format!("[store]\npath = \"/file.db\"\n{GOOD}");
        let c = Config::from_toml(&text, "t", &Overrides::default(), &e).expect("valid");
        assert_eq!(c.store_path, PathBuf::from("/env.db"));
        let o = Overrides {
            store_path: Some("/flag.db".into()),
            ..Overrides::default()
        };
        let c = Config::from_toml(&text, "t", &o, &e).expect("valid");
        assert_eq!(c.store_path, PathBuf::from("/flag.db"));
    }
}
