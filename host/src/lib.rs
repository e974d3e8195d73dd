//! The SnapAct POS adapter host.
//!
//! One process that loads one sandboxed WebAssembly component per POS vendor
//! (an *adapter*), maps POS records to SnapAct catalog changes through it,
//! stores them durably and delivers them to SnapAct Connect. The host alone
//! holds credentials and makes network calls; adapters only translate.
//!
//! - [`runtime`]: the wasmtime engine, limits and host imports.
//! - [`registry`]: adapter packages: manifests, WIT compatibility, builds,
//!   signatures, registries and the installed adapters folder.
//! - [`catalog`]: the host's model of items and changes.
//! - [`snapact`]: SnapAct Connect client and wire types.
//! - [`outbox`]: the durable SQLite outbox and the per-shop relays.
//! - [`sandbox`]: the SnapAct Connect emulator.
//! - [`daemon`]: everything above started together for `run` and `dev`.
//! - [`config`], [`cli`], [`telemetry`], [`metrics`], [`operations`]: the
//!   operator's surface (config, commands, logs, `/metrics`, health).

pub mod catalog;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod metrics;
pub mod operations;
pub mod orders;
pub mod outbox;
pub mod poller;
pub mod pos;
pub mod registry;
pub mod runtime;
pub mod sandbox;
pub mod snapact;
pub mod telemetry;
pub mod webhooks;
