//! The one ingest: what any transport received, stored. Identities and poll secrets
//! first, then messages (anything validation rejects goes to the quarantine), then edits
//! and revokes; the policy decides each message's status. Every step is idempotent, so
//! a batch delivered twice (a redelivery after a crash, a replayed webhook) is harmless.
//! The linked device's hook, history sync and the webhook server all store through it.

use anyhow::Result;

use crate::clock;
use crate::db::{Changed, Db, Quarantined};
use crate::inbound::{Inbound, Received, Vote};
use crate::kind::MessageKind;
use crate::message::NewMessage;
use crate::policy::Policy;

/// Stores one batch: identities and poll secrets first, then messages (anything
/// validation rejects goes to the quarantine), then edits and revokes. Returns the ids
/// of the newly stored messages that wait for an answer.
pub fn store(db: &mut Db, policy: &Policy, batch: Vec<Received>) -> Result<Vec<String>> {
    let now = clock::now_ms();
    for (lid, phone) in batch.iter().flat_map(|r| &r.identities) {
        db.record_alias(lid, phone)?;
    }
    for poll in batch.iter().filter_map(|r| r.poll.as_ref()) {
        db.record_poll(poll, now)?;
    }
    let mut messages = Vec::new();
    let mut changes = Vec::new();
    for received in batch {
        let message = match received.inbound {
            Inbound::Message(m) => m,
            Inbound::Vote { message, vote } => read_vote(db, message, &vote)?,
            Inbound::Skip(reason) => {
                log::debug!("not stored: {reason}");
                continue;
            }
            change => {
                changes.push(change);
                continue;
            }
        };
        let mut m = message;
        if let Some(media) = m.media.as_mut() {
            media.fetch = policy.downloads_media(&db.canonical_jid(&m.chat_jid)?);
        }
        messages.push(m);
    }
    // Kept to quarantine whatever validation rejects: the ingest consumes the batch.
    let copies = messages.clone();
    let report = db.ingest(messages, &|m| policy.on_arrival(m))?;
    let quarantined: Vec<Quarantined> = report
        .rejected
        .iter()
        .filter_map(|r| copies.get(r.index).map(|m| quarantine(m, &r.reason, now)))
        .collect();
    for q in &quarantined {
        log::warn!(
            "a received message was quarantined ({} in {}): {}",
            q.message_id,
            q.chat_jid,
            q.reason
        );
    }
    db.quarantine(&quarantined)?;
    for change in changes {
        match change {
            Inbound::Edit {
                chat_jid,
                id,
                content,
                by,
                at,
            } => {
                let edit = Changed {
                    chat_jid: &chat_jid,
                    id: &id,
                    by: &by,
                    at,
                };
                db.apply_edit(&edit, &content)?;
            }
            Inbound::Revoke {
                chat_jid,
                id,
                by,
                at,
            } => {
                let revoke = Changed {
                    chat_jid: &chat_jid,
                    id: &id,
                    by: &by,
                    at,
                };
                db.apply_revoke(&revoke, policy.keeps_deleted())?;
            }
            Inbound::Message(_) | Inbound::Vote { .. } | Inbound::Skip(_) => {}
        }
    }
    Ok(report.pending)
}

/// A vote whose poll's secret is known becomes a `poll_vote` naming the chosen
/// options; otherwise it stays `unsupported` with its protobuf.
fn read_vote(db: &Db, mut m: NewMessage, vote: &Vote) -> Result<NewMessage> {
    let Some(poll) = db.poll_secret(&vote.poll_id)? else {
        m.kept
            .notes
            .push("the poll is unknown: vote not decrypted".into());
        return Ok(m);
    };
    let creator_alt = db.alternate_jid(&poll.creator_jid)?;
    let Some(options) = crate::whatsapp::convert::read_vote(vote, &poll, creator_alt.as_deref())
    else {
        m.kept
            .notes
            .push("the vote did not decrypt with its poll's secret".into());
        return Ok(m);
    };
    m.message_type = MessageKind::PollVote;
    m.content = if options.is_empty() {
        "[poll vote withdrawn]".into()
    } else {
        format!("[poll vote] {}", options.join(", "))
    };
    m.kept = Default::default();
    Ok(m)
}

