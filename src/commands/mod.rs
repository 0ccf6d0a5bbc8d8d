//! One thin file per subcommand: arguments → domain call → output.

mod backup;
mod cleanup;
mod config;
mod control;
mod import;
mod link;
mod media;
mod outbox;
mod process_once;
mod search;
mod send;
mod simulate;
mod stats;
mod sync;
mod vacuum;
mod vitality;

use anyhow::Result;
use serde_json::Value;

use crate::cli::{Cli, Command, ConfigCommand, Global, MediaCommand, OutboxCommand};
use crate::config::{Config, Source};
use crate::db::Db;
use crate::error::{self, Kind};
use crate::jid;

pub fn run(cli: Cli) -> Result<()> {
    let global = &cli.global;
    match cli.command {
        Command::Import(args) => import::run(global, &args),
        Command::Stats(args) => stats::run(global, &args),
        Command::Config(ConfigCommand::Check(args)) => config::check(global, &args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "wabot", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            let page = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
            page.render(&mut std::io::stdout())?;
            Ok(())
        }
        Command::Pair(args) => link::pair(global, &args),
        Command::Listen => link::listen(global),
        Command::ProcessOnce(args) => process_once::run(global, &args),
        Command::Outbox(OutboxCommand::List(args)) => outbox::list(global, &args),
        Command::Outbox(OutboxCommand::Cancel { id }) => send::cancel(global, id),
        Command::Outbox(OutboxCommand::Retry { id }) => send::retry(global, id),
        Command::Search(args) => search::run(global, &args),
        Command::Pause => control::pause(global),
        Command::Resume(args) => control::resume(global, &args),
        Command::Exclude { chat } => control::exclude(global, &chat),
        Command::Include(args) => control::include(global, &args),
        Command::Retry(args) => control::retry(global, &args),
        Command::Chats(args) => control::chats(global, &args),
        Command::Send(args) => send::send(global, &args),
        Command::Simulate(args) => simulate::run(global, &args),
        Command::Cleanup(args) => cleanup::run(global, &args),
        Command::Vitality(args) => vitality::run(global, &args),
        Command::Sync(args) => sync::run(global, &args),
        Command::ReplayEvents { messages } => {
            let replayed = crate::whatsapp::replay::run(load_config(global)?, messages)?;
            crate::output::print_json(&replayed)
        }
        Command::Media(MediaCommand::Fetch { message, chat }) => {
            media::fetch(global, &message, chat.as_deref())
        }
        Command::Backup(args) => backup::run(global, &args),
        Command::Restore(args) => backup::restore(global, &args),
        Command::Vacuum(args) => vacuum::run(global, &args),
    }
}

fn load_config(global: &Global) -> Result<Config> {
    Config::load(&Source {
        config: global.config.clone(),
        db: global.db.clone(),
    })
}

/// The database for a command that changes it; it must exist already.
fn open_db(config: &Config) -> Result<Db> {
    Db::open_existing(&config.database_path)
}

/// The database for a command that only reads it: read-only when it cannot be written.
fn read_db(config: &Config) -> Result<Db> {
    Db::open_for_reading(&config.database_path)
}

/// The database for a command that may be the first to use it (import, restore, demo).
fn create_db(config: &Config) -> Result<Db> {
    Db::open(&config.database_path)
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

/// A chat named on the command line: a phone number or JID as given, or the one chat,
/// contact or monitored entity with that name.
pub fn resolve_chat(db: &Db, config: &Config, to: &str, what: &str) -> Result<String> {
    if let Ok(jid) = jid::normalize(to) {
        return Ok(jid);
    }
    let mut candidates = db.find_by_name(to)?;
    candidates.extend(
        config
            .entities
            .iter()
            .filter(|e| e.name.eq_ignore_ascii_case(to))
            .map(|e| (e.jid.clone(), e.name.clone())),
    );
    candidates.sort();
    candidates.dedup_by(|a, b| a.0 == b.0);
    match candidates.as_slice() {
        [] => Err(error::failure(
            Kind::Usage,
            format!(
                "{what}: no chat or contact is named {to:?} (give a phone number, a JID or a name)"
            ),
        )),
        [(jid, _)] => Ok(jid.clone()),
        many => Err(error::failure(
            Kind::Usage,
            format!(
                "{what}: {to:?} is ambiguous: {}",
                many.iter()
                    .map(|(j, n)| format!("{n} ({j})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}
