//! `wabot sync`: older history of a chat, through the listener when it runs, else over
//! a connection of our own; `--status` shows where every chat stands.

use anyhow::Result;
use comfy_table::Cell;
use serde_json::json;

use super::{load_config, open_db, resolve_chat};
use crate::chats::Names;
use crate::checkpoint::{State, Step};
use crate::cli::{Global, SyncArgs};
use crate::config::Config;
use crate::db::{Checkpoint, Db};
use crate::error::{self, Kind};
use crate::sync::run::{self, Outcome, Watch};
use crate::{clock, output};

pub fn run(global: &Global, args: &SyncArgs) -> Result<()> {
    let config = load_config(global)?;
    super::linked_device_only(&config, "sync")?;
    let mut db = open_db(&config)?;
    let monitored = monitored(&config);
    if args.status {
        return status(&mut db, &config, &monitored, args.output.json);
    }
    let chats = match &args.chat {
        Some(chat) => vec![resolve_chat(&db, &config, chat, "--chat")?],
        None if monitored.is_empty() => {
            return Err(error::config(
                "--all-monitored: app.json lists no monitored_entities",
            ));
        }
        None => monitored.clone(),
    };
    if args.cancel {
        let finals = run::cancel(&mut db, &chats)?;
        db.refresh_sync_status(&monitored)?;
        return report(finals, args.output.json, &db, &config);
    }
    let step = if args.resume {
        Step::Resume
    } else if args.restart {
        Step::Restart
    } else {
        Step::Start
    };
    let finals = run::sync(
        &config,
        &mut db,
        &chats,
        step,
        args.max,
        &mut Progress(None),
    )?;
    db.refresh_sync_status(&monitored)?;
    report(finals, args.output.json, &db, &config)
}

fn monitored(config: &Config) -> Vec<String> {
    crate::policy::answered_entities(config)
        .into_iter()
        .map(|e| e.jid)
        .collect()
}

/// One line per chat (or JSON), and the exit status of the worst outcome: a failure,
/// then an interruption (75: resumable), then a chat that could not start.
fn report(finals: Vec<Outcome>, json: bool, db: &Db, config: &Config) -> Result<()> {
    if json {
        let rows: Vec<_> = finals
            .iter()
            .map(|o| match o {
                Outcome::Ran(c) => json!(c),
                Outcome::NotRun(chat, e) => json!({ "chat_jid": chat, "error": format!("{e:#}") }),
            })
            .collect();
        output::print_json_named(&rows, &mut Names::new(db, config))?;
    } else {
        for outcome in &finals {
            match outcome {
                Outcome::Ran(c) => output::line(summary(c))?,
                Outcome::NotRun(chat, e) => {
                    output::line(format_args!("{chat}: not synced: {e:#}"))?
                }
            }
        }
    }
    let ran = || {
        finals.iter().filter_map(|o| match o {
            Outcome::Ran(c) => Some(c),
            Outcome::NotRun(..) => None,
        })
    };
    if let Some(c) = ran().find(|c| c.state == State::Failed) {
        anyhow::bail!(
            "the sync of {} failed: {}",
            c.chat_jid,
            c.error_message.as_deref().unwrap_or("no reason given")
        );
    }
    if let Some(c) = ran().find(|c| c.state == State::Interrupted) {
        return Err(error::failure(
            Kind::Temporary,
            format!(
                "the sync of {} was interrupted: {}; `wabot sync --chat {} --resume` continues",
                c.chat_jid,
                c.error_message.as_deref().unwrap_or("no reason given"),
                c.chat_jid
            ),
        ));
    }
    match finals.into_iter().find_map(|o| match o {
        Outcome::NotRun(_, e) => Some(e),
        Outcome::Ran(_) => None,
    }) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn summary(c: &Checkpoint) -> String {
    let mut line = format!(
        "{}: {}, {} messages ({}%)",
        c.chat_jid, c.state, c.messages_synced, c.progress_percent
    );
    if let Some(error) = &c.error_message {
        line.push_str(&format!(": {error}"));
    }
    line
}

fn status(db: &mut Db, config: &Config, monitored: &[String], json: bool) -> Result<()> {
    let tz = config.timezone();
    let overall = db.refresh_sync_status(monitored)?;
    let checkpoints = db.sync_checkpoints()?;
    let not_started: Vec<&String> = monitored
        .iter()
        .filter(|m| !checkpoints.iter().any(|c| &c.chat_jid == *m))
        .collect();
    let chunks = db.history_chunk_counts()?;
    if json {
        let mut names = Names::new(db, config);
        let not_started: Vec<_> = not_started
            .iter()
            .map(|chat| output::shapes::chat_ref(chat, &mut names))
            .collect();
        let shown = json!({
            "status": overall,
            "chats": checkpoints,
            "not_started": not_started,
            "history_chunks": chunks,
        });
        return output::print_json_named(&shown, &mut names);
    }
    let mut table = output::table();
    table.set_header([
        "chat",
        "state",
        "messages",
        "progress",
        "oldest fetched",
        "note",
    ]);
    for c in &checkpoints {
        table.add_row([
            Cell::new(&c.chat_jid),
            Cell::new(c.state),
            Cell::new(format!("{} / {}", c.messages_synced, c.max_messages)),
            Cell::new(format!("{}%", c.progress_percent)),
            Cell::new(
                c.cursor
                    .as_ref()
                    .map(|k| clock::display(k.timestamp_ms, tz))
                    .unwrap_or_default(),
            ),
            Cell::new(c.error_message.as_deref().unwrap_or_default()),
        ]);
    }
    for chat in &not_started {
        table.add_row([
            Cell::new(chat),
            Cell::new("not_started"),
            Cell::new("0"),
            Cell::new("0%"),
            Cell::new(""),
            Cell::new(""),
        ]);
    }
    output::line(table)?;
    output::line(format_args!(
        "{} of {} chats completed, {} messages fetched{}{}",
        overall.completed_chats,
        overall.total_chats,
        overall.messages_synced,
        if overall.is_syncing {
            ", syncing now"
        } else {
            ""
        },
        if overall.is_latest {
            ", every monitored chat is complete"
        } else {
            ""
        }
    ))?;
    output::line(format_args!(
        "history from WhatsApp: {} chunks pushed{}, {} asked for, {} answered, {} messages stored{}{}",
        chunks.pushed,
        chunks
            .last_progress
            .map_or(String::new(), |p| format!(" (last at {p}%)")),
        chunks.asked,
        chunks.requested,
        chunks.messages,
        if chunks.waiting > 0 {
            format!(
                ", {} waiting to be stored at the next start",
                chunks.waiting
            )
        } else {
            String::new()
        },
        if chunks.unreadable > 0 {
            format!(", {} unreadable (kept)", chunks.unreadable)
        } else {
            String::new()
        }
    ))
}

/// A bar per chat on a terminal; nothing otherwise (the summary line follows).
struct Progress(Option<indicatif::ProgressBar>);

impl Watch for Progress {
    fn start(&mut self, chat: &str, max: i64) {
        let bar = output::progress_bar(
            u64::try_from(max).unwrap_or(0),
            "{msg} [{bar:30}] {pos}/{len} messages ({elapsed})",
            false,
        );
        bar.set_message(chat.to_string());
        self.0 = Some(bar);
    }

    fn show(&mut self, c: &Checkpoint) {
        if let Some(bar) = &self.0 {
            bar.set_length(u64::try_from(c.max_messages).unwrap_or(0));
            bar.set_position(u64::try_from(c.messages_synced).unwrap_or(0));
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}
