//! Sending the outbox, for every transport. A row is `written` (committed) before it is
//! handed over, so a crash at any point leaves it to be handed over again with the same
//! id, which WhatsApp shows once. What makes it `sent` depends on the transport: a REST
//! API names its message at once ([`Sent::Accepted`]); the linked device's server acks
//! later ([`Sent::Written`], then a delivery event). A written row without its answer
//! goes again after [`ACK_TIMEOUT_MS`], unless a status callback carrying wabot's own
//! id showed meanwhile that the provider took it.

use std::time::Duration;

use anyhow::Result;

use crate::db::{ACK_TIMEOUT_MS, Db, OutboxRow};
use crate::outbox::{FailureKind, MAX_SEND_ATTEMPTS, SendFailure, Sent, Transport};
use crate::status::OutboxStatus;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Handed over; sent once the transport's answer comes (or at once for REST).
    pub written: usize,
    pub retried: usize,
    pub failed: usize,
}

impl DrainReport {
    pub fn attempted(&self) -> usize {
        self.written + self.retried + self.failed
    }
}

/// Hands up to `limit` due rows to `transport`, oldest first, keeping each chat's
/// order. `own_jid` is the sender of the copies filed in the chats' history.
pub fn drain_once(
    db: &mut Db,
    transport: &mut dyn Transport,
    own_jid: &str,
    now: i64,
    limit: usize,
) -> Result<DrainReport> {
    let mut report = DrainReport::default();
    for row in db.due_sends(now, limit)? {
        if row.status == OutboxStatus::Written && row.attempts >= MAX_SEND_ATTEMPTS {
            let error = format!(
                "no answer from {} after {} attempts",
                transport.name(),
                row.attempts
            );
            log::warn!("outbox #{} to {}: {error}; giving up", row.id, row.chat_jid);
            db.refuse_send(row.id, None, &error, now)?;
            report.failed += 1;
            continue;
        }
        if !db.mark_written(row.id, now)? {
            // Settled since it was read (an ack, a status callback): it must not go again.
            continue;
        }
        match transport.send(&row) {
            Ok(Sent::Written) => report.written += 1,
            Ok(Sent::Accepted { provider_id }) => {
                db.accept_sent(row.id, &provider_id, own_jid, now)?;
                log::info!(
                    "outbox #{} sent to {} as {provider_id}",
                    row.id,
                    row.chat_jid
                );
                report.written += 1;
            }
            Err(failure) => {
                if settle_failure(db, &row, transport.name(), &failure, now)? {
                    report.retried += 1;
                } else {
                    report.failed += 1;
                }
            }
        }
    }
    Ok(report)
}

