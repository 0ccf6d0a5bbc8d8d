//! Test code only (declared `#[cfg(test)]` in pipeline/linked/mod.rs).
//! Issue 29, item by item: a reply counts as delivered only when it is, and nothing
//! received is lost on a bad day. The library's real values (`Event`s, acks, receipts,
//! `MessageInfo`, waproto messages, history chunks) go through the functions the
//! listener runs into a real database.

use std::sync::Arc;

use wabot_whatsapp::testing::{self, whatsapp_rust};
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::events::{Connected, Receipt, ServerAck};
use whatsapp_rust::types::message::MessageSource;
use whatsapp_rust::types::presence::ReceiptType;

use super::sink::DbSink;
use super::tests::{
    ALICE, ALICE_LID, GROUP, OWN, db, deliver, from_alice, info, policy, queued, settle, sink,
    status, undecryptable, wrap, written,
};
use crate::db::{Db, MAX_RESENDS, OutboxKind, Outgoing};
use crate::jobs::vitality::Canary;
use crate::kind::MessageKind;
use crate::message::MessageStatus;
use crate::pipeline::{history, ingest};
use crate::policy::Policy;
use crate::sink::Sink;
use crate::status::OutboxStatus;
use crate::whatsapp::{convert, wiring};

fn queued_to(db: &mut Db, id: &str, chat: &str, kind: OutboxKind) {
    db.enqueue(
        &Outgoing {
            message_id: id.into(),
            chat_jid: chat.into(),
            content: "the answer".into(),
            kind,
            reply_to_id: None,
        },
        0,
    )
    .unwrap();
}

fn ack(id: &str, error: Option<&str>) -> Event {
    let ack = ServerAck::builder()
        .id(id.to_string())
        .class("message".to_string());
    Event::ServerAck(match error {
        Some(code) => ack.error(code.to_string()).build(),
        None => ack.build(),
    })
}

fn receipt(id: &str, chat: &str, kind: ReceiptType, at: i64) -> Event {
    Event::Receipt(
        Receipt::builder()
            .source(MessageSource {
                chat: chat.parse().unwrap(),
                sender: chat.parse().unwrap(),
                ..Default::default()
            })
            .message_ids(vec![id.into()])
            .timestamp(chrono::DateTime::from_timestamp_millis(at).unwrap())
            .r#type(kind)
            .offline(false)
            .build(),
    )
}

fn connected() -> Event {
    Event::Connected(Connected::builder().build())
}

fn row(db: &Db, id: &str) -> crate::db::OutboxRow {
    db.outbox_row_for(id).unwrap().unwrap()
}

// 1. Acked is not delivered ---------------------------------------------------------

#[test]
fn acked_is_not_delivered() {
    let (dir, mut db) = db();
    queued(&mut db, "3EB0A");
    written(&mut db, 1_000);
    // The server acks what 0.7.0 may have encrypted only to the owner's devices.
    settle(&dir, &ack("3EB0A", None), 2_000);
    assert_eq!(
        status(&db, "3EB0A"),
        OutboxStatus::Accepted,
        "not delivered"
    );
    assert_eq!(db.stats().unwrap().outbox.accepted, 1);

    // No receipt within the delivery timeout: unconfirmed, counted.
    assert_eq!(db.mark_unconfirmed(2_000, 10_000).unwrap(), 0, "not yet");
    assert_eq!(db.mark_unconfirmed(2_001, 10_000).unwrap(), 1);
    assert_eq!(status(&db, "3EB0A"), OutboxStatus::Unconfirmed);
    assert_eq!(db.stats().unwrap().outbox.unconfirmed, 1);

    // Each renewed session sends it again with its id, MAX_RESENDS times.
    let mut now = 20_000;
    for resend in 1..=MAX_RESENDS {
        settle(&dir, &connected(), now);
        let r = row(&db, "3EB0A");
        assert_eq!((r.status, r.resends), (OutboxStatus::Pending, resend));
        assert_eq!(written(&mut db, now + 1), ["3EB0A"], "the same id");
        settle(&dir, &ack("3EB0A", None), now + 2);
        db.mark_unconfirmed(now + 3, now + 3).unwrap();
        now += 10_000;
    }
    settle(&dir, &connected(), now);
    let r = row(&db, "3EB0A");
    assert_eq!(r.status, OutboxStatus::Failed, "given up after the resends");
    assert!(
        r.last_error.unwrap().contains("no delivery receipt after"),
        "with the reason"
    );

    // A receipt is proof, whatever was believed before.
    settle(
        &dir,
        &receipt("3EB0A", ALICE, ReceiptType::Delivered, now + 5),
        0,
    );
    let r = row(&db, "3EB0A");
    assert_eq!(
        (r.status, r.delivered_at, r.last_error),
        (OutboxStatus::Delivered, Some(now + 5), None)
    );
}

