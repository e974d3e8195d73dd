//! The integration test binary (one binary, as wasmtime and ripgrep do):
//! real Wasm components, real SQLite files, real HTTP on 127.0.0.1.

mod conformance;
mod containment;
mod loading;
mod operations;
mod orders;
mod pipeline;
mod pos;
mod registry;
mod reload;
mod scaffold;
mod webhooks;
