//! The `snapact-host` program under the name `snapact-host-under-test`, so
//! the end-to-end tests of this package can spawn it
//! (`env!("CARGO_BIN_EXE_snapact-host-under-test")`: Cargo only tells a
//! package's tests where its own binaries are).

use std::process::ExitCode;

fn main() -> ExitCode {
    snapact_host::cli::main()
}
