//! The store step of a webhook: the messages through the same ingest and answer policy
//! as the linked device's, then the status callbacks onto the outbox. It commits before
//! the server answers 200, so a provider's retry after a crash finds it stored once.

use anyhow::Result;

use super::Inbound;
use crate::db::Db;
use crate::inbound::{Inbound as Received, Received as Batch};
use crate::policy::Policy;

/// What a webhook changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// Ids of the messages that became pending turns: the agent has work (the arrival
    /// trigger's cue), and they are marked read when configured.
    pub pending_ids: Vec<String>,
    /// Status callbacks that matched an outbox row.
    pub statuses: usize,
}

pub fn store(db: &mut Db, policy: &Policy, own_jid: &str, inbound: Inbound) -> Result<Stored> {
    // Who is who first, so the messages land in the person's one chat.
    for change in &inbound.number_changes {
        log::info!(
            "{} is now {}: one chat from now on",
            change.old_jid,
            change.new_jid
        );
        db.number_changed(change)?;
    }
    for (alias, phone) in &inbound.identities {
        db.record_alias(alias, phone)?;
    }
    let batch = inbound
        .messages
        .into_iter()
        .map(Received::Message)
        .chain(inbound.changes)
        .map(Batch::of)
        .collect();
    let pending_ids = crate::pipeline::ingest::store(db, policy, batch)?;
    for q in &inbound.unreadable {
        // Every part came from the sender: bounded, however long they made it.
        log::warn!(
            "a webhook message was quarantined ({} from {:?}): {}",
            crate::error::bounded(&q.message_id, 80),
            crate::error::bounded(&q.chat_jid, 64),
            crate::error::bounded(&q.reason, 300)
        );
    }
    db.quarantine(&inbound.unreadable)?;
    Ok(Stored {
        pending_ids,
        statuses: crate::pipeline::delivery::apply(db, &inbound.statuses, own_jid)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Delivery, DeliveryUpdate, OutboxKind, Outgoing};
    use crate::message::{NewMessage, Origin};
    use crate::status::OutboxStatus;

    const ALICE: &str = "15550001111@s.whatsapp.net";
    const OWN: &str = "15550009999@s.whatsapp.net";

    fn text(id: &str) -> NewMessage {
        NewMessage {
            push_name: Some("Alice".into()),
            ..NewMessage::text(Origin::Live, ALICE, id, crate::clock::now_ms(), "hi")
        }
    }

    #[test]
    fn a_redelivery_is_stored_once_and_reports_no_new_turn() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let policy = Policy::for_tests(&[ALICE], Some(OWN), false);
        let once = || Inbound {
            messages: vec![text("SM1")],
            statuses: vec![],
            unreadable: vec![],
            ..Inbound::default()
        };
        let first = store(&mut db, &policy, OWN, once()).unwrap();
        assert!(!first.pending_ids.is_empty());
        assert_eq!(first.pending_ids, ["SM1"]);
        let again = store(&mut db, &policy, OWN, once()).unwrap();
        assert!(again.pending_ids.is_empty(), "a duplicate is no new turn");
        assert_eq!(db.stats().unwrap().messages.total, 1);
        assert_eq!(db.stats().unwrap().messages.pending, 1);
        let other = Policy::for_tests(&[], Some(OWN), true);
        let mut m = text("SM2");
        m.chat_jid = "15550002222@s.whatsapp.net".into();
        m.sender = m.chat_jid.clone();
        let history = store(
            &mut db,
            &other,
            OWN,
            Inbound {
                messages: vec![m],
                statuses: vec![],
                unreadable: vec![],
                ..Inbound::default()
            },
        )
        .unwrap();
        assert!(
            history.pending_ids.is_empty(),
            "an unmonitored chat is archived only"
        );
    }

    #[test]
    fn a_status_callback_confirms_a_row_whose_answer_was_lost_then_a_failure_is_final() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        db.enqueue(
            &Outgoing {
                message_id: "3EB0OWN".into(),
                chat_jid: ALICE.into(),
                content: "answer".into(),
                kind: OutboxKind::Reply,
                reply_to_id: None,
            },
            0,
        )
        .unwrap();
        let row = db.due_sends(0, 1).unwrap().remove(0);
        assert!(db.mark_written(row.id, 0).unwrap());
        let policy = Policy::for_tests(&[ALICE], Some(OWN), false);
        let update = |delivery, code: Option<&str>| DeliveryUpdate {
            provider_id: Some("SMabc".into()),
            own_id: Some("3EB0OWN".into()),
            delivery,
            error_code: code.map(str::to_string),
            error: code.map(|c| format!("error {c}")),
            at: 5,
        };
        let inbound = Inbound {
            messages: vec![],
            statuses: vec![update(Delivery::Accepted, None)],
            unreadable: vec![],
            ..Inbound::default()
        };
        assert_eq!(store(&mut db, &policy, OWN, inbound).unwrap().statuses, 1);
        let row = db.outbox_row(row.id).unwrap().unwrap();
        assert_eq!(row.status, OutboxStatus::Accepted);
        assert_eq!(row.provider_id.as_deref(), Some("SMabc"));
        assert!(
            !db.mark_written(row.id, 6).unwrap(),
            "a row the status settled is not written (sent) again"
        );
        let mut failed = update(Delivery::Failed, Some("63016"));
        failed.own_id = None;
        let inbound = Inbound {
            messages: vec![],
            statuses: vec![failed],
            unreadable: vec![],
            ..Inbound::default()
        };
        store(&mut db, &policy, OWN, inbound).unwrap();
        let row = db.outbox_row(row.id).unwrap().unwrap();
        assert_eq!(
            (row.status, row.error_code.as_deref()),
            (OutboxStatus::Failed, Some("63016"))
        );
        assert_eq!(db.stats().unwrap().outbox.outside_window, 1);
    }
}
