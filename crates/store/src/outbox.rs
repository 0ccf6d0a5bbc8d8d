//! The outbox: everything wabot sends, queued for the listener. A turn's answer
//! (outbox rows, session memory, messages marked answered) commits as one transaction.

use crate::Result;
use rusqlite::{OptionalExtension, params};

use super::Db;
use super::delivery;
use super::queue::Turn;
use super::sessions::{self, SessionRow};
use crate::columns::parsed;
use crate::status::OutboxStatus;
use wabot_core::outbox::{ACK_TIMEOUT_MS, OutboxRow, Outgoing};

impl Db {
    /// Queues a message unless one with the same id is queued already.
    pub fn enqueue(&mut self, message: &Outgoing, now: i64) -> Result<bool> {
        self.in_write(|tx| {
            let added = insert(tx, message, now)?;
            Ok(added)
        })
    }

    /// Queues several messages at once: all of them, or none if the run dies.
    pub fn enqueue_all(&mut self, messages: &[Outgoing], now: i64) -> Result<()> {
        self.in_write(|tx| {
            for message in messages {
                insert(tx, message, now)?;
            }
            Ok(())
        })
    }

    /// Commits an answered turn: its replies queued, its memory saved, its messages marked
    /// answered. Returns false, changing nothing, if the run lost its lease on the turn.
    pub fn answer_turn(
        &mut self,
        turn: &Turn,
        replies: &[Outgoing],
        session: &SessionRow,
        now: i64,
    ) -> Result<bool> {
        let tx = self.write()?;
        let marked = tx.execute(
            "UPDATE messages SET status = 'answered', claim_token = NULL, claim_until = NULL,
                 last_error = NULL, next_attempt_at = NULL, attempts = attempts + 1
             WHERE chat_jid = ?1 AND claim_token = ?2 AND status = 'pending'",
            params![turn.chat_jid, turn.token],
        )?;
        if marked != turn.messages.len() {
            return Ok(false);
        }
        for reply in replies {
            insert(&tx, reply, now)?;
        }
        sessions::save(&tx, session)?;
        // Committed only when every message was still ours: a lost lease changes nothing.
        tx.commit()?;
        Ok(true)
    }

