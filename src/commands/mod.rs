//! One thin file per subcommand: arguments → domain call → output.

mod backup;
mod cleanup;
mod config;
mod control;
mod conversation;
mod demo;
mod doctor;
mod export;
mod export_html;
mod import;
mod link;
mod media;
mod outbox;
mod process_once;
mod search;
mod send;
mod show;
mod simulate;
mod stats;
mod sync;
mod vacuum;
mod vitality;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::cli::{Cli, Command, ConfigCommand, Global, MediaCommand, OutboxCommand};
use crate::config::{Config, Source};
use crate::db::Db;
// Resolving a chat is domain code the MCP server shares; commands keep their short name.
use crate::chats::{Names, resolve as resolve_chat, resolve_given as resolve_optional_chat};

pub fn run(cli: Cli) -> Result<()> {
    let global = &cli.global;
    match cli.command {
        Command::Import(args) => import::run(global, &args),
        Command::Stats(args) => stats::run(global, &args),
        Command::Config(ConfigCommand::Check(args)) => config::check(global, &args),
        Command::Completions { shell } => {
            // Rendered first, then written: the generator panics on a closed pipe
            // (`wabot completions fish | head -1`), a plain write just reports it.
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "wabot", &mut script);
            crate::output::write_all(&script)
        }
        Command::Man { dir: None } => {
            let mut page = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut page)?;
            crate::output::write_all(&page)
        }
        // The main page names wabot-search(1) and the others: they exist only this way.
        Command::Man { dir: Some(dir) } => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("--dir: cannot create {}", dir.display()))?;
            clap_mangen::generate_to(<Cli as clap::CommandFactory>::command(), &dir)
                .with_context(|| format!("--dir: cannot write the pages into {}", dir.display()))
        }
        Command::Pair(args) => link::pair(global, &args),
        Command::Listen => link::listen(global),
        Command::ProcessOnce(args) => process_once::run(global, &args),
        Command::Outbox(OutboxCommand::List(args)) => outbox::list(global, &args),
        Command::Outbox(OutboxCommand::Cancel { id }) => send::cancel(global, id),
        Command::Outbox(OutboxCommand::Retry { id }) => send::retry(global, id),
        Command::Search(args) => search::run(global, &args),
        Command::Show(args) => show::run(global, &args),
        Command::Export(args) => export::run(global, &args),
        Command::Pause => control::pause(global),
        Command::Resume(args) => control::resume(global, &args),
        Command::Exclude { chat } => control::exclude(global, &chat),
        Command::Include(args) => control::include(global, &args),
        Command::Retry(args) => control::retry(global, &args),
        Command::Demo(args) => demo::run(global, &args),
        Command::Doctor(args) => doctor::run(global, &args),
        Command::Chats(args) => control::chats(global, &args),
        Command::Send(args) => send::send(global, &args),
        Command::Mcp(args) => {
            let config = load_config(global)?;
            crate::mcp::serve(config, &args)
        }
        Command::Simulate(args) => simulate::run(global, &args),
        Command::Cleanup(args) => cleanup::run(global, &args),
        Command::Vitality(args) => vitality::run(global, &args),
        Command::Sync(args) => sync::run(global, &args),
        #[cfg(feature = "bench")]
        Command::ReplayEvents {
            messages,
            per_second,
            turns,
        } => {
            use crate::pipeline::linked::replay;
            let config = load_config(global)?;
            match turns {
                Some(turns) => crate::output::print_json(&replay::turns(config, turns)?),
                None => crate::output::print_json(&replay::run(config, messages, per_second)?),
            }
        }
        Command::Media(MediaCommand::Fetch { message, chat }) => {
            media::fetch(global, &message, chat.as_deref())
        }
        Command::Media(MediaCommand::Transcribe(args)) => media::transcribe(global, &args),
        Command::Backup(args) => backup::run(global, &args),
        Command::Restore(args) => backup::restore(global, &args),
        Command::Vacuum(args) => vacuum::run(global, &args),
    }
}

/// Refuses a command that only a linked device can do (exit 78) on the official APIs.
fn linked_device_only(config: &Config, command: &str) -> Result<()> {
    match config.file.transport {
        crate::config::Transport::WhatsappWeb => Ok(()),
        other => Err(crate::error::config(format!(
            "`wabot {command}` needs a linked device (transport \"whatsapp-web\"); this configuration uses transport {:?}, where the provider's console does the linking and no older history can be fetched",
            other.name()
        ))),
    }
}

fn load_config(global: &Global) -> Result<Config> {
    let config = crate::config::load(&Source {
        config: global.config.clone(),
        db: global.db.clone(),
    })?;
    crate::output::json::set_zone(config.timezone());
    Ok(config)
}

/// The database for a command that changes it; it must exist already.
fn open_db(config: &Config) -> Result<Db> {
    Ok(Db::open_existing(&config.database_path)?)
}

/// The database for a command that only reads it: read-only when it cannot be written.
fn read_db(config: &Config) -> Result<Db> {
    Ok(Db::open_for_reading(&config.database_path)?)
}

/// The database for a command that may be the first to use it (import, restore, demo).
fn create_db(config: &Config) -> Result<Db> {
    Ok(Db::open(&config.database_path)?)
}

/// Runs `work` as a logged job: the job-run log records when it ran, whether it
/// succeeded and `summarize`'s account of the result.
fn logged_job<T>(
    db: &mut Db,
    job: &str,
    work: impl FnOnce(&mut Db) -> Result<T>,
    summarize: impl FnOnce(&T) -> Value,
) -> Result<T> {
    let run = db.start_job(job)?;
    match work(db) {
        Ok(result) => {
            db.finish_job(run, true, &summarize(&result))?;
            Ok(result)
        }
        Err(err) => {
            let summary = serde_json::json!({ "error": format!("{err:#}") });
            if let Err(log_err) = db.finish_job(run, false, &summary) {
                log::warn!("could not record the failed {job} run: {log_err:#}");
            }
            Err(err)
        }
    }
}
