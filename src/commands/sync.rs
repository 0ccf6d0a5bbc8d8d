//! `wabot sync`: older history of a chat, through the listener when it runs, else over
//! a connection of our own; `--status` shows where every chat stands.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use comfy_table::Cell;
use serde_json::json;

use super::{load_config, open_db, resolve_chat};
use crate::cli::{Global, SyncArgs};
use crate::config::Config;
use crate::db::{Checkpoint, Db, RequestState};
use crate::error::{self, Kind};
use crate::sync::checkpoint::{State, Step};
use crate::sync::engine;
use crate::whatsapp::session::{self, Session};
use crate::{clock, lock, output};

const POLL: Duration = Duration::from_millis(250);
const DEFAULT_MAX: i64 = 500;

pub fn run(global: &Global, args: &SyncArgs) -> Result<()> {
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let monitored = monitored(&config);
    if args.status {
        return status(&mut db, &monitored, config.timezone(), args.output.json);
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
        return cancel(&mut db, &chats, &monitored, args.output.json);
    }
    let step = if args.resume {
        Step::Resume
    } else if args.restart {
        Step::Restart
    } else {
        Step::Start
    };
    let interrupted = crate::whatsapp::ctrl_c_flag();
    let listener = db
        .heartbeat()?
        .is_some_and(|b| b.is_fresh(clock::now_ms()) && b.state == "running");
    let finals = if listener {
        through_listener(&mut db, &chats, step, args.max, &interrupted)?
    } else {
        on_own_connection(&config, &mut db, &chats, step, args.max, &interrupted)?
    };
    db.refresh_sync_status(&monitored)?;
    report(finals, args.output.json)
}

fn monitored(config: &Config) -> Vec<String> {
    crate::policy::answered_entities(config)
        .into_iter()
        .map(|e| e.jid)
        .collect()
}

/// What happened to one chat: its final checkpoint, or why it never started.
enum Outcome {
    Ran(Checkpoint),
    NotRun(String, anyhow::Error),
}

fn through_listener(
    db: &mut Db,
    chats: &[String],
    step: Step,
    max: Option<i64>,
    interrupted: &AtomicBool,
) -> Result<Vec<Outcome>> {
    let mut finals = Vec::new();
    for chat in chats {
        if let Err(e) = check(db, chat, step) {
            finals.push(Outcome::NotRun(chat.clone(), e));
            continue;
        }
        let stored_max = db.sync_checkpoint(chat)?.map(|c| c.max_messages);
        let wanted = max.or(stored_max).unwrap_or(DEFAULT_MAX);
        let id = db.queue_sync_request(chat, step, wanted)?;
        let bar = Progress::new(chat, wanted);
        loop {
            if interrupted.load(Ordering::Relaxed) {
                if !db.withdraw_sync_request(id)? {
                    stop_by_user(db, chat)?;
                }
                bar.finish();
                return Err(error::failure(
                    Kind::Temporary,
                    format!("interrupted; `wabot sync --chat {chat} --resume` continues"),
                ));
            }
            match db.sync_request_state(id)? {
                Some(RequestState::Done) => break,
                Some(RequestState::Failed(why)) => {
                    bar.finish();
                    return Err(anyhow::anyhow!("{why}"));
                }
                _ => {}
            }
            if let Some(c) = db.sync_checkpoint(chat)? {
                bar.show(&c);
            }
            if !db
                .heartbeat()?
                .is_some_and(|b| b.is_fresh(clock::now_ms()) && b.state == "running")
            {
                bar.finish();
                return Err(error::failure(
                    Kind::Temporary,
                    "the listener stopped; the sync continues when it runs again",
                ));
            }
            std::thread::sleep(POLL);
        }
        bar.finish();
        if let Some(c) = db.sync_checkpoint(chat)? {
            finals.push(Outcome::Ran(c));
        }
    }
    Ok(finals)
}

