//! Sending the outbox through a REST API. A row is `written` (committed) before the
//! call and `sent` with the provider's id (committed) after it, so a crash between the
//! two never loses the reply: the row is sent again after [`ACK_TIMEOUT_MS`] unless a
//! status callback carrying wabot's own id (Twilio's callback URL, the Cloud API's
//! `biz_opaque_callback_data`) shows the provider took it meanwhile.

use std::time::Duration;

use anyhow::Result;

use super::{Api, FailureKind};
use crate::db::{ACK_TIMEOUT_MS, Db};
use crate::status::OutboxStatus;
use crate::whatsapp::drain::MAX_SEND_ATTEMPTS;

/// Sends the next due row, if any; returns whether there was one.
pub fn send_next(db: &mut Db, api: &mut dyn Api, own_jid: &str, now: i64) -> Result<bool> {
    let Some(row) = db.due_sends(now, 1)?.into_iter().next() else {
        return Ok(false);
    };
    if row.status == OutboxStatus::Written && row.attempts >= MAX_SEND_ATTEMPTS {
        let error = format!(
            "no answer from the provider after {} attempts",
            row.attempts
        );
        log::warn!("outbox #{} to {}: {error}; giving up", row.id, row.chat_jid);
        db.refuse_send(row.id, None, &error, now)?;
        return Ok(true);
    }
    if !db.mark_written(row.id, now)? {
        // A status callback settled the row since it was read: it must not go out again.
        return Ok(true);
    }
    let attempt = row.attempts + 1;
    match api.send(&row) {
        Ok(provider_id) => {
            db.accept_sent(row.id, &provider_id, own_jid, now)?;
            log::info!(
                "outbox #{} sent to {} as {provider_id}",
                row.id,
                row.chat_jid
            );
        }
        Err(failure) => match failure.kind {
            FailureKind::Passing { retry_after_ms } if attempt < MAX_SEND_ATTEMPTS => {
                let backoff = crate::backoff::delay(attempt, Duration::from_secs(300));
                let wait = (backoff.as_millis() as i64).max(retry_after_ms.unwrap_or(0));
                log::warn!(
                    "sending outbox #{} to {} failed, will retry: {}",
                    row.id,
                    row.chat_jid,
                    failure.message
                );
                db.release_send(row.id, &failure.message, now + wait, now)?;
            }
            FailureKind::Unknown => log::warn!(
                "sending outbox #{} to {}: {}; sent again in {} s unless the provider reports it",
                row.id,
                row.chat_jid,
                failure.message,
                ACK_TIMEOUT_MS / 1000
            ),
            FailureKind::Final | FailureKind::Passing { .. } => {
                log::warn!(
                    "sending outbox #{} to {} failed for good: {}",
                    row.id,
                    row.chat_jid,
                    failure.message
                );
                db.refuse_send(row.id, failure.code.as_deref(), &failure.message, now)?;
            }
        },
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{OutboxKind, OutboxRow, Outgoing};
    use crate::webhook::SendFailure;

    /// A stand-in API: answers each send from a script.
    struct Script(Vec<Result<String, FailureKind>>, Vec<String>);

    impl Api for Script {
        fn send(&mut self, row: &OutboxRow) -> Result<String, SendFailure> {
            self.1.push(row.message_id.clone());
            self.0.remove(0).map_err(|kind| SendFailure {
                code: (kind == FailureKind::Final).then(|| "131047".to_string()),
                message: "refused".into(),
                kind,
            })
        }
        fn mark_read(&mut self, _: &str) {}
    }

    const ALICE: &str = "15550001111@s.whatsapp.net";

    fn queued() -> (tempfile::TempDir, Db, i64) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        db.enqueue(
            &Outgoing {
                message_id: "OWN1".into(),
                chat_jid: ALICE.into(),
                content: "hello".into(),
                kind: OutboxKind::Reply,
                reply_to_id: None,
            },
            0,
        )
        .unwrap();
        let id = db.outbox(None, 1).unwrap()[0].id;
        (dir, db, id)
    }

    #[test]
    fn a_window_refusal_is_final_and_never_retried() {
        let (_dir, mut db, id) = queued();
        let mut api = Script(vec![Err(FailureKind::Final)], vec![]);
        assert!(send_next(&mut db, &mut api, "me", 0).unwrap());
        let row = db.outbox_row(id).unwrap().unwrap();
        assert_eq!(
            (row.status, row.error_code.as_deref()),
            (OutboxStatus::Failed, Some("131047"))
        );
        assert!(!send_next(&mut db, &mut api, "me", i64::MAX / 2).unwrap());
        assert_eq!(api.1.len(), 1);
    }

    #[test]
    fn passing_failures_back_off_then_give_up_and_unknown_ones_wait_for_a_callback() {
        let (_dir, mut db, id) = queued();
        let script = (0..MAX_SEND_ATTEMPTS)
            .map(|_| {
                Err(FailureKind::Passing {
                    retry_after_ms: Some(10_000),
                })
            })
            .collect();
        let mut api = Script(script, vec![]);
        let mut now = 0;
        while send_next(&mut db, &mut api, "me", now).unwrap() {
            assert!(
                !send_next(&mut db, &mut api, "me", now + 9_000).unwrap(),
                "Retry-After is honoured"
            );
            now += 400_000;
        }
        assert_eq!(api.1.len() as i64, MAX_SEND_ATTEMPTS);
        assert_eq!(
            db.outbox_row(id).unwrap().unwrap().status,
            OutboxStatus::Failed
        );

        let (_dir, mut db, id) = queued();
        let mut api = Script(vec![Err(FailureKind::Unknown), Ok("SM1".into())], vec![]);
        send_next(&mut db, &mut api, "me", 0).unwrap();
        assert_eq!(
            db.outbox_row(id).unwrap().unwrap().status,
            OutboxStatus::Written
        );
        assert!(
            !send_next(&mut db, &mut api, "me", ACK_TIMEOUT_MS - 1).unwrap(),
            "an unanswered send waits for the provider's callback first"
        );
        assert!(send_next(&mut db, &mut api, "me", ACK_TIMEOUT_MS).unwrap());
        let row = db.outbox_row(id).unwrap().unwrap();
        assert_eq!(
            (row.status, row.provider_id.as_deref()),
            (OutboxStatus::Sent, Some("SM1"))
        );
        assert_eq!(api.1, ["OWN1", "OWN1"], "the same row, never a second one");
    }
}
