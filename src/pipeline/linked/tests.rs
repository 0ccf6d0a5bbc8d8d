//! Test code only (declared `#[cfg(test)]` in pipeline/linked/mod.rs).
//! Issue 18, case by case: the library's real values (waproto messages, `Event`s,
//! `MessageInfo`) fed through the functions the listener runs — `convert::receive`,
//! `ingest::store`, `wiring::unhooked`, `confirm::settle` over the [`DbSink`] — into a
//! real database.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use wabot_whatsapp::testing::{self, whatsapp_rust};
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::events::{
    BatchOrigin, DecryptFailMode, MessageBatch, Receipt, ServerAck, UnavailableType,
    UndecryptableMessage,
};
use whatsapp_rust::types::message::MessageSource;
use whatsapp_rust::types::presence::ReceiptType;

use super::sink::DbSink;
use crate::db::{Db, OutboxKind, Outgoing, SessionRow};
use crate::kind::MessageKind;
use crate::message::MessageStatus;
use crate::pipeline::{history, ingest};
use crate::policy::Policy;
use crate::status::OutboxStatus;
use crate::whatsapp::{self, confirm, convert, wiring};

pub(super) const ALICE: &str = "15550001111@s.whatsapp.net";
pub(super) const ALICE_LID: &str = "987654321012345@lid";
pub(super) const BOB: &str = "15550002222@s.whatsapp.net";
pub(super) const OWN: &str = "15550009999@s.whatsapp.net";
pub(super) const GROUP: &str = "120363041234567890@g.us";
pub(super) const AT: i64 = 1_700_000_000;

pub(super) fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("w.db")).unwrap();
    (dir, db)
}

/// Alice is monitored; other chats are stored as history.
pub(super) fn policy() -> Policy {
    Policy::for_tests(&[ALICE], Some(OWN), true)
}

pub(super) fn info(chat: &str, sender: &str, id: &str) -> MessageInfo {
    MessageInfo {
        id: id.into(),
        ..testing::info(chat, sender, false)
    }
}

/// The listener's sink over a connection of its own to the test's database.
pub(super) fn sink(dir: &tempfile::TempDir) -> DbSink {
    let db = Db::open(&dir.path().join("w.db")).unwrap();
    DbSink::new(db, Arc::new(RwLock::new(policy())), OWN.into(), None)
}

/// A history blob as the listener stores it: read by the crate, stored by the pipeline.
fn store_history(db: &mut Db, sync: &wa::HistorySync) -> Vec<(String, crate::history::Answer)> {
    let blob = whatsapp::history::blob(sync, &OWN.parse().unwrap(), true, None);
    history::store(db, &policy(), blob).unwrap()
}

/// What the listener does with an event about our sends.
pub(super) fn settle(dir: &tempfile::TempDir, event: &Event, now: i64) {
    confirm::settle(event, now, &sink(dir)).unwrap();
}

pub(super) fn from_alice(id: &str) -> MessageInfo {
    info(ALICE, "15550001111:3@s.whatsapp.net", id)
}

/// Runs one received message through the listener's path into the store.
pub(super) fn deliver(db: &mut Db, info: &MessageInfo, message: &wa::Message) {
    ingest::store(db, &policy(), vec![convert::receive(info, message)]).unwrap();
}

/// The library's event for a message of Alice's that did not decrypt.
pub(super) fn undecryptable(id: &str) -> Event {
    Event::UndecryptableMessage(
        UndecryptableMessage::builder()
            .info(Arc::new(from_alice(id)))
            .is_unavailable(false)
            .unavailable_type(UnavailableType::Unknown)
            .decrypt_fail_mode(DecryptFailMode::Show)
            .build(),
    )
}

pub(super) fn wrap(inner: wa::Message) -> MessageField<wa::message::FutureProofMessage> {
    MessageField::some(wa::message::FutureProofMessage {
        message: MessageField::some(inner),
    })
}

