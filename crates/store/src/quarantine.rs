//! What the linked device received but could not store as a message (the quarantine),
//! and the poll secrets that make later votes readable.

use crate::Result;
use rusqlite::{OptionalExtension, params};

use super::Db;
pub use crate::inbound::PollSecret;
pub use crate::message::Quarantined;

impl Db {
    /// Quarantines rejected messages; one row per (chat, id), so a redelivery adds none.
    pub fn quarantine(&mut self, items: &[Quarantined]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.in_write(|tx| {
            let mut insert = tx.prepare_cached(
                "INSERT INTO quarantine (chat_jid, message_id, reason, record, wire_raw, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (chat_jid, message_id) DO NOTHING",
            )?;
            for q in items {
                insert.execute(params![
                    q.chat_jid,
                    q.message_id,
                    q.reason,
                    q.record,
                    q.wire_raw,
                    q.created_at
                ])?;
            }
            Ok(())
        })
    }

    /// The quarantine, newest first (for `wabot doctor`).
    // `wabot doctor` (a later issue) lists it; until then only tests read it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn quarantined(&self, limit: usize) -> Result<Vec<Quarantined>> {
        let mut stmt = self.conn.prepare(
            "SELECT chat_jid, message_id, reason, record, wire_raw, created_at FROM quarantine
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(Quarantined {
                    chat_jid: r.get("chat_jid")?,
                    message_id: r.get("message_id")?,
                    reason: r.get("reason")?,
                    record: r.get("record")?,
                    wire_raw: r.get("wire_raw")?,
                    created_at: r.get("created_at")?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub fn quarantine_count(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) AS n FROM quarantine", [], |r| r.get("n"))?)
    }

    /// Remembers a poll's secret (the first one seen wins: a poll never changes it).
    pub fn record_poll(&mut self, poll: &PollSecret, now: i64) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "INSERT INTO poll_secrets (message_id, creator_jid, secret, options, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (message_id) DO NOTHING",
                params![
                    poll.message_id,
                    poll.creator_jid,
                    poll.secret,
                    serde_json::json!(poll.options).to_string(),
                    now
                ],
            )?;
            Ok(())
        })
    }

    pub fn poll_secret(&self, message_id: &str) -> Result<Option<PollSecret>> {
        let row = self
            .conn
            .query_row(
                "SELECT creator_jid, secret, options FROM poll_secrets WHERE message_id = ?1",
                [message_id],
                |r| {
                    Ok((
                        r.get::<_, String>("creator_jid")?,
                        r.get::<_, Vec<u8>>("secret")?,
                        r.get::<_, String>("options")?,
                    ))
                },
            )
            .optional()?;
        Ok(row.map(|(creator_jid, secret, options)| PollSecret {
            message_id: message_id.to_string(),
            creator_jid,
            secret,
            options: serde_json::from_str(&options).unwrap_or_default(),
        }))
    }
}
