//! wabot's types and rules: what a message is, who is answered, when memory expires,
//! what the configuration means, and how failures map to exit codes.
//!
//! # Layout
//! - [`inbound`]: a received batch as the ingest takes it; [`sink`]: where a connected
//!   transport hands it, with history, deliveries and the account's [`account`] standing.
//! - [`history`]: on-demand history's cursor, answer and source.
//! - [`message`], [`kind`], [`attachment`], [`jid`], [`message_id`]: the records every
//!   transport produces and every job reads.
//! - [`outbox`]: a reply on its way out and the [`outbox::Transport`] trait every
//!   transport implements.
//! - [`policy`]: the one answer rule; [`expiry`]: when a conversation's memory ends;
//!   [`checkpoint`]: the history-sync checkpoint's states; [`backoff`]: the one retry curve.
//! - [`config`]: app.json as typed, validated values (reading the file and the secrets is
//!   the binary's job; this crate only parses text it is given).
//! - [`clock`]: instants as Unix milliseconds; [`error`]: failure kinds and exit codes.
//! - [`status`]: the states stored rows move through, as types.
//!
//! # What it may use
//! No other crate of the workspace, and no I/O: no rusqlite, ureq, tokio or
//! whatsapp-rust. Everything here is a pure function of its arguments (and of the
//! current time, read through [`clock`]), so it is tested without a database or network.

pub mod account;
pub mod attachment;
pub mod backoff;
pub mod checkpoint;
pub mod clock;
pub mod config;
pub mod error;
pub mod expiry;
pub mod history;
pub mod inbound;
pub mod jid;
pub mod kind;
pub mod message;
pub mod message_id;
pub mod outbox;
pub mod policy;
pub mod sink;
pub mod status;
pub mod when;
