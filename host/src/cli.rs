//! The `snapact-host` command line (DESIGN §9). Parsing lives here; each
//! command's work lives in its own file under `cli/`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::telemetry::LogFormat;

mod adapter;
mod dev;
mod diff;
pub mod fixtures;
mod operate;
mod packages;
mod sandbox;
pub mod status;

/// Exit code when a command ran but found bad data (rejected records,
/// golden mismatches): distinct from 1, a failure to run at all.
pub const EXIT_DATA: u8 = 3;

/// The SnapAct POS adapter host.
#[derive(Debug, Parser)]
#[command(name = "snapact-host", version, about, long_about = None)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The connector daemon: relays every shop's changes to SnapAct.
    Run(RunArgs),
    /// Everything local: the SnapAct sandbox, two example shops and a demo feed.
    Dev(DevArgs),
    /// The SnapAct Connect emulator, with fault injection.
    Sandbox(SandboxArgs),
    /// Map a file through a shop's adapter into the outbox.
    Import(ImportArgs),
    /// Every shop's sync state at a glance: OK, LAGGING, PARKED, PAUSED or NO-ADAPTER.
    Status(StatusArgs),
    /// What is pending, parked, and why.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Build, inspect and try adapters; package, sign, install and manage them.
    #[command(subcommand)]
    Adapter(AdapterCommand),
    /// Publisher keys for signing adapter packages.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Maintain a registry folder: publish, yank, revoke.
    #[command(subcommand)]
    Registry(RegistryCommand),
}

/// `--config` and the flags that override it.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The config file.
    #[arg(long, short, default_value = "snapact.toml", env = "SNAPACT_CONFIG")]
    pub config: PathBuf,
    /// Override `[store] path`.
    #[arg(long)]
    pub store: Option<PathBuf>,
}

impl ConfigArgs {
    /// Load and validate the config with these overrides.
    pub fn load(&self) -> anyhow::Result<crate::config::Config> {
        let overrides = crate::config::Overrides {
            store_path: self.store.clone(),
            ..crate::config::Overrides::default()
        };
        Ok(crate::config::Config::load(&self.config, &overrides)?)
    }
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Override `[server] listen`.
    #[arg(long)]
    pub listen: Option<String>,
}

/// `dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Seconds between demo stock changes (0: no demo feed).
    #[arg(long, default_value_t = 5)]
    pub feed_every: u64,
    /// Exit once the example catalogs are delivered (for scripts and CI).
    #[arg(long)]
    pub once: bool,
}

/// `sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: String,
    /// An accepted API key, `TENANT=KEY` or `KEY`; repeatable.
    #[arg(long = "key", required = true)]
    pub keys: Vec<String>,
    /// Share of requests answered 503 (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Requests per minute per key before 429 + Retry-After.
    #[arg(long)]
    pub rate_limit_per_min: Option<u32>,
    /// Latency added to every request.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of applied batches whose connection is then dropped unanswered.
    #[arg(long, default_value_t = 0.0)]
    pub drop_after_apply_rate: f64,
    /// Seed for the fault dice (reproducible runs).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where a tenant's signed webhooks go, `TENANT=URL`
    /// (e.g. `lagos-main=http://127.0.0.1:8080/webhooks/snapact/lagos-main`); repeatable.
    #[arg(long = "webhook", value_name = "TENANT=URL")]
    pub webhooks: Vec<String>,
    /// The secret a tenant's webhooks are signed with, `TENANT=SECRET`
    /// (the shop's `webhook_secret` in the host's config); repeatable.
    #[arg(long = "webhook-secret", value_name = "TENANT=SECRET")]
    pub webhook_secrets: Vec<String>,
}

/// `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The shop whose adapter maps the file.
    #[arg(long)]
    pub shop: String,
    /// The file (a POS export or API response body).
    pub file: PathBuf,
    /// Wait until SnapAct has acknowledged everything (delivers itself).
    #[arg(long)]
    pub wait: bool,
    /// The file's content type.
    #[arg(long, default_value = "application/json")]
    pub content_type: String,
}

/// `status`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit code: 0 when every shop is OK or LAGGING, 3 when any shop is \
    NO-ADAPTER, PAUSED or PARKED (an operator must act), 1 when the status cannot be read. \
    Reads the store, so it works whether or not `run` is running."
)]
pub struct StatusArgs {
    /// Config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print JSON (stable keys) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// A shop whose oldest pending change is older than this is LAGGING.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub lagging_after: u64,
}

/// `outbox ...`.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Pending, waiting and parked counts per shop.
    Status(OutboxArgs),
    /// Parked changes with their reasons.
    Parked(OutboxArgs),
    /// Put parked changes back into the outbox.
    Retry(RetryArgs),
}

