//! The integration test binary (one binary, as wasmtime and ripgrep do).

mod conformance;
mod containment;
mod loading;
