//! wabot: a self-hosted WhatsApp assistant driven the Unix way.

mod agent;
mod chats;
mod cli;
mod commands;
mod config;
mod error;
mod interrupt;
mod jobs;
mod lock;
mod mcp;
mod output;
mod pipeline;
mod sending;
mod webhook;

// The library crates under the names the binary's modules use (`crate::db`, `crate::jid`):
// see ARCHITECTURE.md for what each may import.
use wabot_core::{
    account, attachment, backoff, checkpoint, clock, expiry, history, inbound, jid, kind, message,
    message_id, outbox, policy, sink, status, when,
};
use wabot_llm as llm;
use wabot_store::{self as db, files};
use wabot_whatsapp as whatsapp;

// The jobs and the arrival trigger under the short names the modules use.
use jobs::{backups, doctor, import, media, media_fetch, sync, transcripts};
use pipeline::arrival;

use std::process::ExitCode;

use clap::Parser;

/// Longer error messages are cut: a page of text helps nobody more than its start.
const MAX_ERROR_CHARS: usize = 2000;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(&cli.global);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) if error::is_nothing_found(&err) => ExitCode::from(1),
        Err(err) => {
            eprintln!(
                "wabot: {}",
                error::bounded(&format!("{err:#}"), MAX_ERROR_CHARS)
            );
            ExitCode::from(u8::try_from(error::exit_code(&err)).unwrap_or(1))
        }
    }
}

/// Logs go to stderr (journald under systemd); RUST_LOG overrides the flags.
fn init_logging(global: &cli::Global) {
    let level = match (global.quiet, global.verbose) {
        (true, _) => log::LevelFilter::Error,
        (false, 0) => log::LevelFilter::Warn,
        (false, 1) => log::LevelFilter::Info,
        (false, _) => log::LevelFilter::Debug,
    };
    // The WhatsApp library logs every retry as an error; wabot reports what matters
    // itself, so the library speaks only when asked with -v.
    let library = match level {
        log::LevelFilter::Debug => log::LevelFilter::Info,
        log::LevelFilter::Info => log::LevelFilter::Warn,
        _ => log::LevelFilter::Off,
    };
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level);
    for module in [
        "whatsapp_rust",
        "wacore",
        "wacore_binary",
        "wacore_libsignal",
        "wacore_noise",
        "wacore_appstate",
    ] {
        builder.filter_module(module, library);
    }
    builder.parse_default_env().format_timestamp_secs().init();
}
