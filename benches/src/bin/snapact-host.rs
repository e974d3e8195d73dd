//! The `snapact-host` program under the name `snapact-host-under-bench`, so
//! the end-to-end benchmark can spawn a release build of it
//! (`env!("CARGO_BIN_EXE_snapact-host-under-bench")`: Cargo only tells a
//! package's benchmarks where its own binaries are).

use std::process::ExitCode;

fn main() -> ExitCode {
    snapact_host::cli::main()
}