/// Records a failed send; returns whether the row will be tried again.
fn settle_failure(
    db: &mut Db,
    row: &OutboxRow,
    transport: &str,
    failure: &SendFailure,
    now: i64,
) -> Result<bool> {
    let attempt = row.attempts + 1;
    match failure.kind {
        FailureKind::Passing { retry_after_ms } if attempt < MAX_SEND_ATTEMPTS => {
            let backoff = crate::backoff::delay(attempt, Duration::from_secs(300));
            let wait = (backoff.as_millis() as i64).max(retry_after_ms.unwrap_or(0));
            log::warn!(
                "sending outbox #{} to {} through {transport} failed, will retry: {}",
                row.id,
                row.chat_jid,
                failure.message
            );
            db.release_send(row.id, &failure.message, now + wait, now)?;
            Ok(true)
        }
        FailureKind::Unknown => {
            log::warn!(
                "sending outbox #{} to {}: {}; sent again in {} s unless {transport} reports it",
                row.id,
                row.chat_jid,
                failure.message,
                ACK_TIMEOUT_MS / 1000
            );
            Ok(true)
        }
        FailureKind::Final | FailureKind::Passing { .. } => {
            log::warn!(
                "sending outbox #{} to {} through {transport} failed for good: {}",
                row.id,
                row.chat_jid,
                failure.message
            );
            db.refuse_send(row.id, failure.code.as_deref(), &failure.message, now)?;
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{OutboxKind, Outgoing};

    /// A stand-in transport: records what it was handed and answers from a script
    /// (an empty script takes everything the way `taken` says).
    struct Script {
        taken: fn(&OutboxRow) -> Sent,
        answers: Vec<Result<(), SendFailure>>,
        sends: Vec<(String, String)>,
    }

    impl Script {
        fn socket() -> Self {
            Script {
                taken: |_| Sent::Written,
                answers: Vec::new(),
                sends: Vec::new(),
            }
        }

        fn rest() -> Self {
            Script {
                taken: |row| Sent::Accepted {
                    provider_id: format!("SM-{}", row.message_id),
                },
                ..Script::socket()
            }
        }

        fn failing(mut self, kind: FailureKind, times: i64) -> Self {
            for _ in 0..times {
                self.answers.push(Err(SendFailure {
                    code: (kind == FailureKind::Final).then(|| "131047".to_string()),
                    ..SendFailure::new(kind, "network down")
                }));
            }
            self
        }

        fn ids(&self) -> Vec<&str> {
            self.sends.iter().map(|s| s.1.as_str()).collect()
        }
    }

    impl Transport for Script {
        fn name(&self) -> &'static str {
            "the stand-in"
        }

        fn send(&mut self, row: &OutboxRow) -> Result<Sent, SendFailure> {
            self.sends
                .push((row.chat_jid.clone(), row.message_id.clone()));
            match self.answers.pop() {
                Some(Err(failure)) => Err(failure),
                _ => Ok((self.taken)(row)),
            }
        }
    }

    /// The server acknowledges everything written so far.
    fn ack(db: &mut Db, script: &Script) {
        for (_, id) in &script.sends {
            let ack = crate::outbox::DeliveryUpdate {
                provider_id: None,
                own_id: Some(id.clone()),
                delivery: crate::outbox::Delivery::Accepted,
                error_code: None,
                error: None,
                at: 1,
            };
            assert!(db.apply_delivery(&ack, OWN).unwrap());
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

    fn row(db: &Db, message_id: &str) -> OutboxRow {
        db.outbox_row_for(message_id).unwrap().unwrap()
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
        let mut socket = Script::socket();
        // One row per chat per pass: the second message of a chat waits for the first
        // to be acknowledged.
        let drain = |db: &mut Db, socket: &mut Script| drain_once(db, socket, OWN, 0, 50).unwrap();
        assert_eq!(drain(&mut db, &mut socket).written, 2);
        assert_eq!(
            drain(&mut db, &mut socket),
            DrainReport::default(),
            "a2 waits for a1's ack"
        );
        ack(&mut db, &socket);
        assert_eq!(drain(&mut db, &mut socket).written, 1);
        ack(&mut db, &socket);
        assert_eq!(socket.ids(), [a1.as_str(), b1.as_str(), a2.as_str()]);
        assert_eq!(
            db.outbox(Some(OutboxStatus::Accepted), 10).unwrap().len(),
            3
        );
        assert_eq!(
            db.stats().unwrap().messages.outbound,
            3,
            "sent messages join their chats' history"
        );
        assert_eq!(drain(&mut db, &mut socket), DrainReport::default());
    }

    #[test]
    fn a_row_written_before_a_crash_goes_again_with_the_same_id_and_once_sent_never() {
        let (_dir, mut db) = db();
        let id = queue(&mut db, A, "hello");
        let mut socket = Script::socket();
        drain_once(&mut db, &mut socket, OWN, 0, 50).unwrap();
        // The process dies before the server's ack arrives: nothing more is handed over
        // until the ack timeout (or the linked device's reconnect) says it is due again.
        assert_eq!(
            drain_once(&mut db, &mut socket, OWN, ACK_TIMEOUT_MS - 1, 50).unwrap(),
            DrainReport::default()
        );
        assert_eq!(
            drain_once(&mut db, &mut socket, OWN, ACK_TIMEOUT_MS, 50)
                .unwrap()
                .written,
            1
        );
        ack(&mut db, &socket);
        assert_eq!(
            socket.ids(),
            [id.as_str(), id.as_str()],
            "the same id twice"
        );
        let rows = db.outbox(None, 10).unwrap();
        assert_eq!(rows.len(), 1, "no second row for the resend");
        assert_eq!(rows[0].status, OutboxStatus::Accepted);
        assert_eq!(
            drain_once(&mut db, &mut socket, OWN, i64::MAX / 2, 50).unwrap(),
            DrainReport::default()
        );
    }

    #[test]
    fn a_rest_api_names_its_message_and_the_row_is_sent_at_once() {
        let (_dir, mut db) = db();
        let id = queue(&mut db, A, "hello");
        let mut api = Script::rest();
        assert_eq!(
            drain_once(&mut db, &mut api, OWN, 0, 50).unwrap().written,
            1
        );
        let sent = row(&db, &id);
        assert_eq!(
            (sent.status, sent.provider_id),
            (OutboxStatus::Accepted, Some(format!("SM-{id}")))
        );
    }

    #[test]
    fn passing_failures_back_off_keep_order_honour_retry_after_and_give_up() {
        let (_dir, mut db) = db();
        let first = queue(&mut db, A, "first");
        queue(&mut db, A, "second");
        let mut api = Script::rest().failing(
            FailureKind::Passing {
                retry_after_ms: Some(1_000_000),
            },
            MAX_SEND_ATTEMPTS,
        );
        let mut now = 0;
        for attempt in 1..=MAX_SEND_ATTEMPTS {
            let report = drain_once(&mut db, &mut api, OWN, now, 50).unwrap();
            assert_eq!(
                report.written, 0,
                "the second row never overtakes the first"
            );
            if attempt < MAX_SEND_ATTEMPTS {
                assert_eq!(report.retried, 1);
                // Retry-After (1 000 s) outlasts the back-off (at most 300 s).
                let early = drain_once(&mut db, &mut api, OWN, now + 999_999, 50).unwrap();
                assert_eq!(early, DrainReport::default(), "Retry-After is honoured");
            } else {
                assert_eq!(report.failed, 1);
            }
            now += 1_000_000;
        }
        let gave_up = row(&db, &first);
        assert_eq!(
            (
                gave_up.status,
                gave_up.attempts,
                gave_up.last_error.as_deref()
            ),
            (
                OutboxStatus::Failed,
                MAX_SEND_ATTEMPTS,
                Some("network down")
            )
        );
        // Once the first is given up, the chat moves on.
        assert_eq!(
            drain_once(&mut db, &mut api, OWN, now, 50).unwrap().written,
            1
        );
    }

    #[test]
    fn a_final_refusal_fails_at_once_with_its_code_and_is_never_retried() {
        let (_dir, mut db) = db();
        let id = queue(&mut db, A, "x");
        let mut api = Script::rest().failing(FailureKind::Final, 1);
        assert_eq!(drain_once(&mut db, &mut api, OWN, 0, 50).unwrap().failed, 1);
        let failed = row(&db, &id);
        assert_eq!(
            (failed.status, failed.error_code.as_deref()),
            (OutboxStatus::Failed, Some("131047"))
        );
        drain_once(&mut db, &mut api, OWN, i64::MAX / 2, 50).unwrap();
        assert_eq!(api.sends.len(), 1);
    }

    #[test]
    fn an_unanswered_send_waits_for_a_callback_then_goes_again_and_unacked_writes_give_up() {
        let (_dir, mut db) = db();
        let id = queue(&mut db, A, "hello");
        let mut api = Script::rest().failing(FailureKind::Unknown, 1);
        drain_once(&mut db, &mut api, OWN, 0, 50).unwrap();
        assert_eq!(row(&db, &id).status, OutboxStatus::Written);
        assert_eq!(
            drain_once(&mut db, &mut api, OWN, ACK_TIMEOUT_MS - 1, 50).unwrap(),
            DrainReport::default(),
            "an unanswered send waits for the provider's callback first"
        );
        drain_once(&mut db, &mut api, OWN, ACK_TIMEOUT_MS, 50).unwrap();
        assert_eq!(row(&db, &id).status, OutboxStatus::Accepted);
        assert_eq!(
            api.ids(),
            [id.as_str(), id.as_str()],
            "the same row, never a second one"
        );

        // A socket whose server never acks: after the attempts the row fails, named.
        let (_dir2, mut db) = self::db();
        let id = queue(&mut db, B, "hello");
        let mut socket = Script::socket();
        let mut now = 0;
        while row(&db, &id).status != OutboxStatus::Failed {
            drain_once(&mut db, &mut socket, OWN, now, 50).unwrap();
            now += ACK_TIMEOUT_MS;
        }
        assert_eq!(socket.sends.len() as i64, MAX_SEND_ATTEMPTS);
        assert_eq!(
            row(&db, &id).last_error.as_deref(),
            Some("no answer from the stand-in after 6 attempts")
        );
    }
}
