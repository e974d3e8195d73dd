//! The durable sync pipeline: outbox store semantics, delivery through the
//! relay to the sandbox (with faults), the sandbox's contract, and the whole
//! pipeline as real processes killed at random moments.

mod delivery;
mod processes;
mod sandbox;
mod store;
pub(crate) mod support;