// 2. Nacks 500/503 are retryable ------------------------------------------------------

#[test]
fn nacks_500_and_503_are_retryable() {
    let (dir, mut db) = db();
    for (id, code) in [("3EB05", "500"), ("3EB06", "503")] {
        queued(&mut db, id);
        assert!(db.mark_written(row(&db, id).id, 1_000).unwrap());
        settle(&dir, &ack(id, Some(code)), 2_000);
        let r = row(&db, id);
        assert_eq!(r.status, OutboxStatus::Pending, "{code} is retried");
        assert!(r.last_error.unwrap().contains("sent again"));
        assert_eq!(r.error_code.as_deref(), Some(code));
        assert!(
            db.due_sends(2_000, 10)
                .unwrap()
                .iter()
                .all(|d| d.message_id != id),
            "after a back-off, not at once"
        );
    }
    queued_to(&mut db, "3EB07", GROUP, OutboxKind::Reply);
    assert!(db.mark_written(row(&db, "3EB07").id, 1_000).unwrap());
    settle(&dir, &ack("3EB07", Some("479")), 2_000);
    assert_eq!(
        status(&db, "3EB07"),
        OutboxStatus::Failed,
        "other codes are final"
    );
}

// 3. The Connected handler and the drain never both resend ---------------------------

#[test]
fn the_connected_handler_and_the_drain_do_not_both_resend() {
    let (dir, mut db) = db();
    queued(&mut db, "3EB0O");
    queued_to(&mut db, "3EB0N", GROUP, OutboxKind::Reply);
    assert!(db.mark_written(row(&db, "3EB0O").id, 4_000).unwrap());
    // Written on the new connection, the moment it came up: its ack is on its way.
    assert!(db.mark_written(row(&db, "3EB0N").id, 5_000).unwrap());
    settle(&dir, &connected(), 5_000);
    assert_eq!(
        status(&db, "3EB0O"),
        OutboxStatus::Pending,
        "the old socket's"
    );
    assert_eq!(status(&db, "3EB0N"), OutboxStatus::Written, "left alone");
    assert_eq!(written(&mut db, 5_001), ["3EB0O"], "one send each");
}

// 4. The sent copy joins the mapped chat -------------------------------------------

#[test]
fn the_sent_copy_goes_into_the_chat_the_mapping_resolves_to() {
    let (dir, mut db) = db();
    db.record_alias(ALICE_LID, ALICE).unwrap();
    queued_to(&mut db, "3EB0L", ALICE_LID, OutboxKind::Reply);
    written(&mut db, 1_000);
    settle(&dir, &ack("3EB0L", None), 2_000);
    assert!(
        db.stored(ALICE, "3EB0L").unwrap().is_some(),
        "one person, one chat"
    );
    assert!(db.stored(ALICE_LID, "3EB0L").unwrap().is_none());
}

// 5. Error 463: the reachout timelock -------------------------------------------------

#[test]
fn error_463_records_the_reachout_timelock_and_is_not_retried() {
    let (dir, mut db) = db();
    queued_to(
        &mut db,
        "3EB0T",
        "15550004444@s.whatsapp.net",
        OutboxKind::Manual,
    );
    written(&mut db, 1_000);
    let at = 2_000;
    settle(&dir, &ack("3EB0T", Some("463")), at);
    let r = row(&db, "3EB0T");
    assert_eq!(
        r.status,
        OutboxStatus::Failed,
        "never retried into the lock"
    );
    assert!(r.last_error.unwrap().contains("reachout timelock"));
    assert_eq!(db.stats().unwrap().outbox.reachout_refused, 1);
    let state = db.account_state().unwrap();
    assert_eq!(state.reachout_refused_at, Some(at));
    let assumed = at + crate::db::REACHOUT_ASSUMED_MS;
    assert_eq!(state.reachout_timelock(at + 1), Some(assumed));
    // WhatsApp's own answer wins, and "none" lifts it.
    let sink = sink(&dir);
    sink.record_standing(crate::account::Standing::Reachout { until: Some(9_000) })
        .unwrap();
    assert_eq!(
        db.account_state().unwrap().reachout_timelock(5_000),
        Some(9_000)
    );
    assert_eq!(db.account_state().unwrap().reachout_timelock(9_000), None);
    sink.record_standing(crate::account::Standing::Reachout { until: None })
        .unwrap();
    assert_eq!(db.account_state().unwrap().reachout_timelock(at + 1), None);
}

