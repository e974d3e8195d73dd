//! The SnapAct POS adapter host.
//!
//! One process that loads one sandboxed WebAssembly component per POS vendor
//! (an *adapter*), maps POS records to SnapAct catalog changes through it,
//! stores them durably and delivers them to SnapAct Connect. The host alone
//! holds credentials and makes network calls; adapters only translate.

pub mod catalog;
pub mod outbox;
pub mod sandbox;
pub mod snapact;
