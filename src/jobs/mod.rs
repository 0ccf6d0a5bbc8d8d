//! The jobs: short runs against the database that cron (or a command) starts, each
//! leaving a state from which a killed run continues. The commands in
//! `crate::commands` parse arguments and call these; the listener runs `sync` requests
//! and media downloads through the same code.
//!
//! - [`sync`]: on-demand history, chat by chat, resumable from its checkpoint.
//! - [`import`]: chat exports and JSONL into the archive.
//! - [`media`], [`media_fetch`]: downloads of received files, by whichever transport.
//! - [`transcripts`]: voice notes to text.
//! - [`backups`]: verified copies through SQLite's backup API; [`cleanup`]: retention.
//! - [`vitality`]: the daily message that proves the listener delivers.
//! - [`doctor`]: what is wrong with this installation, and how to fix it.

pub mod backups;
pub mod cleanup;
pub mod doctor;
pub mod import;
pub mod media;
pub mod media_fetch;
pub mod sync;
pub mod transcripts;
pub mod vitality;