    /// Messages stored since `since` (Unix ms).
    pub fn messages_stored_since(&self, since: i64) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT count(*) AS n FROM messages WHERE created_at >= ?1",
            [since],
            |r| r.get("n"),
        )?)
    }

    /// Replies queued for a chat since `since`, counted per answered turn.
    pub fn replies_since(&self, chat_jid: &str, since: i64) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT count(DISTINCT coalesce(reply_to_id, message_id)) AS n FROM outbox
             WHERE chat_jid = ?1 AND created_at > ?2 AND kind = 'reply'",
            params![chat_jid, since],
            |r| r.get("n"),
        )?)
    }

    pub fn outbox(&self, status: Option<OutboxStatus>, limit: usize) -> Result<Vec<OutboxRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {ROW_COLUMNS} FROM outbox WHERE ?1 IS NULL OR status = ?1 ORDER BY id LIMIT ?2"
        ))?;
        let rows = stmt
            .query_map(
                params![status.map(OutboxStatus::as_str), limit as i64],
                outbox_row,
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub fn outbox_row(&self, id: i64) -> Result<Option<OutboxRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {ROW_COLUMNS} FROM outbox WHERE id = ?1"),
                [id],
                outbox_row,
            )
            .optional()?)
    }

    pub fn outbox_row_for(&self, message_id: &str) -> Result<Option<OutboxRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {ROW_COLUMNS} FROM outbox WHERE message_id = ?1"),
                [message_id],
                outbox_row,
            )
            .optional()?)
    }

    /// Moves a row from one of `from` to `to`; returns false if it was in another state.
    pub fn move_outbox_row(
        &mut self,
        id: i64,
        from: &[OutboxStatus],
        to: OutboxStatus,
        now: i64,
    ) -> Result<bool> {
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        self.in_write(|tx| {
            let n = tx.execute(
                "UPDATE outbox SET status = ?3, updated_at = ?4,
                     attempts = CASE WHEN ?3 = 'pending' THEN 0 ELSE attempts END,
                     next_attempt_at = NULL
                 WHERE id = ?1 AND status IN (SELECT value FROM json_each(?2))",
                params![id, serde_json::json!(from).to_string(), to.as_str(), now],
            )?;
            Ok(n == 1)
        })
    }

    /// The name people know a chat or contact by, if one is stored.
    pub fn name_of(&self, jid: &str) -> Result<Option<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name FROM chats WHERE jid = ?1 AND name IS NOT NULL
             UNION ALL
             SELECT push_name FROM contacts WHERE jid = ?1 AND push_name IS NOT NULL
             LIMIT 1",
        )?;
        Ok(stmt.query_row([jid], |r| r.get("name")).optional()?)
    }

    /// Chats and contacts whose name is `name` (case-insensitive): `(jid, name)`.
    pub fn find_by_name(&self, name: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT jid, name FROM chats WHERE name = ?1 COLLATE NOCASE
             UNION
             SELECT jid, push_name FROM contacts WHERE push_name = ?1 COLLATE NOCASE",
        )?;
        let rows = stmt
            .query_map([name], |r| Ok((r.get("jid")?, r.get("name")?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The next row to send of each chat, oldest first. A chat whose oldest open row
    /// waits (for a retry, or for the server to ack a written row) sends nothing newer
    /// meanwhile: order within a chat is kept. A written row not acked within
    /// [`ACK_TIMEOUT_MS`] is due again.
    pub fn due_sends(&self, now: i64, limit: usize) -> Result<Vec<OutboxRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM outbox AS o
             WHERE o.status IN ('pending', 'written')
               AND o.id = (SELECT min(id) FROM outbox
                           WHERE status IN ('pending', 'written') AND chat_jid = o.chat_jid)
               AND CASE o.status
                       WHEN 'pending' THEN coalesce(o.next_attempt_at, 0) <= ?1
                       ELSE coalesce(o.written_at, 0) <= ?1 - ?3
                   END
             ORDER BY o.id LIMIT ?2"
        ))?;
        let rows = stmt
            .query_map(params![now, limit as i64, ACK_TIMEOUT_MS], outbox_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Records that a row was written to the socket: not sent until the server acks.
    /// False when the row was settled meanwhile (a status confirmed it, or it was
    /// cancelled): then it must not be written again.
    pub fn mark_written(&mut self, id: i64, now: i64) -> Result<bool> {
        self.in_write(|tx| {
            let changed = tx.execute(
                "UPDATE outbox SET status = 'written', written_at = ?2, updated_at = ?2,
                     attempts = attempts + 1, last_error = NULL, next_attempt_at = NULL
                 WHERE id = ?1 AND status IN ('pending', 'written')",
                params![id, now],
            )?;
            Ok(changed == 1)
        })
    }

    /// The provider's REST API took the row (`provider_id` is its MessageSid / wamid): the
    /// row is sent and joins its chat. Returns false when it was no longer open.
    pub fn accept_sent(
        &mut self,
        id: i64,
        provider_id: &str,
        own_jid: &str,
        at: i64,
    ) -> Result<bool> {
        self.in_write(|tx| {
            let message_id: Option<String> = tx
                .query_row(
                    "UPDATE outbox SET provider_id = ?2 WHERE id = ?1 RETURNING message_id",
                    params![id, provider_id],
                    |r| r.get("message_id"),
                )
                .optional()?;
            match message_id {
                Some(m) => delivery::accept(tx, &m, own_jid, at),
                None => Ok(false),
            }
        })
    }

    /// A send the provider refused for good: failed, with its error code.
    pub fn refuse_send(&mut self, id: i64, code: Option<&str>, error: &str, at: i64) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "UPDATE outbox SET status = 'failed', error_code = ?2, last_error = ?3,
                     next_attempt_at = NULL, updated_at = ?4
                 WHERE id = ?1 AND status IN ('pending', 'written')",
                params![id, code, error, at],
            )?;
            Ok(())
        })
    }

    /// A send the provider answered with a passing error: back to pending, due again at
    /// `retry_at` (the attempt was counted when the row was written).
    pub fn release_send(&mut self, id: i64, error: &str, retry_at: i64, at: i64) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "UPDATE outbox SET status = 'pending', last_error = ?2, next_attempt_at = ?3,
                     updated_at = ?4
                 WHERE id = ?1 AND status IN ('pending', 'written')",
                params![id, error, retry_at, at],
            )?;
            Ok(())
        })
    }
}

pub(super) const ROW_COLUMNS: &str =
    "id, message_id, chat_jid, content, status, kind, attempts, last_error,
     reply_to_id, created_at, sent_at, written_at, delivered_at, read_at, provider_id, error_code,
     resends";

pub(super) fn outbox_row(r: &rusqlite::Row) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get("id")?,
        message_id: r.get("message_id")?,
        chat_jid: r.get("chat_jid")?,
        content: r.get("content")?,
        status: parsed(r, "status")?,
        kind: parsed(r, "kind")?,
        attempts: r.get("attempts")?,
        last_error: r.get("last_error")?,
        reply_to_id: r.get("reply_to_id")?,
        created_at: r.get("created_at")?,
        sent_at: r.get("sent_at")?,
        written_at: r.get("written_at")?,
        delivered_at: r.get("delivered_at")?,
        read_at: r.get("read_at")?,
        provider_id: r.get("provider_id")?,
        error_code: r.get("error_code")?,
        resends: r.get("resends")?,
    })
}

fn insert(tx: &rusqlite::Transaction, m: &Outgoing, now: i64) -> Result<bool> {
    let added = tx.execute(
        "INSERT INTO outbox (message_id, chat_jid, content, kind, reply_to_chat, reply_to_id,
             created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?2, ?5, ?6, ?6)
         ON CONFLICT (message_id) DO NOTHING",
        params![
            m.message_id,
            m.chat_jid,
            m.content,
            m.kind.as_str(),
            m.reply_to_id,
            now
        ],
    )?;
    Ok(added == 1)
}
