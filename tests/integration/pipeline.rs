//! The durable sync pipeline: outbox store semantics, delivery through the
//! relay to the sandbox (with faults), and the sandbox's contract.

mod delivery;
mod sandbox;
mod store;
pub(crate) mod support;
