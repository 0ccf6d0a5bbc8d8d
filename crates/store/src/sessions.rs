//! Conversation memory rows (`chat_sessions`).

use crate::Result;
use rusqlite::{OptionalExtension, params};

use super::Db;

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub user_jid: String,
    pub chat_jid: String,
    /// JSON array of `{role, content, timestamp}`.
    pub context: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_activity: i64,
}

impl Db {
    pub fn session(&self, user_jid: &str, chat_jid: &str) -> Result<Option<SessionRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, context, created_at, expires_at, last_activity FROM chat_sessions
                 WHERE user_jid = ?1 AND chat_jid = ?2",
                params![user_jid, chat_jid],
                |r| {
                    Ok(SessionRow {
                        id: r.get("id")?,
                        user_jid: user_jid.to_string(),
                        chat_jid: chat_jid.to_string(),
                        context: r.get("context")?,
                        created_at: r.get("created_at")?,
                        expires_at: r.get("expires_at")?,
                        last_activity: r.get("last_activity")?,
                    })
                },
            )
            .optional()?)
    }

    /// Saves a session on its own (simulated conversations, which answer no message).
    pub fn save_session(&mut self, session: &SessionRow) -> Result<()> {
        self.in_write(|tx| {
            save(tx, session)?;
            Ok(())
        })
    }

    /// Deletes a session that has expired, unless it was replaced in the meantime.
    pub fn delete_session(&mut self, id: &str) -> Result<()> {
        self.in_write(|tx| {
            tx.execute("DELETE FROM chat_sessions WHERE id = ?1", [id])?;
            Ok(())
        })
    }
}

/// Writes a session as part of a larger transaction (the turn's outcome).
pub(super) fn save(tx: &rusqlite::Transaction, s: &SessionRow) -> Result<()> {
    tx.execute(
        "INSERT INTO chat_sessions (id, user_jid, chat_jid, context, created_at, expires_at, last_activity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (user_jid, chat_jid) DO UPDATE SET
             id = excluded.id, context = excluded.context, created_at = excluded.created_at,
             expires_at = excluded.expires_at, last_activity = excluded.last_activity",
        params![
            s.id,
            s.user_jid,
            s.chat_jid,
            s.context,
            s.created_at,
            s.expires_at,
            s.last_activity
        ],
    )?;
    Ok(())
}
