//! The official transports' side in the pipeline: the webhook server (verify → spool →
//! store → commit → 200) and the sender thread that drains the outbox through
//! [`wabot_webhooks`]' REST clients.

mod http;
pub mod listen;
mod server;
mod spool;
mod store;

pub use wabot_webhooks::{Headers, Inbound, Provider, Refusal};
