//! `snapact-host`: the command line. Parsing, logging set-up and running
//! live in [`snapact_host::cli::main`], shared with the copies of this
//! binary that the integration tests and benchmarks spawn.

use std::process::ExitCode;

fn main() -> ExitCode {
    snapact_host::cli::main()
}
