//! The way every transport's messages go: in through one [`ingest`], out through one
//! [`drain`].
//!
//! The linked device and the official APIs each implement
//! [`crate::outbox::Transport`]; the drain decides when a row goes and what a failure
//! means, once for all of them.

pub mod arrival;
pub mod delivery;
pub mod drain;
pub mod history;
pub mod ingest;
pub mod linked;
pub mod listen;
pub mod receipts;
