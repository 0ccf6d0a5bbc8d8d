//! What happens to a sent row after it was handed over: the server's ack makes it
//! `accepted` (and files its copy in the chat), a receipt makes it `delivered`, a nack
//! fails it or sends it again later, and an accepted row no receipt confirms becomes
//! `unconfirmed` until a reconnect sends it again.

use std::time::Duration;

use rusqlite::{OptionalExtension, Transaction, params};
use wabot_core::backoff;
use wabot_core::outbox::{Delivery, DeliveryUpdate, MAX_SEND_ATTEMPTS, REACHOUT_REFUSED};

use super::Db;
use super::messages::resolve_alias;
use crate::Result;

/// How often an unconfirmed row is sent again before it fails.
pub const MAX_RESENDS: i64 = 3;

/// What a reconnect put back in the queue.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Requeued {
    /// Written before the reconnect, never acked: maybe lost with the old connection.
    pub unacked: usize,
    /// Accepted without a delivery receipt: sent again with their ids.
    pub unconfirmed: usize,
    /// Unconfirmed after [`MAX_RESENDS`] resends: failed.
    pub given_up: usize,
}

impl Db {
    /// Applies an ack, a refusal, a receipt or a status callback. A receipt is proof
    /// enough to settle a row whatever was believed before (unconfirmed, or failed for
    /// want of one). Returns false when no row matches.
    pub fn apply_delivery(&mut self, update: &DeliveryUpdate, own_jid: &str) -> Result<bool> {
        self.in_write(|tx| {
            let Some(message_id) = row_named(tx, update)? else {
                return Ok(false);
            };
            tx.execute(
                "UPDATE outbox SET provider_id = coalesce(provider_id, ?2) WHERE message_id = ?1",
                params![message_id, update.provider_id],
            )?;
            let at = update.at;
            match update.delivery {
                Delivery::Failed => fail(tx, &message_id, update)?,
                Delivery::Retry => retry(tx, &message_id, update)?,
                Delivery::Accepted => {
                    accept(tx, &message_id, own_jid, at)?;
                }
                Delivery::OwnDevice if !to_own_chat(tx, &message_id, own_jid)? => {}
                Delivery::Delivered | Delivery::Read | Delivery::OwnDevice => {
                    accept(tx, &message_id, own_jid, at)?;
                    tx.execute(
                        "UPDATE outbox SET status = 'delivered',
                             delivered_at = coalesce(delivered_at, ?2),
                             read_at = CASE WHEN ?3 THEN coalesce(read_at, ?2) ELSE read_at END,
                             last_error = NULL, error_code = NULL, updated_at = ?2
                         WHERE message_id = ?1
                           AND status IN ('accepted', 'delivered', 'unconfirmed', 'failed')",
                        params![message_id, at, update.delivery == Delivery::Read],
                    )?;
                }
            }
            Ok(true)
        })
    }

    /// Accepted rows of the linked device (no provider id: REST providers confirm with
    /// their own callbacks) that no receipt confirmed since before `accepted_before`.
    pub fn mark_unconfirmed(&mut self, accepted_before: i64, now: i64) -> Result<usize> {
        self.in_write(|tx| {
            Ok(tx.execute(
                "UPDATE outbox SET status = 'unconfirmed', updated_at = ?2,
                     last_error = 'no delivery receipt yet'
                 WHERE status = 'accepted' AND provider_id IS NULL AND sent_at < ?1",
                params![accepted_before, now],
            )?)
        })
    }

    /// After a (re)connect that came up at `connected_at`: rows written before it and
    /// never acked go out again, and unconfirmed rows too, with their ids (WhatsApp
    /// shows a message once per id) until [`MAX_RESENDS`]. A row written on the new
    /// connection is left alone: its ack is on its way.
    pub fn requeue_after_reconnect(&mut self, connected_at: i64) -> Result<Requeued> {
        self.in_write(|tx| {
            let unacked = tx.execute(
                "UPDATE outbox SET status = 'pending', next_attempt_at = NULL, updated_at = ?1
                 WHERE status = 'written' AND coalesce(written_at, 0) < ?1",
                [connected_at],
            )?;
            let given_up = tx.execute(
                "UPDATE outbox SET status = 'failed', updated_at = ?1,
                     last_error = 'no delivery receipt after ' || (resends + 1) ||
                         ' sends: the recipient''s phone may be off, or WhatsApp had no session \
                          to encrypt to (see `wabot doctor`)'
                 WHERE status = 'unconfirmed' AND resends >= ?2",
                params![connected_at, MAX_RESENDS],
            )?;
            let unconfirmed = tx.execute(
                "UPDATE outbox SET status = 'pending', resends = resends + 1,
                     next_attempt_at = NULL, updated_at = ?1
                 WHERE status = 'unconfirmed'",
                [connected_at],
            )?;
            Ok(Requeued {
                unacked,
                unconfirmed,
                given_up,
            })
        })
    }
}

