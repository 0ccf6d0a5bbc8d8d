//! Sending the outbox. Each row goes out with the WhatsApp id chosen when it was queued.
//! A row written to the socket is only `written`: it becomes `sent` when WhatsApp's
//! server acknowledges that id (see [`super::confirm`]); an unacknowledged row is written
//! again, with the same id, so WhatsApp shows it once.

use std::time::Duration;

use anyhow::Result;

use crate::db::{Db, OutboxRow};
use crate::status::OutboxStatus;

/// Sends attempted per row before it is marked failed.
pub const MAX_SEND_ATTEMPTS: i64 = 6;

#[derive(Debug)]
pub struct SendError {
    /// Worth trying again later (network, server); otherwise the row fails at once.
    pub retryable: bool,
    pub message: String,
}

/// "Send this text to this chat with this message id": the one place where wabot
/// touches WhatsApp to send.
pub trait Sender {
    fn send(&mut self, chat_jid: &str, message_id: &str, text: &str) -> Result<(), SendError>;
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Written to the socket; sent once the server acks.
    pub written: usize,
    pub retried: usize,
    pub failed: usize,
}

impl DrainReport {
    pub fn attempted(&self) -> usize {
        self.written + self.retried + self.failed
    }
}

/// Writes up to `limit` due rows, oldest first, keeping each chat's order.
pub fn drain_once(
    db: &mut Db,
    sender: &mut dyn Sender,
    now: i64,
    limit: usize,
) -> Result<DrainReport> {
    let mut report = DrainReport::default();
    for row in db.due_sends(now, limit)? {
        if row.status == OutboxStatus::Written && row.attempts >= MAX_SEND_ATTEMPTS {
            let error = format!(
                "no acknowledgement from WhatsApp after {} writes",
                row.attempts
            );
            log::warn!("outbox #{} to {}: {error}; giving up", row.id, row.chat_jid);
            db.mark_send_failed(row.id, &error, None, now)?;
            report.failed += 1;
            continue;
        }
        match sender.send(&row.chat_jid, &row.message_id, &row.content) {
            Ok(()) => {
                db.mark_written(row.id, now)?;
                report.written += 1;
            }
            Err(err) => {
                let retry_at = retry_at(&row, &err, now);
                log::warn!(
                    "sending outbox #{} to {} failed ({}): {}",
                    row.id,
                    row.chat_jid,
                    if retry_at.is_some() {
                        "will retry"
                    } else {
                        "giving up"
                    },
                    err.message
                );
                db.mark_send_failed(row.id, &err.message, retry_at, now)?;
                if retry_at.is_some() {
                    report.retried += 1;
                } else {
                    report.failed += 1;
                }
            }
        }
    }
    Ok(report)
}

