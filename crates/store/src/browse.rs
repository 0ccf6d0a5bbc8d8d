//! Reading the archive page by page: a chat's messages around a point, one message,
//! contacts by name or number, and how many messages wait for an answer per chat.
//! The queries the MCP server needs beyond search and `chats`.

use std::collections::HashMap;

use crate::Result;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::Db;
use crate::columns::parsed;
use crate::kind::MessageKind;

/// One stored message as a reader sees it.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub chat_jid: String,
    pub id: String,
    pub sender: String,
    pub push_name: Option<String>,
    pub is_from_me: bool,
    pub timestamp: i64,
    pub message_type: MessageKind,
    pub content: String,
    pub quoted_id: Option<String>,
    pub edited_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The row's place in its chat: messages with one timestamp are ordered by it.
    pub pk: i64,
}

const COLUMNS: &str = "chat_jid, id, sender, push_name, is_from_me, timestamp, message_type,
    content, quoted_id, edited_at, revoked_at, pk";

impl MessageRow {
    fn from_row(r: &Row) -> rusqlite::Result<Self> {
        Ok(MessageRow {
            chat_jid: r.get("chat_jid")?,
            id: r.get("id")?,
            sender: r.get("sender")?,
            push_name: r.get("push_name")?,
            is_from_me: r.get("is_from_me")?,
            timestamp: r.get("timestamp")?,
            message_type: parsed(r, "message_type")?,
            content: r.get("content")?,
            quoted_id: r.get("quoted_id")?,
            edited_at: r.get("edited_at")?,
            revoked_at: r.get("revoked_at")?,
            pk: r.get("pk")?,
        })
    }
}

/// A chat or contact whose name or number matched a lookup.
#[derive(Debug, Clone, Serialize)]
pub struct ContactMatch {
    pub jid: String,
    pub name: Option<String>,
    /// `chat` or `contact`: which table knew it.
    pub source: String,
}

impl Db {
    /// The message `id` of `chat`, if stored.
    pub fn message(&self, chat: &str, id: &str) -> Result<Option<MessageRow>> {
        let sql = format!("SELECT {COLUMNS} FROM messages WHERE chat_jid = ?1 AND id = ?2");
        Ok(self
            .conn
            .query_row(&sql, params![chat, id], MessageRow::from_row)
            .optional()?)
    }

    /// Every stored message with id `id`, in any chat (ids are unique per chat only).
    pub fn messages_with_id(&self, id: &str, limit: usize) -> Result<Vec<MessageRow>> {
        let sql = format!("SELECT {COLUMNS} FROM messages WHERE id = ?1 LIMIT ?2");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(params![id, limit as i64], MessageRow::from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Up to `limit` messages of `chat` older than `before` (newest when `None`),
    /// oldest first.
    pub fn messages_before(
        &self,
        chat: &str,
        before: Option<&MessageRow>,
        limit: usize,
    ) -> Result<Vec<MessageRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages
             WHERE chat_jid = ?1 AND (?2 IS NULL OR (timestamp, pk) < (?2, ?3))
             ORDER BY timestamp DESC, pk DESC LIMIT ?4"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt
            .query_map(
                params![
                    chat,
                    before.map(|m| m.timestamp),
                    before.map(|m| m.pk),
                    limit as i64
                ],
                MessageRow::from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.reverse();
        Ok(rows)
    }

    /// The newest `limit` messages of `chat` at or after `since` and before `until`
    /// (Unix ms, either open), oldest first.
    pub fn messages_in(
        &self,
        chat: &str,
        since: Option<i64>,
        until: Option<i64>,
        limit: usize,
    ) -> Result<Vec<MessageRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages
             WHERE chat_jid = ?1 AND timestamp >= ?2 AND timestamp < ?3
             ORDER BY timestamp DESC, pk DESC LIMIT ?4"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt
            .query_map(
                params![
                    chat,
                    since.unwrap_or(i64::MIN),
                    until.unwrap_or(i64::MAX),
                    limit as i64
                ],
                MessageRow::from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.reverse();
        Ok(rows)
    }

    /// Up to `limit` messages of `chat` newer than `after`, oldest first.
    pub fn messages_after(
        &self,
        chat: &str,
        after: &MessageRow,
        limit: usize,
    ) -> Result<Vec<MessageRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages
             WHERE chat_jid = ?1 AND (timestamp, pk) > (?2, ?3)
             ORDER BY timestamp, pk LIMIT ?4"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(
                params![chat, after.timestamp, after.pk, limit as i64],
                MessageRow::from_row,
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Whether the archive knows `chat` at all: as a chat or by a stored message.
    pub fn knows_chat(&self, chat: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM chats WHERE jid = ?1)
                 OR EXISTS (SELECT 1 FROM messages WHERE chat_jid = ?1) AS known",
            [chat],
            |r| r.get("known"),
        )?)
    }

    /// Per chat, how many messages from others arrived after the account's own last
    /// message there: the "unread-ish" count (WhatsApp's read state is not stored).
    pub fn unanswered_counts(&self) -> Result<HashMap<String, i64>> {
        let mut stmt = self.conn.prepare(
            "SELECT m.chat_jid, count(*) AS n FROM messages m
             WHERE m.is_from_me = 0 AND m.timestamp > coalesce(
                 (SELECT max(o.timestamp) FROM messages o
                  WHERE o.chat_jid = m.chat_jid AND o.is_from_me = 1), 0)
             GROUP BY m.chat_jid",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get("chat_jid")?, r.get("n")?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Chats and contacts whose name contains `name` (case-insensitive) or whose
    /// number contains `digits` (when given), at most `limit`.
    pub fn find_contacts(
        &self,
        name: &str,
        digits: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ContactMatch>> {
        let pattern = format!("%{}%", escape_like(name));
        let number = digits.map(|d| format!("%{d}%"));
        let mut stmt = self.conn.prepare(
            "SELECT jid, name, 'chat' AS source FROM chats
             WHERE name LIKE ?1 ESCAPE '\\' OR (?2 IS NOT NULL AND jid LIKE ?2)
             UNION
             SELECT jid, push_name, 'contact' FROM contacts
             WHERE push_name LIKE ?1 ESCAPE '\\'
                OR (?2 IS NOT NULL AND (jid LIKE ?2 OR phone LIKE ?2))
             ORDER BY 1 LIMIT ?3",
        )?;
        let rows = stmt
            .query_map(params![pattern, number, limit as i64], |r| {
                Ok(ContactMatch {
                    jid: r.get("jid")?,
                    name: r.get("name")?,
                    source: r.get("source")?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

/// `text` with LIKE's wildcards taken literally.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl Db {
    /// Whether a stored message carries `name` as its author's name (case-insensitive).
    pub fn has_author(&self, name: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE push_name = ?1 COLLATE NOCASE) AS yes",
            [name],
            |r| r.get("yes"),
        )?)
    }

    /// The zones an export file (by content) was imported in for `chat_jid`, with when.
    pub fn imported_in(&self, sha256: &str, chat_jid: &str) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT timezone, imported_at FROM imported_files WHERE sha256 = ?1 AND chat_jid = ?2",
        )?;
        let rows = stmt
            .query_map([sha256, chat_jid], |r| {
                Ok((r.get("timezone")?, r.get("imported_at")?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub fn record_import(
        &mut self,
        sha256: &str,
        chat_jid: &str,
        zone: &str,
        now: i64,
    ) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO imported_files (sha256, chat_jid, timezone, imported_at)
                 VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![sha256, chat_jid, zone, now],
            )?;
            Ok(())
        })
    }
}
