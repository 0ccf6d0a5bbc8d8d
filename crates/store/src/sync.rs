//! History sync state: per-chat checkpoints, requests to the listener, and the global
//! status row. Checkpoints change only through [`State::after`].

use crate::Result;
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::Serialize;

use super::Db;
use crate::checkpoint::{State, Step};
use crate::clock;
use crate::error::Error;
pub use wabot_core::history::Cursor;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checkpoint {
    pub chat_jid: String,
    #[serde(serialize_with = "state_name")]
    pub state: State,
    pub cursor: Option<Cursor>,
    pub messages_synced: i64,
    pub max_messages: i64,
    pub progress_percent: i64,
    pub error_message: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
}

fn state_name<S: serde::Serializer>(state: &State, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(state.as_str())
}

impl Checkpoint {
    /// Messages still wanted before the sync is complete.
    pub fn remaining(&self) -> i64 {
        (self.max_messages - self.messages_synced).max(0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncStatus {
    pub is_syncing: bool,
    pub total_chats: i64,
    pub completed_chats: i64,
    pub messages_synced: i64,
    #[serde(rename = "last_sync_at")]
    pub last_sync_time: Option<i64>,
    /// Every monitored chat has completed its sync.
    pub is_latest: bool,
}

/// A sync the listener is asked to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: i64,
    pub chat_jid: String,
    pub step: Step,
    pub max_messages: i64,
}

/// Where a request stands, for the `sync` process waiting on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestState {
    Queued,
    Running,
    Done,
    Failed(String),
}

const COLUMNS: &str =
    "chat_jid, state, cursor_id, cursor_timestamp, cursor_from_me, messages_synced,
     max_messages, progress_percent, error_message, created_at, updated_at, completed_at";

impl Checkpoint {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let state: String = row.get("state")?;
        let cursor = match (
            row.get("cursor_id")?,
            row.get("cursor_timestamp")?,
            row.get("cursor_from_me")?,
        ) {
            (Some(id), Some(timestamp_ms), Some(from_me)) => Some(Cursor {
                id,
                timestamp_ms,
                from_me,
            }),
            _ => None,
        };
        Ok(Checkpoint {
            chat_jid: row.get("chat_jid")?,
            // The table's CHECK constraint admits exactly the names State knows.
            state: State::parse(&state).unwrap_or(State::Failed),
            cursor,
            messages_synced: row.get("messages_synced")?,
            max_messages: row.get("max_messages")?,
            progress_percent: row.get("progress_percent")?,
            error_message: row.get("error_message")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
            completed_at: row.get("completed_at")?,
        })
    }
}

fn load(tx: &Transaction<'_>, chat: &str) -> Result<Option<Checkpoint>> {
    Ok(tx
        .query_row(
            &format!("SELECT {COLUMNS} FROM sync_checkpoints WHERE chat_jid = ?1"),
            [chat],
            Checkpoint::from_row,
        )
        .optional()?)
}

/// The oldest stored message of a chat: the anchor a fresh sync walks back from.
fn anchor(tx: &Transaction<'_>, chat: &str) -> Result<Option<Cursor>> {
    Ok(tx
        .query_row(
            "SELECT id, timestamp, is_from_me FROM messages WHERE chat_jid = ?1
             ORDER BY timestamp, pk LIMIT 1",
            [chat],
            |r| {
                Ok(Cursor {
                    id: r.get("id")?,
                    timestamp_ms: r.get("timestamp")?,
                    from_me: r.get("is_from_me")?,
                })
            },
        )
        .optional()?)
}

/// A chat without a stored message has nothing a sync could walk back from (exit 69).
pub fn no_anchor(chat: &str) -> Error {
    Error::NoAnchor {
        chat: chat.to_string(),
    }
}

fn step_name(step: Step) -> &'static str {
    match step {
        Step::Resume => "resume",
        Step::Restart => "restart",
        _ => "start",
    }
}

fn parse_step(action: &str) -> Step {
    match action {
        "resume" => Step::Resume,
        "restart" => Step::Restart,
        _ => Step::Start,
    }
}

