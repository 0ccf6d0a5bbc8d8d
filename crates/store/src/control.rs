//! Global switches and remembered facts: pause state and the last configuration seen.

use crate::Result;
use rusqlite::{OptionalExtension, params};

use super::Db;
use crate::policy::SkipReason;

impl Db {
    pub fn is_paused(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT paused FROM processing_state WHERE id = 1",
            [],
            |r| r.get("paused"),
        )?)
    }

    /// Remembers the configuration's hash and entity list; when the hash changed, returns
    /// the entity list stored before (an empty list on the first run).
    pub fn note_config(
        &mut self,
        hash: &str,
        entities: &[String],
        now: i64,
    ) -> Result<Option<Vec<String>>> {
        let stored: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT config_hash, entities FROM config_state WHERE id = 1",
                [],
                |r| Ok((r.get("config_hash")?, r.get("entities")?)),
            )
            .optional()?;
        if stored.as_ref().is_some_and(|(h, _)| h == hash) {
            return Ok(None);
        }
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO config_state (id, config_hash, entities, updated_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET config_hash = excluded.config_hash,
                 entities = excluded.entities, updated_at = excluded.updated_at",
            params![hash, serde_json::json!(entities).to_string(), now],
        )?;
        tx.commit()?;
        let before = stored
            .and_then(|(_, e)| serde_json::from_str(&e).ok())
            .unwrap_or_default();
        Ok(Some(before))
    }
}

/// What to do with the messages that arrived while processing was off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeMode {
    /// Skip them: answer only what arrives from now on.
    FromNow,
    /// Answer them too.
    FromLast,
}

impl ResumeMode {
    fn as_str(self) -> &'static str {
        match self {
            ResumeMode::FromNow => "from_now",
            ResumeMode::FromLast => "from_last",
        }
    }
}

/// A chat as `wabot chats` lists it.
#[derive(Debug)]
pub struct ChatRow {
    pub jid: String,
    pub name: Option<String>,
    pub is_group: bool,
    pub excluded: bool,
    pub last_activity: Option<i64>,
    pub messages: i64,
}

impl Db {
    /// Stops processing; returns false if it was already paused.
    pub fn pause(&mut self, now: i64) -> Result<bool> {
        self.in_write(|tx| {
            let n = tx.execute(
                "UPDATE processing_state SET paused = 1, paused_at = ?1 WHERE id = 1 AND paused = 0",
                [now],
            )?;
            Ok(n == 1)
        })
    }

    /// Resumes processing; with `FromNow` the messages that arrived during the pause are
    /// skipped. Returns how many arrived (skipped or to be answered, by `mode`), or
    /// `None` if it was not paused.
    pub fn resume(&mut self, mode: ResumeMode, now: i64) -> Result<Option<usize>> {
        self.in_write(|tx| {
            let paused_at: Option<i64> = tx
                .query_row(
                    "SELECT paused_at FROM processing_state WHERE id = 1 AND paused = 1",
                    [],
                    |r| r.get("paused_at"),
                )
                .optional()?
                .flatten();
            let Some(since) = paused_at else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE processing_state SET paused = 0, resumed_at = ?1, resume_mode = ?2 WHERE id = 1",
                params![now, mode.as_str()],
            )?;
            let skipped = skip_arrivals(tx, mode, since, None)?;
            Ok(Some(skipped))
        })
    }

    pub fn exclude(&mut self, chat: &str, now: i64) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "INSERT INTO chat_tracking (chat_jid, excluded, excluded_at, updated_at) VALUES (?1, 1, ?2, ?2)
                 ON CONFLICT (chat_jid) DO UPDATE SET excluded = 1,
                     excluded_at = CASE WHEN chat_tracking.excluded = 1 THEN chat_tracking.excluded_at ELSE ?2 END,
                     updated_at = ?2",
                params![chat, now],
            )?;
            Ok(())
        })
    }

    /// Answers a chat again; returns how many waiting messages `FromNow` skipped (or
    /// `FromLast` will answer), or
    /// `None` if the chat was not excluded.
    pub fn include(&mut self, chat: &str, mode: ResumeMode, now: i64) -> Result<Option<usize>> {
        self.in_write(|tx| {
            let since: Option<i64> = tx
                .query_row(
                    "SELECT excluded_at FROM chat_tracking WHERE chat_jid = ?1 AND excluded = 1",
                    [chat],
                    |r| r.get("excluded_at"),
                )
                .optional()?
                .flatten();
            let Some(since) = since else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE chat_tracking SET excluded = 0, resume_mode = ?2, updated_at = ?3 WHERE chat_jid = ?1",
                params![chat, mode.as_str(), now],
            )?;
            let skipped = skip_arrivals(tx, mode, since, Some(chat))?;
            Ok(Some(skipped))
        })
    }

    pub fn chats(&self) -> Result<Vec<ChatRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT c.jid, c.name, c.is_group, coalesce(t.excluded, 0) AS excluded, c.last_activity,
                    (SELECT coalesce(sum(n.messages), 0) FROM message_counts n
                     WHERE n.chat_jid = c.jid) AS messages
             FROM chats c LEFT JOIN chat_tracking t ON t.chat_jid = c.jid
             ORDER BY c.last_activity DESC, c.jid",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ChatRow {
                    jid: r.get("jid")?,
                    name: r.get("name")?,
                    is_group: r.get("is_group")?,
                    excluded: r.get("excluded")?,
                    last_activity: r.get("last_activity")?,
                    messages: r.get("messages")?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

/// The pending messages stored since `since` (of one chat, or all): with `FromNow`
/// skipped with the reason, with `FromLast` left to be answered. Returns how many.
fn skip_arrivals(
    tx: &rusqlite::Transaction,
    mode: ResumeMode,
    since: i64,
    chat: Option<&str>,
) -> Result<usize> {
    if mode == ResumeMode::FromLast {
        let waiting: i64 = tx.query_row(
            "SELECT count(*) AS n FROM messages
             WHERE status = 'pending' AND created_at >= ?1 AND (?2 IS NULL OR chat_jid = ?2)",
            params![since, chat],
            |r| r.get("n"),
        )?;
        return Ok(waiting.unsigned_abs() as usize);
    }
    Ok(tx.execute(
        "UPDATE messages SET status = 'skipped', last_error = ?3, skip_reason = ?4,
             claim_token = NULL, claim_until = NULL
         WHERE status = 'pending' AND created_at >= ?1 AND (?2 IS NULL OR chat_jid = ?2)",
        params![
            since,
            chat,
            SkipReason::ArrivedWhileOff.describe(),
            SkipReason::ArrivedWhileOff.as_str()
        ],
    )?)
}