fn quarantine(m: &NewMessage, reason: &str, now: i64) -> Quarantined {
    let mut record = m.clone();
    let wire_raw = record.kept.wire_raw.take();
    Quarantined {
        chat_jid: m.chat_jid.clone(),
        message_id: m.id.clone(),
        reason: reason.to_string(),
        record: format!("{record:?}"),
        wire_raw,
        created_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MessageStatus, NewMessage, Origin};

    fn message(chat: &str, id: &str, from_me: bool, kind: &str) -> NewMessage {
        NewMessage {
            sender: if from_me {
                "15550009999@s.whatsapp.net"
            } else {
                chat
            }
            .into(),
            is_from_me: from_me,
            message_type: kind.parse().expect("a message kind"),
            ..NewMessage::text(Origin::Live, chat, id, 1_700_000_000_000, "hi")
        }
    }

    fn policy(store_all: bool) -> Policy {
        Policy::for_tests(
            &["15550001111@s.whatsapp.net", "15550009999@s.whatsapp.net"],
            Some("15550009999@s.whatsapp.net"),
            store_all,
        )
    }

    #[test]
    fn group_subjects_name_their_chats() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let group = "120363041234567890@g.us";
        let mut m = message(group, "g1", false, "text");
        m.sender = "15550002222@s.whatsapp.net".into();
        db.ingest(vec![m], &|_| Some(MessageStatus::History))
            .unwrap();
        db.name_groups(&[(group.into(), "Family".into())]).unwrap();
        db.name_groups(&[(group.into(), "Family 2026".into())])
            .unwrap();
        assert_eq!(db.stats().unwrap().chats, 1);
        assert_eq!(
            db.name_of(group).unwrap().as_deref(),
            Some("Family 2026"),
            "the subject follows renames"
        );
    }

    #[test]
    fn a_redelivered_batch_with_edits_and_revokes_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let alice = "15550001111@s.whatsapp.net";
        let mut first = Received::of(Inbound::Message(message(
            "987654321@lid",
            "m1",
            false,
            "text",
        )));
        first
            .identities
            .push(("987654321@lid".into(), alice.into()));
        let batch = vec![
            first,
            Received::of(Inbound::Message(message(alice, "m2", false, "text"))),
            Received::of(Inbound::Edit {
                chat_jid: alice.into(),
                id: "m2".into(),
                content: "edited".into(),
                by: alice.into(),
                at: 5,
            }),
            Received::of(Inbound::Revoke {
                chat_jid: "987654321@lid".into(),
                id: "m1".into(),
                by: "987654321@lid".into(),
                at: 6,
            }),
            Received::of(Inbound::Skip("protocol message")),
        ];
        for _ in 0..2 {
            store(&mut db, &policy(false), batch.clone()).unwrap();
        }
        let stats = db.stats().unwrap();
        assert_eq!(
            stats.messages.total, 2,
            "the LID message joined Alice's chat, once"
        );
        assert_eq!(stats.chats, 1);
        assert_eq!(
            stats.messages.pending, 1,
            "the revoked message is no longer pending"
        );
        let find = |query: &str| {
            let filter = crate::db::SearchFilter {
                chat: Some(alice),
                sender: None,
                author: None,
                from_me: false,
                since: None,
                until: None,
                limit: 10,
                order: Default::default(),
            };
            db.search(query, &filter).unwrap()
        };
        let edited = find("edited");
        assert_eq!(edited.len(), 1, "the edit replaced the text");
        assert_eq!(
            (edited[0].id.as_str(), edited[0].content.as_str()),
            ("m2", "edited")
        );
        assert!(
            find("hi").is_empty(),
            "neither the old text nor the revoked one remain"
        );
    }
}