/// When to try again (back-off up to 5 minutes); `None` gives up.
fn retry_at(row: &OutboxRow, err: &SendError, now: i64) -> Option<i64> {
    let attempt = row.attempts + 1;
    if !err.retryable || attempt >= MAX_SEND_ATTEMPTS {
        return None;
    }
    let wait = crate::backoff::delay(attempt, Duration::from_secs(300));
    Some(now + wait.as_millis() as i64)
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::db::{OutboxKind, Outgoing};

    /// A stand-in for WhatsApp: records writes, shows each message id once, and fails
    /// on request. Acks come separately ([`ack`]), as they do from the server.
    #[derive(Default)]
    struct Phone {
        sends: Vec<(String, String, String)>,
        fail_next: Vec<SendError>,
    }

    impl Sender for Phone {
        fn send(&mut self, chat: &str, id: &str, text: &str) -> Result<(), SendError> {
            if let Some(err) = self.fail_next.pop() {
                return Err(err);
            }
            self.sends.push((chat.into(), id.into(), text.into()));
            Ok(())
        }
    }

    /// The server acknowledges everything written so far.
    fn ack(db: &mut Db, phone: &Phone) {
        for (_, id, _) in &phone.sends {
            db.confirm_sent(id, OWN, 1).unwrap();
        }
    }

    fn queue(db: &mut Db, chat: &str, text: &str) -> String {
        let id = crate::message_id::new();
        db.enqueue(
            &Outgoing {
                message_id: id.clone(),
                chat_jid: chat.into(),
                content: text.into(),
                kind: OutboxKind::Reply,
                reply_to_id: None,
            },
            0,
        )
        .unwrap();
        id
    }

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("w.db")).unwrap();
        (dir, db)
    }

    const A: &str = "15550001111@s.whatsapp.net";
    const B: &str = "15550002222@s.whatsapp.net";
    const OWN: &str = "15550009999@s.whatsapp.net";

    #[test]
    fn sends_in_order_per_chat_with_the_preassigned_ids() {
        let (_dir, mut db) = db();
        let a1 = queue(&mut db, A, "a1");
        let b1 = queue(&mut db, B, "b1");
        let a2 = queue(&mut db, A, "a2");
        let mut phone = Phone::default();
        // One row per chat per pass: the second message of a chat waits for the first
        // to be acknowledged.
        assert_eq!(drain_once(&mut db, &mut phone, 0, 50).unwrap().written, 2);
        assert_eq!(
            drain_once(&mut db, &mut phone, 0, 50).unwrap(),
            DrainReport::default(),
            "a2 waits for a1's ack"
        );
        ack(&mut db, &phone);
        assert_eq!(drain_once(&mut db, &mut phone, 0, 50).unwrap().written, 1);
        ack(&mut db, &phone);
        let ids: Vec<&str> = phone.sends.iter().map(|s| s.1.as_str()).collect();
        assert_eq!(ids, [a1.as_str(), b1.as_str(), a2.as_str()]);
        assert_eq!(db.outbox(Some(OutboxStatus::Sent), 10).unwrap().len(), 3);
        let stats = db.stats().unwrap();
        assert_eq!(
            stats.messages.outbound, 3,
            "sent messages join their chats' history"
        );
        assert_eq!(
            drain_once(&mut db, &mut phone, 0, 50).unwrap(),
            DrainReport::default()
        );
    }

    #[test]
    fn a_crash_between_send_and_mark_resends_the_same_id_and_delivers_once() {
        let (_dir, mut db) = db();
        let id = queue(&mut db, A, "hello");
        let mut phone = Phone::default();
        // The process dies right after WhatsApp accepted the message, before marking it.
        let row = &db.due_sends(0, 10).unwrap()[0];
        phone
            .send(&row.chat_jid, &row.message_id, &row.content)
            .unwrap();
        // The restarted listener drains again.
        drain_once(&mut db, &mut phone, 0, 50).unwrap();
        ack(&mut db, &phone);
        assert_eq!(phone.sends.len(), 2);
        assert!(
            phone.sends.iter().all(|s| s.1 == id),
            "both sends carry the pre-assigned id, which WhatsApp shows once"
        );
        let rows = db.outbox(None, 10).unwrap();
        assert_eq!(rows.len(), 1, "no second row for the resend");
        assert_eq!(
            (rows[0].message_id.as_str(), rows[0].status),
            (id.as_str(), OutboxStatus::Sent)
        );
    }

    #[test]
    fn retries_with_backoff_keeps_order_and_gives_up_after_the_limit() {
        let (_dir, mut db) = db();
        queue(&mut db, A, "first");
        queue(&mut db, A, "second");
        let mut phone = Phone::default();
        for _ in 0..MAX_SEND_ATTEMPTS {
            phone.fail_next.push(SendError {
                retryable: true,
                message: "network down".into(),
            });
        }
        let mut now = 0;
        for attempt in 1..=MAX_SEND_ATTEMPTS {
            let report = drain_once(&mut db, &mut phone, now, 50).unwrap();
            assert_eq!(
                report.written, 0,
                "the second row never overtakes the first"
            );
            if attempt < MAX_SEND_ATTEMPTS {
                assert_eq!(report.retried, 1);
                // Before the back-off has passed nothing is due.
                let early = drain_once(&mut db, &mut phone, now + 1, 50).unwrap();
                assert_eq!(early, DrainReport::default());
            } else {
                assert_eq!(report.failed, 1);
            }
            now += 400_000;
        }
        let gave_up = db.outbox(Some(OutboxStatus::Failed), 10).unwrap();
        assert_eq!(gave_up[0].content, "first");
        assert_eq!(gave_up[0].attempts, MAX_SEND_ATTEMPTS);
        assert_eq!(gave_up[0].last_error.as_deref(), Some("network down"));
        // Once the first is given up, the chat moves on.
        assert_eq!(drain_once(&mut db, &mut phone, now, 50).unwrap().written, 1);
    }

    #[test]
    fn a_permanent_error_fails_at_once() {
        let (_dir, mut db) = db();
        queue(&mut db, A, "x");
        let mut phone = Phone::default();
        phone.fail_next.push(SendError {
            retryable: false,
            message: "not on WhatsApp".into(),
        });
        assert_eq!(drain_once(&mut db, &mut phone, 0, 50).unwrap().failed, 1);
    }
}