/// `outbox status|parked`.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    /// Config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Only this shop.
    #[arg(long)]
    pub shop: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `outbox retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The shop.
    #[arg(long)]
    pub shop: String,
    /// Parked change ids to retry (with no ids and no --event: every
    /// parked change and SnapAct event of the shop).
    pub ids: Vec<i64>,
    /// A parked SnapAct event (an order that could not be created) to retry.
    #[arg(long = "event", value_name = "EVENT_ID")]
    pub events: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `snapact-host adapter ...`.
#[derive(Debug, Subcommand)]
pub enum AdapterCommand {
    /// Create a new adapter (Rust, Python or JavaScript) that builds and passes the conformance suite.
    New(NewArgs),
    /// Build the adapter in DIR (or every adapter under adapters/) into target/adapters/<id>/.
    Build(BuildArgs),
    /// Show a package's manifest, WIT version, digest, capabilities and exports.
    Inspect(InspectArgs),
    /// Run map-records on FILE and print the changes as a JSON array.
    Map(MapArgs),
    /// Golden tests: every NAME.input.json against NAME.expected.json.
    Test(TestArgs),
    /// Write a package folder as one deterministic .tar.
    Pack(PackArgs),
    /// Sign a package (folder or .tar) with a publisher key: writes adapter.sig.
    Sign(SignArgs),
    /// Check a package's digest and signature, and whether this host would load it.
    Verify(VerifyArgs),
    /// List what a registry offers.
    Search(SearchArgs),
    /// Install a version from a registry, after showing what it may touch.
    Install(InstallArgs),
    /// Installed adapters: versions, which is selected, signer, registry status.
    List(ListArgs),
    /// Remove an adapter, or one version of it.
    Remove(RemoveArgs),
    /// Set the newest version aside so the previous one is selected.
    Rollback(RollbackArgs),
    /// Fetch the registry index again (revocations) into the adapters folder.
    Refresh(RefreshArgs),
}

/// `--config` for the package commands: only `[adapters]` is read, and no
/// secret, so they run without the shops' credentials.
#[derive(Debug, Args)]
pub struct PackagesConfigArgs {
    /// The config file (default: ./snapact.toml if it exists, else the defaults).
    #[arg(long, short, env = "SNAPACT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Override `[adapters] dir`.
    #[arg(long)]
    pub adapters_dir: Option<PathBuf>,
}

/// `adapter pack`.
#[derive(Debug, Args)]
pub struct PackArgs {
    /// The package folder (adapter.toml, adapter.wasm, optionally adapter.sig).
    pub dir: PathBuf,
    /// The archive to write.
    #[arg(long, short)]
    pub output: PathBuf,
}

/// `adapter sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The package: a folder or a .tar.
    pub package: PathBuf,
    /// The publisher's private key file (from `keys generate`).
    #[arg(long)]
    pub key: PathBuf,
}

/// `adapter verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The package: a folder or a .tar.
    pub package: PathBuf,
    /// Trust policy.
    #[command(flatten)]
    pub config: PackagesConfigArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `adapter search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Text to look for in ids, vendors and descriptions (all when absent).
    pub text: Option<String>,
    /// The registry: a folder or URL (default: `[adapters] registry`).
    #[arg(long)]
    pub registry: Option<String>,
    /// Config, for `[adapters] registry`.
    #[command(flatten)]
    pub config: PackagesConfigArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `adapter install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// `ID`, `ID@SEMVER-REQ` (e.g. square@^1) or `ID@=VERSION`.
    pub adapter: String,
    /// The registry: a folder or URL (default: `[adapters] registry`).
    #[arg(long)]
    pub registry: Option<String>,
    /// Install without asking (the capabilities are still printed).
    #[arg(long, short)]
    pub yes: bool,
    /// Config: adapters folder and trust policy.
    #[command(flatten)]
    pub config: PackagesConfigArgs,
}

/// `adapter list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Config: adapters folder and trust policy.
    #[command(flatten)]
    pub config: PackagesConfigArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `adapter remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// `ID` (every version) or `ID@VERSION`.
    pub adapter: String,
    /// Config: the adapters folder.
    #[command(flatten)]
    pub config: PackagesConfigArgs,
}

/// `adapter rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The adapter id.
    pub id: String,
    /// Config: adapters folder and trust policy.
    #[command(flatten)]
    pub config: PackagesConfigArgs,
}

/// `adapter refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// The registry: a folder or URL (default: `[adapters] registry`).
    #[arg(long)]
    pub registry: Option<String>,
    /// Config: adapters folder and registry.
    #[command(flatten)]
    pub config: PackagesConfigArgs,
}

/// `snapact-host keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make an ed25519 publisher key pair: NAME.key (private, 0600) and NAME.pub.
    Generate(KeysGenerateArgs),
}

/// `keys generate`.
#[derive(Debug, Args)]
pub struct KeysGenerateArgs {
    /// The folder to write the key files into (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// The files' base name.
    #[arg(long, default_value = "publisher")]
    pub name: String,
}

/// `snapact-host registry ...`: a registry folder, served as it is by any
/// static file host.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Add a package (folder or .tar) to the registry.
    Publish(PublishArgs),
    /// Stop new installs of a version (installed copies keep running).
    Yank(YankArgs),
    /// Mark a version as one that must not run: hosts refuse to load it.
    Revoke(RevokeArgs),
}

