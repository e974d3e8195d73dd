//! The integration test binary (one binary, as wasmtime and ripgrep do).

mod containment;
mod loading;