fn key(id: &str) -> MessageField<wa::MessageKey> {
    MessageField::some(wa::MessageKey {
        remote_jid: Some(ALICE.into()),
        from_me: Some(false),
        id: Some(id.into()),
        participant: None,
    })
}

fn image(caption: &str) -> wa::Message {
    wa::Message {
        image_message: MessageField::some(wa::message::ImageMessage {
            caption: Some(caption.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

// 1. Wrapped messages ------------------------------------------------------------------

#[test]
fn album_items_are_stored() {
    let (_dir, mut db) = db();
    let header = wa::Message {
        album_message: MessageField::some(wa::message::AlbumMessage {
            expected_image_count: Some(2),
            ..Default::default()
        }),
        ..Default::default()
    };
    deliver(&mut db, &from_alice("ALBUM"), &header);
    for (id, caption) in [("ITEM1", "beach"), ("ITEM2", "sunset")] {
        let mut child = image(caption);
        child.message_context_info = MessageField::some(wa::MessageContextInfo {
            message_association: MessageField::some(wa::MessageAssociation {
                association_type: Some(wa::message_association::AssociationType::MEDIA_ALBUM),
                parent_message_key: key("ALBUM"),
                ..Default::default()
            }),
            ..Default::default()
        });
        let item = wa::Message {
            associated_child_message: wrap(child),
            ..Default::default()
        };
        deliver(&mut db, &from_alice(id), &item);
    }
    let item = db
        .stored(ALICE, "ITEM2")
        .unwrap()
        .expect("the album item is stored");
    assert_eq!(
        (item.message_type.as_str(), item.content.as_str()),
        ("image", "[image] sunset")
    );
    assert_eq!(
        db.stored(ALICE, "ALBUM").unwrap().unwrap().message_type,
        MessageKind::Album
    );
    assert_eq!(db.count_in(ALICE).unwrap(), 3);
}

#[test]
fn every_wrapper_layer_is_unwrapped() {
    let wrappers: [fn(wa::Message) -> wa::Message; 8] = [
        |m| wa::Message {
            view_once_message: wrap(m),
            ..Default::default()
        },
        |m| wa::Message {
            ephemeral_message: wrap(m),
            ..Default::default()
        },
        |m| wa::Message {
            document_with_caption_message: wrap(m),
            ..Default::default()
        },
        |m| wa::Message {
            group_mentioned_message: wrap(m),
            ..Default::default()
        },
        |m| wa::Message {
            bot_invoke_message: wrap(m),
            ..Default::default()
        },
        |m| wa::Message {
            spoiler_message: wrap(m),
            ..Default::default()
        },
        |m| wa::Message {
            question_message: wrap(m),
            ..Default::default()
        },
        |m| wa::Message {
            device_sent_message: MessageField::some(wa::message::DeviceSentMessage {
                destination_jid: Some(ALICE.into()),
                message: MessageField::some(m),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    // All layers at once, nested: the text inside is what is stored.
    let nested = wrappers
        .iter()
        .fold(wa::Message::text("deep inside"), |m, w| w(m));
    match convert::convert(&from_alice("W"), &nested) {
        convert::Inbound::Message(m) => assert_eq!(m.content, "deep inside"),
        other => panic!("{other:?}"),
    }
    // A poll inside the v4 wrapper, and polls v5/v6.
    let poll = wa::message::PollCreationMessage {
        name: Some("Lunch?".into()),
        ..Default::default()
    };
    let v4 = wa::Message {
        poll_creation_message_v4: wrap(wa::Message {
            poll_creation_message: MessageField::some(poll.clone()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let v6 = wa::Message {
        poll_creation_message_v6: MessageField::some(poll),
        ..Default::default()
    };
    for message in [v4, v6] {
        match convert::convert(&from_alice("P"), &message) {
            convert::Inbound::Message(m) => assert_eq!(m.message_type, MessageKind::Poll),
            other => panic!("{other:?}"),
        }
    }
}

// 2. Unknown content, validation -------------------------------------------------------

#[test]
fn unknown_content_is_kept_as_unsupported() {
    let (_dir, mut db) = db();
    let payment = wa::Message {
        request_payment_message: MessageField::some(Default::default()),
        ..Default::default()
    };
    deliver(&mut db, &from_alice("PAY"), &payment);
    let row = db.stored(ALICE, "PAY").unwrap().expect("kept, not dropped");
    assert_eq!(row.message_type, MessageKind::Unsupported);
    assert_eq!(row.wire_type.as_deref(), Some("request_payment_message"));
    assert_eq!(
        row.status,
        MessageStatus::History,
        "a placeholder is never a turn"
    );
    let raw = row.wire_raw.expect("the protobuf is kept");
    let back = whatsapp_rust::waproto::codec::message_decode(&raw).unwrap();
    assert!(back.request_payment_message.is_set(), "and decodes again");
}

#[test]
fn a_bad_mention_is_dropped_with_a_note() {
    let (_dir, mut db) = db();
    let ctx = wa::ContextInfo {
        mentioned_jid: vec!["not a jid".into(), BOB.into()],
        ..Default::default()
    };
    deliver(
        &mut db,
        &from_alice("MENTION"),
        &wa::Message::text_with_context("hi @bob", ctx),
    );
    let row = db
        .stored(ALICE, "MENTION")
        .unwrap()
        .expect("the message is stored");
    assert_eq!(
        row.mentions.as_deref(),
        Some(r#"["15550002222@s.whatsapp.net"]"#)
    );
    assert!(row.note.unwrap().contains("mention dropped"));
    assert_eq!(row.status, MessageStatus::Pending, "still answered");
}

#[test]
fn hosted_senders_are_folded_into_their_account() {
    let (_dir, mut db) = db();
    deliver(
        &mut db,
        &info(GROUP, "15550002222:5@hosted", "H"),
        &wa::Message::text("hi"),
    );
    assert_eq!(db.stored(GROUP, "H").unwrap().unwrap().sender, BOB);
}

#[test]
fn a_message_wabot_rejects_is_quarantined_and_counted() {
    let (_dir, mut db) = db();
    let from_bot = info("13135550002@bot", "13135550002@bot", "BOT1");
    for _ in 0..2 {
        deliver(&mut db, &from_bot, &wa::Message::text("I am an AI"));
    }
    let q = db.quarantined(10).unwrap();
    assert_eq!(q.len(), 1, "once, however often it is delivered");
    assert_eq!(q[0].message_id, "BOT1");
    assert!(q[0].reason.contains("chat_jid"), "{}", q[0].reason);
    assert!(q[0].record.contains("I am an AI"));
    assert_eq!(db.stats().unwrap().quarantined, 1);
    assert_eq!(
        serde_json::to_value(db.stats().unwrap()).unwrap()["quarantined"],
        1,
        "a documented `stats --json` key"
    );
}

// 3. Missing types ---------------------------------------------------------------------

pub(super) fn poll_with_secret(secret: &[u8]) -> wa::Message {
    let option = |name: &str| wa::message::poll_creation_message::Option {
        option_name: Some(name.into()),
        ..Default::default()
    };
    wa::Message {
        poll_creation_message_v3: MessageField::some(wa::message::PollCreationMessage {
            name: Some("Where?".into()),
            options: vec![option("Park"), option("Beach")],
            ..Default::default()
        }),
        message_context_info: MessageField::some(wa::MessageContextInfo {
            message_secret: Some(secret.to_vec()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn vote(poll_id: &str, payload: Vec<u8>, iv: Vec<u8>) -> wa::Message {
    wa::Message {
        poll_update_message: MessageField::some(wa::message::PollUpdateMessage {
            poll_creation_message_key: key(poll_id),
            vote: MessageField::some(wa::message::PollEncValue {
                enc_payload: Some(payload),
                enc_iv: Some(iv),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn poll_votes_are_decrypted_when_the_poll_is_known() {
    use whatsapp_rust::wacore::poll;
    let (_dir, mut db) = db();
    let secret = [7u8; 32];
    let mut by_me = info(ALICE, OWN, "POLL1");
    by_me.source.is_from_me = true;
    deliver(&mut db, &by_me, &poll_with_secret(&secret));
    let chosen = vec![poll::compute_option_hash("Beach").to_vec()];
    let (payload, iv) =
        poll::encrypt_poll_vote_with_secret(&chosen, &secret, "POLL1", OWN, ALICE).unwrap();
    deliver(
        &mut db,
        &from_alice("VOTE1"),
        &vote("POLL1", payload, iv.to_vec()),
    );
    let row = db.stored(ALICE, "VOTE1").unwrap().unwrap();
    assert_eq!(
        (row.message_type.as_str(), row.content.as_str()),
        ("poll_vote", "[poll vote] Beach")
    );
    assert_eq!(row.quoted_id.as_deref(), Some("POLL1"));
    assert_eq!(
        row.status,
        MessageStatus::History,
        "a vote is not a question"
    );
}

#[test]
fn poll_votes_of_unknown_polls_are_kept_as_unsupported() {
    let (_dir, mut db) = db();
    deliver(
        &mut db,
        &from_alice("VOTE2"),
        &vote("NOPOLL", vec![1; 40], vec![2; 12]),
    );
    let row = db.stored(ALICE, "VOTE2").unwrap().unwrap();
    assert_eq!(row.message_type, MessageKind::Unsupported);
    assert_eq!(row.wire_type.as_deref(), Some("poll_update_message"));
    assert!(row.wire_raw.is_some());
}

#[test]
fn responses_are_stored_as_the_chosen_text() {
    use wa::__buffa::oneof::message::buttons_response_message::Response;
    let buttons = wa::Message {
        buttons_response_message: MessageField::some(wa::message::ButtonsResponseMessage {
            selected_button_id: Some("btn-2".into()),
            response: Some(Response::SelectedDisplayText("Tomorrow".into())),
            ..Default::default()
        }),
        ..Default::default()
    };
    let list = wa::Message {
        list_response_message: MessageField::some(wa::message::ListResponseMessage {
            title: Some("Large pizza".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let template = wa::Message {
        template_button_reply_message: MessageField::some(
            wa::message::TemplateButtonReplyMessage {
                selected_id: Some("t1".into()),
                selected_display_text: Some("Yes please".into()),
                ..Default::default()
            },
        ),
        ..Default::default()
    };
    let interactive = wa::Message {
        interactive_response_message: MessageField::some(wa::message::InteractiveResponseMessage {
            body: MessageField::some(wa::message::interactive_response_message::Body {
                text: Some("Booked for 8".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    for (message, text) in [
        (buttons, "Tomorrow"),
        (list, "Large pizza"),
        (template, "Yes please"),
        (interactive, "Booked for 8"),
    ] {
        match convert::convert(&from_alice("R"), &message) {
            convert::Inbound::Message(m) => {
                assert_eq!(
                    (m.message_type.as_str(), m.content.as_str()),
                    ("response", text)
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn call_logs_events_invites_and_ephemeral_settings_are_stored() {
    let (_dir, mut db) = db();
    let call = wa::Message {
        call_log_messsage: MessageField::some(wa::message::CallLogMessage {
            is_video: Some(true),
            call_outcome: Some(wa::message::call_log_message::CallOutcome::MISSED),
            ..Default::default()
        }),
        ..Default::default()
    };
    let event = wa::Message {
        event_message: MessageField::some(wa::message::EventMessage {
            name: Some("Picnic".into()),
            start_time: Some(AT),
            ..Default::default()
        }),
        ..Default::default()
    };
    let invite = wa::Message {
        group_invite_message: MessageField::some(wa::message::GroupInviteMessage {
            group_jid: Some(GROUP.into()),
            invite_code: Some("AbCd".into()),
            group_name: Some("Climbing".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let ephemeral = wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            r#type: Some(wa::message::protocol_message::Type::EPHEMERAL_SETTING),
            ephemeral_expiration: Some(7 * 86_400),
            ..Default::default()
        }),
        ..Default::default()
    };
    let cases = [
        ("CALL", call, "call", "[video call, missed]"),
        (
            "EVENT",
            event,
            "event",
            "[event] Picnic (2023-11-14 22:13 UTC)",
        ),
        ("INVITE", invite, "group_invite", "[group invite] Climbing"),
        (
            "EPH",
            ephemeral,
            "ephemeral_setting",
            "[disappearing messages: 7 days]",
        ),
    ];
    for (id, message, kind, content) in cases {
        deliver(&mut db, &from_alice(id), &message);
        let row = db
            .stored(ALICE, id)
            .unwrap()
            .unwrap_or_else(|| panic!("{id} stored"));
        assert_eq!(
            (row.message_type.as_str(), row.content.as_str()),
            (kind, content)
        );
    }
    assert_eq!(
        db.stored(ALICE, "EVENT").unwrap().unwrap().status,
        MessageStatus::Pending
    );
    assert_eq!(
        db.stored(ALICE, "CALL").unwrap().unwrap().status,
        MessageStatus::History
    );
}

#[test]
fn a_removed_reaction_is_recorded() {
    let (_dir, mut db) = db();
    let reaction = |text: &str| wa::Message {
        reaction_message: MessageField::some(wa::message::ReactionMessage {
            key: key("ORIG"),
            text: Some(text.into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    deliver(&mut db, &from_alice("RE1"), &reaction("👍"));
    deliver(&mut db, &from_alice("RE2"), &reaction(""));
    let removed = db
        .stored(ALICE, "RE2")
        .unwrap()
        .expect("the removal is stored");
    assert_eq!(removed.message_type, MessageKind::ReactionRemoved);
    assert_eq!(removed.quoted_id.as_deref(), Some("ORIG"));
    assert_eq!(removed.status, MessageStatus::History);
}

#[test]
fn an_undecryptable_message_is_kept_and_replaced_by_its_plaintext() {
    let (_dir, mut db) = db();
    let failed = undecryptable("LATE");
    let items = wiring::unhooked(&failed).expect("a placeholder to store");
    ingest::store(&mut db, &policy(), items.clone()).unwrap();
    ingest::store(&mut db, &policy(), items).unwrap();
    let placeholder = db.stored(ALICE, "LATE").unwrap().expect("kept");
    assert_eq!(
        (
            placeholder.message_type.as_str(),
            placeholder.status.as_str()
        ),
        ("undecryptable", "history")
    );
    // The retry brings the plaintext under the same id.
    deliver(
        &mut db,
        &from_alice("LATE"),
        &wa::Message::text("can you call me?"),
    );
    let real = db.stored(ALICE, "LATE").unwrap().unwrap();
    assert_eq!(
        (real.message_type.as_str(), real.content.as_str()),
        ("text", "can you call me?")
    );
    assert_eq!(real.status, MessageStatus::Pending, "and it is answered");
    assert_eq!(db.count_in(ALICE).unwrap(), 1);
    // A late placeholder never overwrites the real copy.
    ingest::store(&mut db, &policy(), wiring::unhooked(&failed).unwrap()).unwrap();
    assert_eq!(
        db.stored(ALICE, "LATE").unwrap().unwrap().message_type,
        MessageKind::Text
    );
}

// 4. Placeholder recovery --------------------------------------------------------------

#[test]
fn a_recovered_placeholder_batch_is_stored() {
    let (_dir, mut db) = db();
    let recovered = MessageInfo {
        unavailable_request_id: Some("PDO1".into()),
        ..from_alice("RECOVERED")
    };
    let batch = |committed: bool| {
        Event::Messages(
            MessageBatch::builder()
                .messages(Arc::from([InboundMessage::builder()
                    .message(Arc::new(wa::Message::text("recovered")))
                    .info(Arc::new(recovered.clone()))
                    .build()]))
                .origin(BatchOrigin::Live)
                .hook_committed(committed)
                .build(),
        )
    };
    assert!(
        wiring::unhooked(&batch(true)).is_none(),
        "the hook stored those already"
    );
    let items = wiring::unhooked(&batch(false)).expect("bypassed the hook");
    ingest::store(&mut db, &policy(), items).unwrap();
    let row = db
        .stored(ALICE, "RECOVERED")
        .unwrap()
        .expect("stored like a live one");
    assert_eq!(
        (row.content.as_str(), row.status.as_str()),
        ("recovered", "pending")
    );
}

// 5. History at pairing ----------------------------------------------------------------

#[test]
fn history_at_pairing_is_stored_before_shutdown() {
    let (dir, _db) = db();
    let (wiring, _answers) = wiring::Wiring::new(Arc::new(sink(&dir)));
    let counter = wiring.in_flight_counter();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // A blob arrives: counted before it is decoded and stored.
    let busy = wiring::InFlight::start(&counter);
    assert!(
        !rt.block_on(wiring.settle(Duration::from_millis(200))),
        "shutdown must wait"
    );
    // The store runs beside the waiting settle; the wait above already showed that a
    // blob in flight holds shutdown, so no head start is needed.
    let writer = std::thread::spawn(move || {
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        store_history(&mut db, &testing::history_sample());
        drop(busy);
        dir
    });
    assert!(
        rt.block_on(wiring.settle(Duration::from_secs(10))),
        "settles once stored"
    );
    let dir = writer.join().unwrap();
    let db = Db::open(&dir.path().join("w.db")).unwrap();
    assert_eq!(
        db.stats().unwrap().messages.total,
        4,
        "the blob landed before the stop"
    );
}

#[test]
fn a_history_blob_is_stored_once_as_history_however_often_it_comes() {
    let (_dir, mut db) = db();
    let sync = testing::shipped(&testing::history_sample());
    let first = store_history(&mut db, &sync);
    let second = store_history(&mut db, &sync);
    assert_eq!(first, second, "the answer is reported again");
    let stats = db.stats().unwrap();
    assert_eq!(stats.messages.total, 4, "but stored once");
    assert_eq!(stats.messages.pending, 0, "history is never answered");
    assert_eq!(stats.chats, 2);
    assert_eq!(first[0].0, ALICE);
    assert_eq!(first[0].1.messages.len(), 3);
    assert_eq!(
        db.canonical_jid("987654321@lid").unwrap(),
        ALICE,
        "the LID mapping was learnt"
    );
    let media = db.media_of_message("H3", None).unwrap();
    assert_eq!(
        (media[0].media_type.as_str(), media[0].size_bytes),
        ("image", Some(10))
    );
    let filter = crate::db::SearchFilter {
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        db.search("question", &filter).unwrap().len(),
        1,
        "history is searchable"
    );
}

// 6. Identities ------------------------------------------------------------------------

#[test]
fn a_monitored_contact_writing_from_its_lid_is_answered() {
    let (_dir, mut db) = db();
    let mut from_lid = info(ALICE_LID, "987654321012345:2@lid", "LID1");
    from_lid.source.sender_alt = Some(ALICE.parse().unwrap());
    deliver(
        &mut db,
        &from_lid,
        &wa::Message::text("it's me, from my LID"),
    );
    let row = db
        .stored(ALICE, "LID1")
        .unwrap()
        .expect("stored in Alice's chat");
    assert_eq!(
        row.status,
        MessageStatus::Pending,
        "Alice is monitored: answered"
    );
    assert_eq!(row.sender, ALICE);
}

#[test]
fn a_lid_mapping_moves_rows_and_sessions_to_the_phone_chat() {
    let (_dir, mut db) = db();
    // Stored under the LID while the mapping was unknown.
    deliver(
        &mut db,
        &info(ALICE_LID, ALICE_LID, "OLD1"),
        &wa::Message::text("before"),
    );
    db.save_session(&SessionRow {
        id: "s1".into(),
        user_jid: ALICE_LID.into(),
        chat_jid: ALICE_LID.into(),
        context: "[]".into(),
        created_at: 1,
        expires_at: i64::MAX,
        last_activity: 1,
    })
    .unwrap();
    assert_eq!(db.count_in(ALICE_LID).unwrap(), 1);
    // The history names both identities of the conversation.
    let sync = wa::HistorySync {
        sync_type: wa::history_sync::HistorySyncType::PUSH_NAME,
        conversations: vec![wa::Conversation {
            id: ALICE_LID.into(),
            pn_jid: Some(ALICE.into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    store_history(&mut db, &sync);
    assert_eq!(
        db.count_in(ALICE_LID).unwrap(),
        0,
        "nothing left under the LID"
    );
    assert_eq!(db.stored(ALICE, "OLD1").unwrap().unwrap().sender, ALICE);
    assert!(
        db.session(ALICE, ALICE).unwrap().is_some(),
        "the session moved"
    );
    assert!(db.session(ALICE_LID, ALICE_LID).unwrap().is_none());
    assert_eq!(db.stats().unwrap().chats, 1, "one person, one chat");
}

#[test]
fn own_messages_in_a_lid_chat_reveal_the_peers_phone_number() {
    let mut mine = info(ALICE_LID, OWN, "MINE");
    mine.source.is_from_me = true;
    mine.peer_recipient_pn = Some(ALICE.parse().unwrap());
    assert_eq!(
        convert::receive(&mine, &wa::Message::text("hi")).identities,
        vec![(ALICE_LID.to_string(), ALICE.to_string())]
    );
}

// 7. Shutdown --------------------------------------------------------------------------

#[test]
fn shutdown_waits_longer_than_the_librarys_flush() {
    // The library's close flushes inbound (5 s) and outbound (5 s) commits, then keys.
    assert!(whatsapp::SHUTDOWN_GRACE >= Duration::from_secs(15));
    let unit = include_str!("../../../deploy/wabot-listen.service");
    let stop = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .and_then(|v| v.trim().trim_end_matches('s').parse::<u64>().ok())
        .expect("the unit sets TimeoutStopSec in seconds");
    // Drainer (grace/2) + received work (grace) + the connection's close (grace).
    let worst = whatsapp::SHUTDOWN_GRACE.as_secs() * 5 / 2;
    assert!(stop > worst, "TimeoutStopSec={stop}s must exceed {worst}s");
}

// 8. Every send confirmed --------------------------------------------------------------

pub(super) fn queued(db: &mut Db, id: &str) {
    db.enqueue(
        &Outgoing {
            message_id: id.into(),
            chat_jid: ALICE.into(),
            content: "the answer".into(),
            kind: OutboxKind::Reply,
            reply_to_id: None,
        },
        0,
    )
    .unwrap();
}

/// Writes the due rows to a stand-in socket (the drainer's path), returning their ids.
pub(super) fn written(db: &mut Db, now: i64) -> Vec<String> {
    use crate::outbox::{SendFailure, Sent, Transport};
    struct Socket(Vec<String>);
    impl Transport for Socket {
        fn name(&self) -> &'static str {
            "the socket"
        }
        fn send(&mut self, row: &crate::db::OutboxRow) -> Result<Sent, SendFailure> {
            self.0.push(row.message_id.clone());
            Ok(Sent::Written)
        }
    }
    let mut socket = Socket(Vec::new());
    crate::pipeline::drain::drain_once(db, &mut socket, OWN, now, 10).unwrap();
    socket.0
}

pub(super) fn status(db: &Db, id: &str) -> OutboxStatus {
    db.outbox_row_for(id).unwrap().unwrap().status
}

#[test]
fn a_server_ack_marks_the_row_sent() {
    let (dir, mut db) = db();
    queued(&mut db, "3EB0X");
    assert_eq!(written(&mut db, 1_000), ["3EB0X"]);
    assert_eq!(
        status(&db, "3EB0X"),
        OutboxStatus::Written,
        "written is not sent"
    );
    assert_eq!(db.stats().unwrap().outbox.written, 1);
    let receipt_ack = Event::ServerAck(
        ServerAck::builder()
            .id("3EB0X".to_string())
            .class("receipt".to_string())
            .build(),
    );
    settle(&dir, &receipt_ack, 2_000);
    assert_eq!(
        status(&db, "3EB0X"),
        OutboxStatus::Written,
        "an ack of another stanza class"
    );
    let ack = Event::ServerAck(
        ServerAck::builder()
            .id("3EB0X".to_string())
            .class("message".to_string())
            .build(),
    );
    settle(&dir, &ack, 2_000);
    assert_eq!(status(&db, "3EB0X"), OutboxStatus::Accepted);
    assert_eq!(
        db.stored(ALICE, "3EB0X").unwrap().unwrap().sender,
        OWN,
        "joins the chat"
    );
}

#[test]
fn a_nack_marks_the_row_failed_with_its_code() {
    let (dir, mut db) = db();
    queued(&mut db, "3EB0N");
    written(&mut db, 1_000);
    let nack = Event::ServerAck(
        ServerAck::builder()
            .id("3EB0N".to_string())
            .class("message".to_string())
            .error("479".to_string())
            .build(),
    );
    settle(&dir, &nack, 2_000);
    let row = db.outbox_row_for("3EB0N").unwrap().unwrap();
    assert_eq!(row.status, OutboxStatus::Failed);
    assert!(row.last_error.unwrap().contains("479"));
}

#[test]
fn an_unconfirmed_send_is_resent_with_the_same_id() {
    let (dir, mut db) = db();
    queued(&mut db, "3EB0R");
    assert_eq!(written(&mut db, 1_000), ["3EB0R"]);
    assert!(written(&mut db, 2_000).is_empty(), "waits for its ack");
    // No ack within the timeout: written again, same id.
    let later = 1_000 + crate::db::ACK_TIMEOUT_MS;
    assert_eq!(written(&mut db, later), ["3EB0R"]);
    // Or after a reconnect, at once.
    let connected = Event::Connected(whatsapp_rust::types::events::Connected::builder().build());
    settle(&dir, &connected, later + 1);
    assert_eq!(status(&db, "3EB0R"), OutboxStatus::Pending);
    assert_eq!(written(&mut db, later + 2), ["3EB0R"]);
}

#[test]
fn receipts_set_delivered_and_read() {
    let (dir, mut db) = db();
    queued(&mut db, "3EB0D");
    written(&mut db, 1_000);
    let receipt = |kind: ReceiptType, at: i64| {
        Event::Receipt(
            Receipt::builder()
                .source(MessageSource {
                    chat: ALICE.parse().unwrap(),
                    sender: ALICE.parse().unwrap(),
                    ..Default::default()
                })
                .message_ids(vec!["3EB0D".into()])
                .timestamp(chrono::DateTime::from_timestamp_millis(at).unwrap())
                .r#type(kind)
                .offline(false)
                .build(),
        )
    };
    // The ack was missed: a delivery receipt proves the server took it.
    settle(&dir, &receipt(ReceiptType::Delivered, 5_000), 0);
    let row = db.outbox_row_for("3EB0D").unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.delivered_at, row.read_at),
        ("delivered", Some(5_000), None)
    );
    settle(&dir, &receipt(ReceiptType::Read, 9_000), 0);
    let row = db.outbox_row_for("3EB0D").unwrap().unwrap();
    assert_eq!((row.delivered_at, row.read_at), (Some(5_000), Some(9_000)));
}
