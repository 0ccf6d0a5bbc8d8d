//! One `sync` job: through the listener when it runs (a request row it performs, watched
//! until done), else over a connection of its own; Ctrl-C leaves every chat resumable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;

use super::engine;
use crate::checkpoint::{State, Step};
use crate::clock::{self, Polled};
use crate::config::Config;
use crate::db::{Checkpoint, Db, RequestState};
use crate::error::{self, Kind};
use crate::pipeline::linked::connect;
use crate::{interrupt, lock};

const POLL: Duration = Duration::from_millis(250);
/// Messages fetched per chat unless `--max` or the checkpoint says otherwise.
pub const DEFAULT_MAX: i64 = 500;
const BY_USER: &str = "stopped by the user (Ctrl-C)";

/// What happened to one chat: its final checkpoint, or why it never started.
pub enum Outcome {
    Ran(Checkpoint),
    NotRun(String, anyhow::Error),
}

/// Where a running sync reports its progress (a bar on a terminal, or nothing).
pub trait Watch {
    fn start(&mut self, chat: &str, max: i64);
    fn show(&mut self, checkpoint: &Checkpoint);
    fn finish(&mut self);
}

/// Syncs `chats` one after the other: through the listener when one runs, else over a
/// connection of this process (which needs the device and the lock).
pub fn sync(
    config: &Config,
    db: &mut Db,
    chats: &[String],
    step: Step,
    max: Option<i64>,
    watch: &mut dyn Watch,
) -> Result<Vec<Outcome>> {
    let interrupted = interrupt::flag()?;
    if db.listener_running()? {
        through_listener(db, chats, step, max, &interrupted, watch)
    } else {
        on_own_connection(config, db, chats, step, max, &interrupted, watch)
    }
}

/// Cancels the syncs of `chats`; each keeps its cursor for a later `--resume`.
pub fn cancel(db: &mut Db, chats: &[String]) -> Result<Vec<Outcome>> {
    Ok(chats
        .iter()
        .map(|chat| {
            match db.sync_transition(chat, Step::Cancel, None, Some("cancelled by the user")) {
                Ok(c) => Outcome::Ran(c),
                Err(e) => Outcome::NotRun(chat.clone(), e.into()),
            }
        })
        .collect())
}

fn wanted(db: &Db, chat: &str, max: Option<i64>) -> Result<i64> {
    let stored = db.sync_checkpoint(chat)?.map(|c| c.max_messages);
    Ok(max.or(stored).unwrap_or(DEFAULT_MAX))
}

fn through_listener(
    db: &mut Db,
    chats: &[String],
    step: Step,
    max: Option<i64>,
    interrupted: &AtomicBool,
    watch: &mut dyn Watch,
) -> Result<Vec<Outcome>> {
    let mut finals = Vec::new();
    for chat in chats {
        if let Err(e) = check(db, chat, step) {
            finals.push(Outcome::NotRun(chat.clone(), e));
            continue;
        }
        let wanted = wanted(db, chat, max)?;
        let id = db.queue_sync_request(chat, step, wanted)?;
        watch.start(chat, wanted);
        let polled = clock::poll_until(None, POLL, interrupted, || {
            match db.sync_request_state(id)? {
                Some(RequestState::Done) => return Ok(Some(Ok(()))),
                Some(RequestState::Failed(why)) => return Ok(Some(Err(anyhow::anyhow!("{why}")))),
                _ => {}
            }
            if let Some(c) = db.sync_checkpoint(chat)? {
                watch.show(&c);
            }
            if !db.listener_running()? {
                return Ok(Some(Err(error::failure(
                    Kind::Temporary,
                    "the listener stopped; the sync continues when it runs again",
                ))));
            }
            Ok(None)
        });
        watch.finish();
        match polled? {
            Polled::Done(Ok(())) => {}
            Polled::Done(Err(e)) => return Err(e),
            Polled::Interrupted | Polled::TimedOut => {
                if !db.withdraw_sync_request(id)? {
                    stop_by_user(db, chat)?;
                }
                return Err(error::failure(
                    Kind::Temporary,
                    format!("interrupted; `wabot sync --chat {chat} --resume` continues"),
                ));
            }
        }
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
    interrupted: &AtomicBool,
    watch: &mut dyn Watch,
) -> Result<Vec<Outcome>> {
    let lock = lock::acquire(&config.database_path)?;
    let account = connect::require_device(config)?;
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
    let mut connection = connect::connect(config, lock, &account)?;
    for chat in ready {
        let wanted = wanted(db, chat, max)?;
        if let Err(e) = db.sync_transition(chat, step, Some(wanted), None) {
            finals.push(Outcome::NotRun(chat.clone(), e.into()));
            continue;
        }
        watch.start(chat, wanted);
        let stop = || {
            interrupted
                .load(Ordering::Relaxed)
                .then(|| BY_USER.to_string())
        };
        let done = engine::run(db, &mut connection.live, chat, &stop, &mut |c| {
            watch.show(c)
        });
        watch.finish();
        finals.push(Outcome::Ran(done?));
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
        return Err(crate::db::no_anchor(chat).into());
    }
    Ok(())
}

fn stop_by_user(db: &mut Db, chat: &str) -> Result<()> {
    if db
        .sync_checkpoint(chat)?
        .is_some_and(|c| c.state == State::InProgress)
    {
        db.sync_transition(chat, Step::Interrupt, None, Some(BY_USER))?;
    }
    Ok(())
}
