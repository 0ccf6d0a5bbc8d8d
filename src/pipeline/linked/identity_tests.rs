//! Test code only (declared `#[cfg(test)]` in pipeline/linked/mod.rs).
//! Issue 30 on the linked device: one person is one chat, nobody rewrites what someone
//! else wrote. The library's real values go through the listener's functions into a
//! real database.

use wabot_whatsapp::testing::whatsapp_rust;
use whatsapp_rust::prelude::*;

use super::tests::{GROUP, OWN, db, info};
use crate::db::{ClaimRequest, Db};
use crate::pipeline::ingest;
use crate::policy::Policy;

const OWN_LID: &str = "555000111222333@lid";
const DANA: &str = "15550003333@s.whatsapp.net";

/// A group message from Dana mentioning `mentioned`, as a migrated group sends it.
fn mentioning(db: &mut Db, policy: &Policy, id: &str, mentioned: &str) {
    let user = mentioned.split('@').next().unwrap_or_default();
    let message = wa::Message {
        extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
            text: Some(format!("@{user} what do you think?")),
            context_info: MessageField::some(wa::ContextInfo {
                mentioned_jid: vec![mentioned.to_string()],
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let item = crate::whatsapp::convert::receive(&info(GROUP, DANA, id), &message);
    ingest::store(db, policy, vec![item]).unwrap();
}

fn claimed_mentions(db: &mut Db) -> Vec<String> {
    let monitored = [GROUP.to_string()];
    let claimed = db
        .claim_turns(&ClaimRequest {
            monitored: &monitored,
            self_jid: Some(OWN),
            batch: 10,
            now: crate::clock::now_ms(),
            lease_until: crate::clock::now_ms() + 60_000,
            token: "t",
            preview: false,
        })
        .unwrap();
    claimed
        .turns
        .into_iter()
        .flat_map(|t| t.messages)
        .flat_map(|m| m.mentions)
        .collect()
}

#[test]
fn mentions_of_the_bots_lid_in_migrated_groups_reach_the_bot() {
    let (_dir, mut db) = db();
    let policy = Policy::for_tests(&[GROUP], Some(OWN), false);
    // Stored before the listener learnt its own LID: resolved when the turn is judged.
    mentioning(&mut db, &policy, "EARLY", OWN_LID);
    db.record_alias(OWN_LID, OWN).unwrap();
    assert_eq!(claimed_mentions(&mut db), [OWN]);
    // Stored after: resolved as it is stored.
    mentioning(&mut db, &policy, "LATER", OWN_LID);
    let row = db.stored(GROUP, "LATER").unwrap().unwrap();
    assert_eq!(
        row.mentions.as_deref(),
        Some(r#"["15550009999@s.whatsapp.net"]"#)
    );
    assert!(policy.mentions_bot("@555000111222333 what do you think?", &[OWN.to_string()]));
}

const ALICE_IN_GROUP: &str = "15550001111@s.whatsapp.net";

fn protocol(
    id: &str,
    kind: wa::message::protocol_message::Type,
    text: Option<&str>,
) -> wa::Message {
    wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            key: MessageField::some(wa::MessageKey {
                remote_jid: Some(GROUP.into()),
                from_me: Some(false),
                id: Some(id.into()),
                participant: Some(ALICE_IN_GROUP.into()),
            }),
            r#type: Some(kind),
            edited_message: match text {
                Some(t) => MessageField::some(wa::Message::text(t)),
                None => MessageField::none(),
            },
            timestamp_ms: Some(1_700_000_500_000),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `sender` sends `message` to the group, through the listener's path.
fn from(db: &mut Db, policy: &Policy, sender: &str, id: &str, message: &wa::Message) {
    let item = crate::whatsapp::convert::receive(&info(GROUP, sender, id), message);
    ingest::store(db, policy, vec![item]).unwrap();
}

/// Alice's message the tests then edit and revoke.
fn alices_original(db: &mut Db, policy: &Policy) {
    let meet = wa::Message::text("meet at 6");
    from(db, policy, ALICE_IN_GROUP, "ORIG", &meet);
}

#[test]
fn edits_and_revokes_only_by_their_author_or_a_group_admin() {
    use wa::message::protocol_message::Type;
    let (dir, mut db) = db();
    let policy = Policy::for_tests(&[GROUP], Some(OWN), false);
    alices_original(&mut db, &policy);
    let content = |db: &Db| db.stored(GROUP, "ORIG").unwrap().unwrap().content;

    // Another member rewrites Alice's message: refused, kept as evidence.
    from(
        &mut db,
        &policy,
        DANA,
        "E1",
        &protocol("ORIG", Type::MESSAGE_EDIT, Some("meet at 9")),
    );
    assert_eq!(content(&db), "meet at 6");
    assert_eq!(db.rejected_changes().unwrap(), 1);
    // Alice herself may.
    let alice_edit = protocol("ORIG", Type::MESSAGE_EDIT, Some("meet at 7"));
    from(&mut db, &policy, ALICE_IN_GROUP, "E2", &alice_edit);
    from(&mut db, &policy, ALICE_IN_GROUP, "E2", &alice_edit);
    assert_eq!(content(&db), "meet at 7");
    let versions = db.message_versions(GROUP, "ORIG").unwrap();
    assert_eq!(versions.len(), 1, "a redelivered edit keeps one version");
    assert_eq!(
        (
            versions[0].0.as_str(),
            versions[0].1.as_str(),
            versions[0].2.as_str()
        ),
        ("meet at 6", "edit", ALICE_IN_GROUP)
    );

    // Dana may not delete it for everyone, until she is an admin.
    let revoke = protocol("ORIG", Type::REVOKE, None);
    from(&mut db, &policy, DANA, "R1", &revoke);
    assert_eq!(content(&db), "meet at 7");
    assert_eq!(db.rejected_changes().unwrap(), 2);
    let sink = super::tests::sink(&dir);
    crate::sink::Sink::groups(
        &sink,
        vec![crate::sink::Group {
            jid: GROUP.into(),
            subject: "Family".into(),
            admins: vec![DANA.into()],
            identities: Vec::new(),
        }],
    )
    .unwrap();
    from(&mut db, &policy, DANA, "R2", &revoke);
    assert_eq!(content(&db), "", "deleted for everyone");
    let versions = db.message_versions(GROUP, "ORIG").unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.0.as_str(), v.1.as_str()))
            .collect::<Vec<_>>(),
        [("meet at 6", "edit"), ("meet at 7", "revoke")],
        "every version kept"
    );
}

#[test]
fn nobody_rewrites_the_bots_own_replies() {
    use wa::message::protocol_message::Type;
    let (_dir, mut db) = db();
    let policy = Policy::for_tests(&[GROUP], Some(OWN), false);
    let mut own = info(GROUP, OWN, "REPLY");
    own.source.is_from_me = true;
    let item = crate::whatsapp::convert::receive(&own, &wa::Message::text("the answer"));
    ingest::store(&mut db, &policy, vec![item]).unwrap();
    from(
        &mut db,
        &policy,
        DANA,
        "E1",
        &protocol("REPLY", Type::MESSAGE_EDIT, Some("lies")),
    );
    assert_eq!(
        db.stored(GROUP, "REPLY").unwrap().unwrap().content,
        "the answer"
    );
}

#[test]
fn an_owner_who_honours_deletions_keeps_no_deleted_text() {
    use wa::message::protocol_message::Type;
    let (_dir, mut db) = db();
    let policy = Policy::for_tests(&[GROUP], Some(OWN), false).dropping_deleted();
    alices_original(&mut db, &policy);
    from(
        &mut db,
        &policy,
        ALICE_IN_GROUP,
        "E",
        &protocol("ORIG", Type::MESSAGE_EDIT, Some("at 7")),
    );
    from(
        &mut db,
        &policy,
        ALICE_IN_GROUP,
        "R",
        &protocol("ORIG", Type::REVOKE, None),
    );
    assert_eq!(db.stored(GROUP, "ORIG").unwrap().unwrap().content, "");
    assert!(db.message_versions(GROUP, "ORIG").unwrap().is_empty());
}

#[test]
fn poll_votes_decrypt_across_the_lid_switch() {
    use super::tests::{ALICE, ALICE_LID, deliver, from_alice};
    use whatsapp_rust::wacore::poll;
    let (_dir, mut db) = db();
    let secret = [9u8; 32];
    // The poll, learnt with its creator's phone number (as history names it).
    let mut by_me = info(ALICE, OWN, "POLL9");
    by_me.source.is_from_me = true;
    let poll_message = super::tests::poll_with_secret(&secret);
    deliver(&mut db, &by_me, &poll_message);
    db.record_alias(OWN_LID, OWN).unwrap();
    // Alice votes from her LID; the vote is keyed in the LID namespace on both sides.
    let chosen = vec![poll::compute_option_hash("Beach").to_vec()];
    let (payload, iv) =
        poll::encrypt_poll_vote_with_secret(&chosen, &secret, "POLL9", OWN_LID, ALICE_LID).unwrap();
    let mut from_lid = from_alice("VOTE9");
    from_lid.source.sender = ALICE_LID.replace("@lid", ":3@lid").parse().unwrap();
    from_lid.source.sender_alt = Some(ALICE.parse().unwrap());
    let vote = wa::Message {
        poll_update_message: MessageField::some(wa::message::PollUpdateMessage {
            poll_creation_message_key: MessageField::some(wa::MessageKey {
                remote_jid: Some(ALICE.into()),
                from_me: Some(true),
                id: Some("POLL9".into()),
                participant: None,
            }),
            vote: MessageField::some(wa::message::PollEncValue {
                enc_payload: Some(payload),
                enc_iv: Some(iv.to_vec()),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    deliver(&mut db, &from_lid, &vote);
    let row = db
        .stored(ALICE, "VOTE9")
        .unwrap()
        .expect("stored in Alice's chat");
    assert_eq!(row.content, "[poll vote] Beach");
}

#[test]
fn a_number_change_keeps_one_chat_with_the_history() {
    use super::tests::{ALICE, deliver, from_alice};
    use whatsapp_rust::types::events::ContactNumberChanged;
    const NEW: &str = "15550005555@s.whatsapp.net";
    const NEW_LID: &str = "111222333444555@lid";
    let (dir, mut db) = db();
    deliver(
        &mut db,
        &from_alice("BEFORE"),
        &wa::Message::text("my old number"),
    );
    db.enqueue(
        &crate::db::Outgoing {
            message_id: "OUT".into(),
            chat_jid: ALICE.into(),
            content: "on its way".into(),
            kind: crate::db::OutboxKind::Reply,
            reply_to_id: None,
        },
        0,
    )
    .unwrap();
    let (wiring, _answers) =
        crate::whatsapp::wiring::Wiring::new(std::sync::Arc::new(super::tests::sink(&dir)));
    let changed = Event::ContactNumberChanged(
        ContactNumberChanged::builder()
            .old_jid(ALICE.parse().unwrap())
            .new_jid(NEW.parse().unwrap())
            .new_lid(NEW_LID.parse().unwrap())
            .timestamp(chrono::Utc::now())
            .build(),
    );
    wiring.dispatch_inline(std::sync::Arc::new(changed));
    assert!(
        db.stored(NEW, "BEFORE").unwrap().is_some(),
        "the history moved"
    );
    assert!(db.stored(ALICE, "BEFORE").unwrap().is_none());
    assert_eq!(
        db.canonical_jid(NEW_LID).unwrap(),
        NEW,
        "the new LID is the person"
    );
    assert_eq!(
        db.outbox_row_for("OUT").unwrap().unwrap().chat_jid,
        NEW,
        "a queued reply goes to the new number"
    );
}

#[test]
fn undecryptable_placeholders_carry_their_lid_mappings() {
    use super::tests::{ALICE, ALICE_LID, undecryptable};
    let (_dir, mut db) = db();
    let Event::UndecryptableMessage(mut failed) = undecryptable("LATE") else {
        unreachable!("the helper builds an undecryptable event")
    };
    let mut info = (*failed.info).clone();
    info.source.sender = ALICE_LID.parse().unwrap();
    info.source.sender_alt = Some(ALICE.parse().unwrap());
    failed.info = std::sync::Arc::new(info);
    let items = crate::whatsapp::wiring::unhooked(&Event::UndecryptableMessage(failed)).unwrap();
    ingest::store(&mut db, &super::tests::policy(), items).unwrap();
    assert_eq!(db.canonical_jid(ALICE_LID).unwrap(), ALICE);
}
