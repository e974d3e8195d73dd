//! Logging setup. Only `main` calls [`init`]; libraries just use `tracing`.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Default filter: our own logs at info, the Wasm compiler quiet.
const DEFAULT_FILTER: &str =
    "info,wasmtime=warn,cranelift=warn,cranelift_codegen=warn,hyper=warn,reqwest=warn";

/// Install the global subscriber. `RUST_LOG` overrides the default filter.
/// Logs go to stderr so that data commands keep stdout clean.
pub fn init(format: LogFormat, default_filter: Option<&str>) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(default_filter.unwrap_or(DEFAULT_FILTER)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