impl Db {
    /// The newest `vitality` canary, if one was ever queued.
    pub fn last_canary(&self) -> Result<Option<wabot_core::outbox::OutboxRow>> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {} FROM outbox WHERE kind = 'vitality' ORDER BY id DESC LIMIT 1",
                    super::outbox::ROW_COLUMNS
                ),
                [],
                super::outbox::outbox_row,
            )
            .optional()?)
    }

    /// Which of `ids` name outbox rows not (yet) accepted: open, unconfirmed, failed
    /// or cancelled.
    pub fn outbox_ids_not_taken(&self, ids: &[String]) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT message_id FROM outbox
             WHERE message_id IN (SELECT value FROM json_each(?1))
               AND status NOT IN ('accepted', 'delivered')",
        )?;
        let rows = stmt
            .query_map([serde_json::json!(ids).to_string()], |r| {
                r.get("message_id")
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

/// The row an update names: by the provider's id first, else by wabot's own.
fn row_named(tx: &Transaction, update: &DeliveryUpdate) -> Result<Option<String>> {
    Ok(tx
        .query_row(
            "SELECT message_id FROM outbox
             WHERE (?1 IS NOT NULL AND provider_id = ?1)
                OR (?2 IS NOT NULL AND message_id = ?2)
             ORDER BY provider_id IS ?1 DESC LIMIT 1",
            params![update.provider_id, update.own_id],
            |r| r.get("message_id"),
        )
        .optional()?)
}

/// Whether the row went to the account's own chat (by its phone JID or its LID).
fn to_own_chat(tx: &Transaction, message_id: &str, own_jid: &str) -> Result<bool> {
    let chat: String = tx.query_row(
        "SELECT chat_jid FROM outbox WHERE message_id = ?1",
        [message_id],
        |r| r.get("chat_jid"),
    )?;
    Ok(resolve_alias(tx, &chat)? == own_jid)
}

/// Final, with the provider's code, even after the provider took the message (WhatsApp
/// may refuse it later); never once a receipt proved it delivered.
fn fail(tx: &Transaction, message_id: &str, update: &DeliveryUpdate) -> Result<()> {
    tx.execute(
        "UPDATE outbox SET status = 'failed', error_code = ?2, last_error = ?3,
             next_attempt_at = NULL, updated_at = ?4
         WHERE message_id = ?1 AND status IN ('pending', 'written', 'accepted', 'unconfirmed')",
        params![message_id, update.error_code, update.error, update.at],
    )?;
    if update.error_code.as_deref() == Some(REACHOUT_REFUSED) {
        super::account::ensure_row(tx, update.at)?;
        tx.execute(
            "UPDATE account_state SET reachout_refused_at = ?1, updated_at = ?1 WHERE id = 1",
            [update.at],
        )?;
    }
    Ok(())
}

/// A passing refusal: pending again after a back-off, failed once the attempts are
/// spent (each write counted one).
fn retry(tx: &Transaction, message_id: &str, update: &DeliveryUpdate) -> Result<()> {
    let attempts: i64 = tx.query_row(
        "SELECT attempts FROM outbox WHERE message_id = ?1",
        [message_id],
        |r| r.get("attempts"),
    )?;
    let wait = backoff::delay(attempts, Duration::from_secs(300)).as_millis() as i64;
    tx.execute(
        "UPDATE outbox SET status = CASE WHEN attempts >= ?5 THEN 'failed' ELSE 'pending' END,
             error_code = ?2, next_attempt_at = ?4 + ?6, updated_at = ?4,
             last_error = ?3 || CASE WHEN attempts >= ?5
                                     THEN '; given up after ' || attempts || ' attempts'
                                     ELSE '; sent again later' END
         WHERE message_id = ?1 AND status IN ('pending', 'written')",
        params![
            message_id,
            update.error_code,
            update.error,
            update.at,
            MAX_SEND_ATTEMPTS,
            wait
        ],
    )?;
    Ok(())
}

/// Taken by the server or the provider: the row is accepted and its copy joins the
/// chat's history, in the chat the LID mapping resolves the row's address to (one
/// person, one chat). False when it was accepted already.
pub(super) fn accept(tx: &Transaction, message_id: &str, own_jid: &str, at: i64) -> Result<bool> {
    let n = tx.execute(
        "UPDATE outbox SET status = 'accepted', sent_at = ?2, updated_at = ?2, last_error = NULL,
             error_code = NULL, next_attempt_at = NULL
         WHERE message_id = ?1 AND status IN ('pending', 'written')",
        params![message_id, at],
    )?;
    if n == 0 {
        return Ok(false);
    }
    let (chat_jid, content): (String, String) = tx.query_row(
        "SELECT chat_jid, content FROM outbox WHERE message_id = ?1",
        [message_id],
        |r| Ok((r.get("chat_jid")?, r.get("content")?)),
    )?;
    tx.execute(
        "INSERT INTO messages (chat_jid, id, sender, content, timestamp, is_from_me,
             message_type, source, status, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 1, 'text', 'own', 'history', ?5)
         ON CONFLICT (chat_jid, id) DO NOTHING",
        params![
            resolve_alias(tx, &chat_jid)?,
            message_id,
            own_jid,
            content,
            at
        ],
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_rows_of_an_older_schema_become_accepted_or_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for sql in &crate::MIGRATIONS[..11] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 11).unwrap();
            conn.execute_batch(
                "INSERT INTO outbox (message_id, chat_jid, content, kind, status, created_at,
                     updated_at, sent_at, delivered_at)
                 VALUES ('A', 'c', 'x', 'reply', 'sent', 0, 0, 1, NULL),
                        ('D', 'c', 'x', 'reply', 'sent', 0, 0, 1, 2),
                        ('P', 'c', 'x', 'reply', 'pending', 0, 0, NULL, NULL)",
            )
            .unwrap();
        }
        let db = Db::open(&path).unwrap();
        let status = |id: &str| db.outbox_row_for(id).unwrap().unwrap().status.to_string();
        assert_eq!(
            [status("A"), status("D"), status("P")],
            ["accepted", "delivered", "pending"]
        );
    }
}