impl Db {
    pub fn sync_checkpoint(&self, chat: &str) -> Result<Option<Checkpoint>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM sync_checkpoints WHERE chat_jid = ?1"),
                [chat],
                Checkpoint::from_row,
            )
            .optional()?)
    }

    pub fn has_messages(&self, chat: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM messages WHERE chat_jid = ?1 LIMIT 1")?
            .exists([chat])?)
    }

    pub fn sync_checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM sync_checkpoints ORDER BY chat_jid"
        ))?;
        let rows = stmt.query_map([], Checkpoint::from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Takes `step` on the chat's checkpoint (a missing one is `not_started`). Start and
    /// restart anchor the cursor at the chat's oldest stored message; `max` replaces the
    /// wanted count, `detail` is kept as the error message of a stop.
    pub fn sync_transition(
        &mut self,
        chat: &str,
        step: Step,
        max: Option<i64>,
        detail: Option<&str>,
    ) -> Result<Checkpoint> {
        let now = clock::now_ms();
        self.in_write(|tx| {
            let current = load(tx, chat)?;
            let from = current.as_ref().map_or(State::NotStarted, |c| c.state);
            let to = from
                .after(step)
                .map_err(|refused| Error::Refused {
                    chat: chat.to_string(),
                    refused,
                })?;
            match step {
                Step::Start | Step::Restart => {
                    let Some(cursor) = anchor(tx, chat)? else {
                        return Err(no_anchor(chat));
                    };
                    tx.execute(
                        "INSERT INTO sync_checkpoints (chat_jid, state, cursor_id, cursor_timestamp,
                             cursor_from_me, messages_synced, max_messages, progress_percent,
                             error_message, created_at, updated_at, completed_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, 0, NULL, ?7, ?7, NULL)
                         ON CONFLICT (chat_jid) DO UPDATE SET state = excluded.state,
                             cursor_id = excluded.cursor_id, cursor_timestamp = excluded.cursor_timestamp,
                             cursor_from_me = excluded.cursor_from_me, messages_synced = 0,
                             max_messages = excluded.max_messages, progress_percent = 0,
                             error_message = NULL, updated_at = excluded.updated_at, completed_at = NULL",
                        params![
                            chat,
                            to.as_str(),
                            cursor.id,
                            cursor.timestamp_ms,
                            cursor.from_me,
                            max.or(current.map(|c| c.max_messages)).unwrap_or(500),
                            now
                        ],
                    )?;
                }
                Step::Resume => {
                    tx.execute(
                        "UPDATE sync_checkpoints SET state = ?2, error_message = NULL, updated_at = ?3,
                             max_messages = coalesce(?4, max_messages),
                             progress_percent = min(100, messages_synced * 100 / max(1, coalesce(?4, max_messages)))
                         WHERE chat_jid = ?1",
                        params![chat, to.as_str(), now, max],
                    )?;
                }
                Step::Complete => {
                    tx.execute(
                        "UPDATE sync_checkpoints SET state = ?2, progress_percent = 100, error_message = NULL,
                             updated_at = ?3, completed_at = ?3 WHERE chat_jid = ?1",
                        params![chat, to.as_str(), now],
                    )?;
                }
                Step::Interrupt | Step::Cancel | Step::Fail => {
                    tx.execute(
                        "UPDATE sync_checkpoints SET state = ?2, error_message = ?3, updated_at = ?4
                         WHERE chat_jid = ?1",
                        params![chat, to.as_str(), detail, now],
                    )?;
                }
            }
            let stored = load(tx, chat)?.ok_or_else(|| Error::NotFound {
                what: "sync checkpoint",
                key: chat.to_string(),
            })?;
            Ok(stored)
        })
    }

    /// Records a batch of `received` messages older than the cursor, moving the cursor
    /// to `oldest`. Returns `None`, changing nothing, when the sync is no longer in
    /// progress (it was cancelled or interrupted from outside meanwhile).
    pub fn sync_advance(
        &mut self,
        chat: &str,
        oldest: &Cursor,
        received: i64,
    ) -> Result<Option<Checkpoint>> {
        let now = clock::now_ms();
        self.in_write(|tx| {
            let changed = tx.execute(
                "UPDATE sync_checkpoints SET cursor_id = ?2, cursor_timestamp = ?3, cursor_from_me = ?4,
                     messages_synced = messages_synced + ?5, updated_at = ?6,
                     progress_percent = min(100, (messages_synced + ?5) * 100 / max(1, max_messages))
                 WHERE chat_jid = ?1 AND state = 'in_progress'",
                params![
                    chat,
                    oldest.id,
                    oldest.timestamp_ms,
                    oldest.from_me,
                    received,
                    now
                ],
            )?;
            if changed == 0 {
                return Ok(None);
            }
            tx.execute(
                "UPDATE sync_status SET last_sync_time = ?1 WHERE id = 1",
                [now],
            )?;
            let stored = load(tx, chat)?;
            Ok(stored)
        })
    }

    /// After a crash nobody works on an `in_progress` checkpoint any more: it becomes
    /// `interrupted` (resumable), and requests that were running are queued again as
    /// resumes so the next listener finishes them. Call with the lock held.
    pub fn recover_sync(&mut self) -> Result<usize> {
        let now = clock::now_ms();
        self.in_write(|tx| {
            let chats: Vec<String> = {
                let mut stmt = tx
                    .prepare("SELECT chat_jid FROM sync_checkpoints WHERE state = 'in_progress'")?;
                stmt.query_map([], |r| r.get("chat_jid"))?
                    .collect::<rusqlite::Result<_>>()?
            };
            tx.execute(
                "UPDATE sync_checkpoints SET state = 'interrupted', updated_at = ?1,
                     error_message = 'the process running the sync stopped before it finished'
                 WHERE state = 'in_progress'",
                [now],
            )?;
            tx.execute(
                "UPDATE sync_requests SET status = 'queued', action = 'resume', updated_at = ?1
                 WHERE status = 'running'",
                [now],
            )?;
            Ok(chats.len())
        })
    }

    /// Recomputes the global status row from the checkpoints; `monitored` are the chats
    /// that must all be completed for the history to count as latest, and that count
    /// among the chats whether or not their sync has started.
    pub fn refresh_sync_status(&mut self, monitored: &[String]) -> Result<SyncStatus> {
        self.in_write(|tx| {
            let (missing, not_started) = {
                let mut state =
                    tx.prepare_cached("SELECT state FROM sync_checkpoints WHERE chat_jid = ?1")?;
                let (mut missing, mut not_started) = (0, 0);
                for chat in monitored {
                    let found: Option<String> =
                        state.query_row([chat], |r| r.get(0)).optional()?;
                    missing += i64::from(found.as_deref() != Some("completed"));
                    not_started += i64::from(found.is_none());
                }
                (missing, not_started)
            };
            tx.execute(
                "UPDATE sync_status SET
                     is_syncing = EXISTS (SELECT 1 FROM sync_checkpoints WHERE state = 'in_progress'),
                     total_chats = (SELECT count(*) FROM sync_checkpoints) + ?2,
                     completed_chats = (SELECT count(*) FROM sync_checkpoints WHERE state = 'completed'),
                     messages_synced = (SELECT coalesce(sum(messages_synced), 0) FROM sync_checkpoints),
                     is_latest = ?1
                 WHERE id = 1",
                params![missing == 0 && !monitored.is_empty(), not_started],
            )?;
            let status = tx.query_row(
                "SELECT is_syncing, total_chats, completed_chats, messages_synced, last_sync_time, is_latest
                 FROM sync_status WHERE id = 1",
                [],
                |r| {
                    Ok(SyncStatus {
                        is_syncing: r.get("is_syncing")?,
                        total_chats: r.get("total_chats")?,
                        completed_chats: r.get("completed_chats")?,
                        messages_synced: r.get("messages_synced")?,
                        last_sync_time: r.get("last_sync_time")?,
                        is_latest: r.get("is_latest")?,
                    })
                },
            )?;
            Ok(status)
        })
    }

    /// Counts history pushed by WhatsApp itself (after pairing) into the global status.
    pub fn record_pushed_history(&mut self, messages: i64, done: bool) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "UPDATE sync_status SET last_sync_time = ?1, is_syncing = ?2 WHERE id = 1",
                params![clock::now_ms(), !done && messages > 0],
            )?;
            Ok(())
        })
    }

    pub fn queue_sync_request(&mut self, chat: &str, step: Step, max: i64) -> Result<i64> {
        let now = clock::now_ms();
        self.in_write(|tx| {
            tx.execute(
                "INSERT INTO sync_requests (chat_jid, action, max_messages, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![chat, step_name(step), max, now],
            )?;
            let id = tx.last_insert_rowid();
            Ok(id)
        })
    }

    /// Claims the oldest queued request.
    pub fn next_sync_request(&mut self) -> Result<Option<Request>> {
        self.in_write(|tx| {
            let request = tx
                .query_row(
                    "SELECT id, chat_jid, action, max_messages FROM sync_requests
                     WHERE status = 'queued' ORDER BY id LIMIT 1",
                    [],
                    |r| {
                        Ok(Request {
                            id: r.get("id")?,
                            chat_jid: r.get("chat_jid")?,
                            step: parse_step(&r.get::<_, String>("action")?),
                            max_messages: r.get("max_messages")?,
                        })
                    },
                )
                .optional()?;
            if let Some(request) = &request {
                tx.execute(
                    "UPDATE sync_requests SET status = 'running', updated_at = ?2 WHERE id = ?1",
                    params![request.id, clock::now_ms()],
                )?;
            }
            Ok(request)
        })
    }

    /// Marks a request done, or failed with the reason the waiting `sync` shows.
    pub fn finish_sync_request(&mut self, id: i64, error: Option<&str>) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "UPDATE sync_requests SET status = ?2, error = ?3, updated_at = ?4 WHERE id = ?1",
                params![
                    id,
                    if error.is_none() { "done" } else { "failed" },
                    error,
                    clock::now_ms()
                ],
            )?;
            Ok(())
        })
    }

    pub fn sync_request_state(&self, id: i64) -> Result<Option<RequestState>> {
        let row: Option<(String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT status, error FROM sync_requests WHERE id = ?1",
                [id],
                |r| Ok((r.get("status")?, r.get("error")?)),
            )
            .optional()?;
        Ok(row.map(|(status, error)| match status.as_str() {
            "queued" => RequestState::Queued,
            "running" => RequestState::Running,
            "done" => RequestState::Done,
            _ => RequestState::Failed(error.unwrap_or_default()),
        }))
    }

    /// Withdraws a request nobody has picked up yet; false if it is already running.
    pub fn withdraw_sync_request(&mut self, id: i64) -> Result<bool> {
        self.in_write(|tx| {
            let n = tx.execute(
                "DELETE FROM sync_requests WHERE id = ?1 AND status = 'queued'",
                [id],
            )?;
            Ok(n == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MessageStatus, NewMessage, Origin};

    const CHAT: &str = "15550001111@s.whatsapp.net";

    fn db_with_message() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let m = NewMessage::text(Origin::Live, CHAT, "oldest", 1_700_000_000_000, "hi");
        db.ingest(vec![m], &|_| Some(MessageStatus::History))
            .unwrap();
        (dir, db)
    }

    #[test]
    fn start_anchors_at_the_oldest_message_and_batches_move_the_cursor() {
        let (_dir, mut db) = db_with_message();
        let c = db
            .sync_transition(CHAT, Step::Start, Some(120), None)
            .unwrap();
        assert_eq!(c.state, State::InProgress);
        assert_eq!(c.cursor.as_ref().unwrap().id, "oldest");
        let older = Cursor {
            id: "older".into(),
            timestamp_ms: 1_600_000_000_000,
            from_me: true,
        };
        let c = db.sync_advance(CHAT, &older, 30).unwrap().unwrap();
        assert_eq!(
            (c.messages_synced, c.progress_percent, c.cursor),
            (30, 25, Some(older))
        );
        let c = db
            .sync_transition(CHAT, Step::Interrupt, None, Some("phone offline"))
            .unwrap();
        assert_eq!(c.error_message.as_deref(), Some("phone offline"));
        assert!(
            db.sync_advance(CHAT, &c.cursor.clone().unwrap(), 5)
                .unwrap()
                .is_none(),
            "an interrupted sync takes no more batches"
        );
        let c = db.sync_transition(CHAT, Step::Resume, None, None).unwrap();
        assert_eq!(
            (c.state, c.messages_synced, c.cursor.unwrap().id.as_str()),
            (State::InProgress, 30, "older"),
            "resume keeps the cursor"
        );
    }

    #[test]
    fn a_chat_without_messages_has_no_anchor() {
        let (_dir, mut db) = db_with_message();
        let err = db
            .sync_transition("15550002222@s.whatsapp.net", Step::Start, None, None)
            .unwrap_err();
        assert_eq!(err.kind(), Some(wabot_core::error::Kind::Unavailable));
        assert!(err.to_string().contains("import"), "{err}");
        assert!(db.sync_checkpoints().unwrap().is_empty());
    }

    #[test]
    fn recovery_interrupts_orphaned_work_and_requeues_running_requests() {
        let (_dir, mut db) = db_with_message();
        let id = db.queue_sync_request(CHAT, Step::Start, 100).unwrap();
        let request = db.next_sync_request().unwrap().unwrap();
        assert_eq!((request.id, request.step), (id, Step::Start));
        db.sync_transition(CHAT, Step::Start, Some(100), None)
            .unwrap();
        assert_eq!(db.recover_sync().unwrap(), 1);
        assert_eq!(
            db.sync_checkpoint(CHAT).unwrap().unwrap().state,
            State::Interrupted
        );
        let again = db.next_sync_request().unwrap().unwrap();
        assert_eq!(
            (again.id, again.step),
            (id, Step::Resume),
            "the same request comes back as a resume"
        );
    }

    #[test]
    fn status_is_latest_only_when_every_monitored_chat_completed() {
        let (_dir, mut db) = db_with_message();
        let monitored = vec![CHAT.to_string()];
        assert!(!db.refresh_sync_status(&monitored).unwrap().is_latest);
        db.sync_transition(CHAT, Step::Start, None, None).unwrap();
        let s = db.refresh_sync_status(&monitored).unwrap();
        assert!(s.is_syncing && !s.is_latest);
        db.sync_transition(CHAT, Step::Complete, None, None)
            .unwrap();
        let s = db.refresh_sync_status(&monitored).unwrap();
        assert!(!s.is_syncing && s.is_latest);
        assert_eq!((s.total_chats, s.completed_chats), (1, 1));
        let more = vec![CHAT.to_string(), "15550002222@s.whatsapp.net".into()];
        assert!(!db.refresh_sync_status(&more).unwrap().is_latest);
    }
}
