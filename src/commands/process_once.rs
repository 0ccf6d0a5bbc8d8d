//! `wabot process-once`: one pass of the agent, for cron.

use anyhow::Result;

use super::{load_config, logged_job, open_db};
use crate::agent::{self, Agent, Summary};
use crate::chats::Names;
use crate::cli::{Global, ProcessArgs};
use crate::config::Config;
use crate::db::Db;
use crate::llm::{self, Transcriber};
use crate::output;

pub fn run(global: &Global, args: &ProcessArgs) -> Result<()> {
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    if args.dry_run || !db.has_pending()? {
        // Nothing to log: a no-op cron run stays read-only and fast, and needs no key
        // (a crontab mails every failure: nothing to answer is no failure).
        let summary = Agent::new(&config, &mut db, None).run_once()?;
        return report(args, &summary, &db, &config);
    }
    let client = Some(llm::Client::new(&config.llm, config.llm_key()?));
    let transcriber = Transcriber::from_config(&config)?;
    // A run that reached the LLM for no chat is logged as failed, like its exit code says;
    // its counts are still reported.
    let mut unreachable = None;
    let result = logged_job(
        &mut db,
        "process-once",
        |db| {
            let summary = Agent::new(&config, db, client)
                .with_transcriber(transcriber)
                .run_once()?;
            if summary.llm_down() {
                let err = agent::unreachable_error(&summary);
                unreachable = Some(summary);
                return Err(err);
            }
            Ok(summary)
        },
        |s| serde_json::to_value(s).unwrap_or_default(),
    );
    match (result, unreachable) {
        (Ok(summary), _) => report(args, &summary, &db, &config),
        (Err(err), Some(summary)) => {
            report(args, &summary, &db, &config)?;
            Err(err)
        }
        (Err(err), None) => Err(err),
    }
}

fn report(args: &ProcessArgs, s: &Summary, db: &Db, config: &Config) -> Result<()> {
    let mut names = Names::new(db, config);
    if args.output.json {
        return output::print_json_named(s, &mut names);
    }
    if args.dry_run {
        // `[]` alone would not say why nothing would be asked.
        if s.paused {
            eprintln!("processing is paused (wabot resume): nothing would be asked");
        } else if s.dry_run.is_empty() {
            eprintln!("no pending message of a monitored chat: nothing would be asked");
        }
        return output::print_json_named(&s.dry_run, &mut names);
    }
    if output::stdout_is_terminal() {
        if s.paused {
            return output::line("processing is paused (wabot resume)");
        }
        output::line(format_args!(
            "claimed {} messages: {} answered, {} failed, {} skipped, {} deferred; {} LLM calls",
            s.claimed, s.answered, s.failed, s.skipped, s.deferred, s.llm_calls
        ))?;
    }
    Ok(())
}