/// `registry publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The package: a folder or a .tar.
    pub package: PathBuf,
    /// The registry folder (created if needed).
    #[arg(long)]
    pub registry: PathBuf,
    /// Publish an unsigned package (hosts require signatures by default).
    #[arg(long)]
    pub allow_unsigned: bool,
}

/// `registry yank`.
#[derive(Debug, Args)]
pub struct YankArgs {
    /// `ID@VERSION`.
    pub adapter: String,
    /// The registry folder.
    #[arg(long)]
    pub registry: PathBuf,
    /// Why, for operators.
    #[arg(long)]
    pub reason: Option<String>,
}

/// `registry revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// `ID@VERSION`.
    pub adapter: String,
    /// The registry folder.
    #[arg(long)]
    pub registry: PathBuf,
    /// Why, for operators (shown wherever the version is refused).
    #[arg(long)]
    pub reason: String,
    /// The version to move to (default: the newest listed version above it in the same major).
    #[arg(long)]
    pub replacement: Option<String>,
}

/// `adapter new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The adapter id: 1 to 64 of a-z, 0-9 and '-'.
    pub name: String,
    /// The language of the generated adapter.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// The folder to create (default: adapters/NAME); it must not exist.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Rust only: the snapact-adapter-sdk crate folder (default: the sdk/ of
    /// the repository checkout DIR is in).
    #[arg(long)]
    pub sdk_path: Option<PathBuf>,
}

/// `--lang`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// A Rust crate using snapact-adapter-sdk.
    Rust,
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with componentize-js.
    #[value(alias = "javascript")]
    Js,
}

/// `adapter build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The adapter's directory (holding adapter.toml).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub dir: Option<PathBuf>,
    /// Build every adapter under `adapters/`.
    #[arg(long)]
    pub all: bool,
    /// Where packages are written.
    #[arg(long, default_value = "target/adapters")]
    pub out: PathBuf,
}

/// `adapter inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A package directory, or the id of a package in `--adapters-dir`.
    pub package: String,
    /// Installed packages, for PKG given as an id.
    #[arg(long, default_value = "target/adapters")]
    pub adapters_dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `adapter map`.
#[derive(Debug, Args)]
pub struct MapArgs {
    /// A package directory, or the id of a package in `--adapters-dir`.
    pub package: String,
    /// The payload file (`-` for standard input).
    pub file: PathBuf,
    /// A shop setting the adapter reads, `key=value`; repeatable.
    #[arg(long = "setting", value_name = "KEY=VALUE", value_parser = parse_setting)]
    pub settings: Vec<(String, String)>,
    /// The payload's content type.
    #[arg(long, default_value = "application/json")]
    pub content_type: String,
    /// Installed packages, for PKG given as an id.
    #[arg(long, default_value = "target/adapters")]
    pub adapters_dir: PathBuf,
}

/// `adapter test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// A package directory, or the id of a package in `--adapters-dir`.
    pub package: String,
    /// Fixture directory (default: tests/fixtures/<id>, else adapters/<id>/fixtures).
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
    /// Installed packages, for PKG given as an id.
    #[arg(long, default_value = "target/adapters")]
    pub adapters_dir: PathBuf,
}

fn parse_setting(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// The whole `snapact-host` program: parse the process arguments, set up
/// logging, run the command on a multi-threaded runtime and turn the outcome
/// into the exit code (errors printed with their causes). `main.rs` calls
/// only this, and so do the copies of the binary that the integration tests
/// and benchmarks spawn, so they run exactly the program operators run.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.is_offline() {
        exit_quietly_on_closed_stdout();
    }
    crate::telemetry::init(cli.log_format, None);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl Command {
    /// Whether the command opens no network connection of its own: it
    /// reads and writes files, the store, and its standard streams.
    pub fn is_offline(&self) -> bool {
        match self {
            Command::Status(_) | Command::Outbox(_) | Command::Keys(_) | Command::Registry(_) => {
                true
            }
            Command::Adapter(cmd) => !matches!(
                cmd,
                AdapterCommand::Search(_) | AdapterCommand::Install(_) | AdapterCommand::Refresh(_)
            ),
            Command::Run(_) | Command::Dev(_) | Command::Sandbox(_) | Command::Import(_) => false,
        }
    }
}

/// Let a closed standard output end the process as it ends other Unix
/// tools (`snapact-host status --json | head -1`), instead of `println!`
/// panicking on the broken pipe. Only for offline commands: Rust ignores
/// SIGPIPE so that a peer closing a socket is an error, not a kill, and the
/// commands that talk to the network keep that.
fn exit_quietly_on_closed_stdout() {
    #[cfg(unix)]
    // SAFETY: called from `main` before any thread or runtime is started;
    // SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Run a parsed command; the returned code is the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Run(args) => operate::run(args).await,
        Command::Dev(args) => dev::run(args).await,
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Import(args) => operate::import(args).await,
        Command::Status(args) => status::run(args).await,
        Command::Outbox(cmd) => operate::outbox(cmd).await,
        Command::Adapter(cmd) => adapter::run(cmd).await,
        Command::Keys(cmd) => packages::keys(cmd),
        Command::Registry(cmd) => packages::registry(cmd),
    }
}
