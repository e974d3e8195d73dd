//! The `snapact-host` command line (DESIGN §9). Parsing lives here; each
//! command's work lives in its own file under `cli/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::telemetry::LogFormat;

mod adapter;
mod diff;
pub mod fixtures;

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
    /// Build, inspect and try adapters.
    #[command(subcommand)]
    Adapter(AdapterCommand),
}

/// `snapact-host adapter ...`.
#[derive(Debug, Subcommand)]
pub enum AdapterCommand {
    /// Build the adapter in DIR (or every adapter under adapters/) into target/adapters/<id>/.
    Build(BuildArgs),
    /// Show a package's manifest, WIT version, digest, capabilities and exports.
    Inspect(InspectArgs),
    /// Run map-records on FILE and print the changes as a JSON array.
    Map(MapArgs),
    /// Golden tests: every NAME.input.json against NAME.expected.json.
    Test(TestArgs),
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
    /// Fixture directory (default: tests/fixtures/<id>).
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

/// Run a parsed command; the returned code is the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Adapter(cmd) => adapter::run(cmd).await,
    }
}