fn on_own_connection(
    config: &Config,
    db: &mut Db,
    chats: &[String],
    step: Step,
    max: Option<i64>,
    interrupted: &Arc<AtomicBool>,
) -> Result<Vec<Outcome>> {
    let lock = lock::acquire(&config.database_path)?;
    session::require_device(config)?;
    db.recover_sync()?;
    let mut finals = Vec::new();
    let mut ready = Vec::new();
    for chat in chats {
        match check(db, chat, step) {
            Ok(()) => ready.push(chat),
            Err(e) => finals.push(Outcome::NotRun(chat.clone(), e)),
        }
    }
    if ready.is_empty() {
        return Ok(finals);
    }
    let mut connection = Session::connect(config, lock)?;
    for chat in ready {
        let stored_max = db.sync_checkpoint(chat)?.map(|c| c.max_messages);
        let wanted = max.or(stored_max).unwrap_or(DEFAULT_MAX);
        if let Err(e) = db.sync_transition(chat, step, Some(wanted), None) {
            finals.push(Outcome::NotRun(chat.clone(), e));
            continue;
        }
        let bar = Progress::new(chat, wanted);
        let flag = Arc::clone(interrupted);
        let stop = move || {
            flag.load(Ordering::Relaxed)
                .then(|| "stopped by the user (Ctrl-C)".to_string())
        };
        let done = engine::run(db, &mut connection.live, chat, &stop, &mut |c| bar.show(c))?;
        bar.finish();
        finals.push(Outcome::Ran(done));
        if interrupted.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(finals)
}

/// Refuses early what the listener would refuse later: a transition the checkpoint
/// does not have, or a chat with nothing to walk back from.
fn check(db: &Db, chat: &str, step: Step) -> Result<()> {
    let state = db
        .sync_checkpoint(chat)?
        .map_or(State::NotStarted, |c| c.state);
    state
        .after(step)
        .map_err(|refused| error::failure(Kind::Usage, format!("sync of {chat}: {refused}")))?;
    if matches!(step, Step::Start | Step::Restart) && !db.has_messages(chat)? {
        return Err(crate::db::no_anchor(chat));
    }
    Ok(())
}

fn stop_by_user(db: &mut Db, chat: &str) -> Result<()> {
    if db
        .sync_checkpoint(chat)?
        .is_some_and(|c| c.state == State::InProgress)
    {
        db.sync_transition(
            chat,
            Step::Interrupt,
            None,
            Some("stopped by the user (Ctrl-C)"),
        )?;
    }
    Ok(())
}

fn cancel(db: &mut Db, chats: &[String], monitored: &[String], json: bool) -> Result<()> {
    let mut finals = Vec::new();
    for chat in chats {
        finals.push(
            match db.sync_transition(chat, Step::Cancel, None, Some("cancelled by the user")) {
                Ok(c) => Outcome::Ran(c),
                Err(e) => Outcome::NotRun(chat.clone(), e),
            },
        );
    }
    db.refresh_sync_status(monitored)?;
    report(finals, json)
}

/// One line per chat (or JSON), and the exit status of the worst outcome: a failure,
/// then an interruption (75: resumable), then a chat that could not start.
fn report(finals: Vec<Outcome>, json: bool) -> Result<()> {
    if json {
        let rows: Vec<_> = finals
            .iter()
            .map(|o| match o {
                Outcome::Ran(c) => json!(c),
                Outcome::NotRun(chat, e) => json!({ "chat_jid": chat, "error": format!("{e:#}") }),
            })
            .collect();
        output::print_json(&rows)?;
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

fn status(db: &mut Db, monitored: &[String], tz: chrono_tz::Tz, json: bool) -> Result<()> {
    let overall = db.refresh_sync_status(monitored)?;
    let checkpoints = db.sync_checkpoints()?;
    let not_started: Vec<&String> = monitored
        .iter()
        .filter(|m| !checkpoints.iter().any(|c| &c.chat_jid == *m))
        .collect();
    if json {
        return output::print_json(&json!({
            "status": overall,
            "chats": checkpoints,
            "not_started": not_started,
        }));
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
        checkpoints.len() + not_started.len(),
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
    ))
}

/// A bar on a terminal; nothing otherwise (the summary line follows).
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(chat: &str, max: i64) -> Self {
        if !output::stderr_is_terminal() {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new(u64::try_from(max).unwrap_or(0));
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} messages ({elapsed})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(chat.to_string());
        Progress(Some(bar))
    }

    fn show(&self, c: &Checkpoint) {
        if let Some(bar) = &self.0 {
            bar.set_length(u64::try_from(c.max_messages).unwrap_or(0));
            bar.set_position(u64::try_from(c.messages_synced).unwrap_or(0));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
