//! `snapact-host`: parse the command line, set up logging, run, exit.

use std::process::ExitCode;

use clap::Parser;
use snapact_host::cli::{self, Cli};
use snapact_host::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format, None);
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
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