// 7. Unknown message types are stored --------------------------------------------------

#[test]
fn unknown_message_types_are_stored() {
    let (_dir, mut db) = db();
    // What the library hands over when the content's field is unknown to waproto: an
    // empty message (the decoder dropped the field).
    deliver(&mut db, &from_alice("NEWKIND"), &wa::Message::default());
    let row = db.stored(ALICE, "NEWKIND").unwrap().expect("a trace of it");
    assert_eq!(row.message_type, MessageKind::Unsupported);
    assert!(row.wire_type.unwrap().starts_with("unknown (type "));
    assert_eq!(row.status, MessageStatus::History, "never a turn");
    // Key material alone is not a message.
    let keys = wa::Message {
        sender_key_distribution_message: MessageField::some(Default::default()),
        ..Default::default()
    };
    deliver(&mut db, &from_alice("KEYS"), &keys);
    assert!(db.stored(ALICE, "KEYS").unwrap().is_none());
}

// 8. Status updates are not chat messages --------------------------------------------

fn status_mention() -> wa::Message {
    wa::Message {
        status_mention_message: wrap(wa::Message {
            conversation: Some("look at my status".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn status_updates_are_not_chat_messages() {
    let (_dir, mut db) = db();
    deliver(&mut db, &from_alice("MENTION"), &status_mention());
    assert!(
        db.stored(ALICE, "MENTION").unwrap().is_none(),
        "skipped by default, in a monitored chat"
    );
    let group_status = wa::Message {
        group_status_message_v2: wrap(wa::Message {
            conversation: Some("posted to the group's status".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let store = Policy::for_tests(&[ALICE, GROUP], Some(OWN), true).storing_statuses();
    let kept = [
        convert::receive(&from_alice("MENTION"), &status_mention()),
        convert::receive(&info(GROUP, ALICE, "GSTATUS"), &group_status),
    ];
    ingest::store(&mut db, &store, kept.to_vec()).unwrap();
    for (chat, id) in [(ALICE, "MENTION"), (GROUP, "GSTATUS")] {
        let row = db.stored(chat, id).unwrap().expect("kept by setting");
        assert_eq!(row.message_type, MessageKind::Status);
        assert_eq!(row.status, MessageStatus::History, "never answered");
    }
    // status@broadcast never becomes a chat.
    let posted = info("status@broadcast", ALICE, "POST");
    ingest::store(
        &mut db,
        &store,
        vec![convert::receive(&posted, &status_mention())],
    )
    .unwrap();
    assert_eq!(
        db.canonical_jid("status@broadcast").unwrap(),
        "status@broadcast"
    );
    assert!(db.stored("status@broadcast", "POST").unwrap().is_none());
    assert!(db.find_by_name("status@broadcast").unwrap().is_empty());
}

// 9. History chunks ------------------------------------------------------------------

fn wiring_over(dir: &tempfile::TempDir) -> (wiring::Wiring, Arc<DbSink>) {
    let sink = Arc::new(sink(dir));
    let (wiring, _answers) = wiring::Wiring::new(Arc::clone(&sink) as Arc<dyn Sink>);
    (wiring, sink)
}

#[test]
fn history_chunks_are_spooled_before_they_are_read() {
    let (dir, db) = db();
    let (wiring, sink) = wiring_over(&dir);
    let own: Jid = OWN.parse().unwrap();
    let chunk = testing::chunk(&testing::history_sample(), Some(40));
    wiring.spool_and_take(&chunk, Some(own.clone())).unwrap();
    let counts = db.history_chunk_counts().unwrap();
    assert_eq!((counts.pushed, counts.waiting, counts.messages), (1, 0, 4));
    assert_eq!(db.stats().unwrap().messages.total, 4);

    // A run that died after the spool (or read before the number was known): the next
    // start stores it.
    wiring.spool_and_take(&chunk, None).unwrap_err();
    assert_eq!(db.history_chunk_counts().unwrap().waiting, 1, "kept");
    let (again, _) = wiring_over(&dir);
    assert_eq!(again.replay_spool(Some(own)).unwrap(), 1);
    assert_eq!(db.history_chunk_counts().unwrap().waiting, 0);
    assert_eq!(db.stats().unwrap().messages.total, 4, "stored once");

    // A chunk that does not decode is kept with its error, not retried forever.
    let id = sink
        .spool_history(&crate::sink::HistoryChunk {
            compressed: b"not zlib".to_vec(),
            decompressed_size: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(again.replay_spool(None).unwrap(), 0);
    assert_eq!(
        db.history_chunk_counts().unwrap().unreadable,
        1,
        "chunk {id}"
    );
}

#[test]
fn a_broken_off_transfer_asks_the_monitored_chats_again() {
    let (dir, mut db) = db();
    let (wiring, _) = wiring_over(&dir);
    // The transfer stopped at 40 %: the library lost the rest after its receipts.
    let chunk = testing::chunk(&testing::history_sample(), Some(40));
    wiring
        .spool_and_take(&chunk, Some(OWN.parse().unwrap()))
        .unwrap();
    deliver(
        &mut db,
        &from_alice("LIVE"),
        &wa::Message {
            conversation: Some("hi".into()),
            ..Default::default()
        },
    );
    let now = crate::clock::now_ms();
    assert_eq!(
        history::reask_broken_transfer(&mut db, &policy(), now).unwrap(),
        0,
        "too soon"
    );
    let later = now + crate::db::TRANSFER_STALL_MS + 1;
    assert_eq!(
        history::reask_broken_transfer(&mut db, &policy(), later).unwrap(),
        1
    );
    assert_eq!(db.history_chunk_counts().unwrap().asked, 1);
    assert_eq!(
        history::reask_broken_transfer(&mut db, &policy(), later + 1).unwrap(),
        0,
        "asked once"
    );
}

// 12. The end-to-end canary ------------------------------------------------------------

#[test]
fn the_canary_proves_both_halves_of_the_path() {
    let (dir, mut db) = db();
    queued_to(&mut db, "3EB0V", OWN, OutboxKind::Vitality);
    assert_eq!(Canary::of(&row(&db, "3EB0V")), Canary::NotSent);
    written(&mut db, 1_000);
    assert_eq!(
        Canary::of(&row(&db, "3EB0V")),
        Canary::NotSent,
        "written, no ack"
    );
    settle(&dir, &ack("3EB0V", None), 2_000);
    let accepted = row(&db, "3EB0V");
    assert_eq!(
        Canary::of(&accepted),
        Canary::NoReceipt,
        "the sending half works"
    );
    assert!(
        db.stored(OWN, "3EB0V").unwrap().is_some(),
        "stored as the owner's own"
    );
    // The owner's phone answers a message to its own chat with a `sender` receipt.
    settle(&dir, &receipt("3EB0V", OWN, ReceiptType::Sender, 3_000), 0);
    assert_eq!(Canary::of(&row(&db, "3EB0V")), Canary::Confirmed);
    assert_eq!(db.last_canary().unwrap().unwrap().message_id, "3EB0V");

    // The owner's devices' receipt for a DM proves nothing about its recipient.
    queued_to(&mut db, "3EB0W", GROUP, OutboxKind::Reply);
    written(&mut db, 4_000);
    settle(&dir, &ack("3EB0W", None), 4_001);
    settle(&dir, &receipt("3EB0W", OWN, ReceiptType::Sender, 4_002), 0);
    assert_eq!(status(&db, "3EB0W"), OutboxStatus::Accepted);
}

// 14. Outside the hook, committed inline ----------------------------------------------

#[test]
fn unhooked_arrivals_are_committed_before_the_dispatch_returns() {
    let (dir, db) = db();
    let (wiring, _) = wiring_over(&dir);
    wiring.dispatch_inline(Arc::new(undecryptable("UNDEC")));
    assert!(
        db.stored(ALICE, "UNDEC").unwrap().is_some(),
        "stored when the dispatch returns, before the library's ack"
    );
}
