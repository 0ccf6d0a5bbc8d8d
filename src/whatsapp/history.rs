//! History WhatsApp sends as `HistorySync` blobs (pushed after pairing, or answering an
//! on-demand request) → the same idempotent ingest as live messages, always as history.

use std::collections::BTreeMap;

use anyhow::Result;
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::message::MessageSource;
use whatsapp_rust::wacore_binary::JidExt;

use super::convert::{self, Inbound};
use crate::db::{Cursor, Db};
use crate::message::Origin;
use crate::pipeline::ingest;
use crate::policy::Policy;
use crate::sync::engine::Answer;

/// What one history blob held, per chat (phone-number JID where the mapping is known).
#[derive(Debug, Default)]
pub struct Received {
    pub answers: BTreeMap<String, Answer>,
    pub stored: usize,
}

/// Stores every message of the blob as history (edits and revokes applied, LID
/// mappings learnt) and says, per chat, which messages it carried.
pub fn store(db: &mut Db, policy: &Policy, sync: &wa::HistorySync, own: &Jid) -> Result<Received> {
    for (lid, pn) in identities(sync) {
        db.record_lid(&lid, &pn)?;
    }
    let mut received = Received::default();
    let mut batch = Vec::new();
    for conversation in &sync.conversations {
        let Ok(chat) = conversation.id.parse::<Jid>() else {
            log::warn!("history: skipped a conversation with an unreadable chat id");
            continue;
        };
        let mut answer = Answer {
            end_of_history: conversation.end_of_history_transfer == Some(true),
            ..Answer::default()
        };
        for message in &conversation.messages {
            let Some(web) = message.message.as_option() else {
                continue;
            };
            let Some((info, content)) = message_info(&chat, web, own) else {
                continue;
            };
            answer.messages.push(Cursor {
                id: info.id.clone(),
                timestamp_ms: info.timestamp.timestamp_millis(),
                from_me: info.source.is_from_me,
            });
            let mut received = convert::receive(&info, content);
            match &mut received.inbound {
                Inbound::Message(m) | Inbound::Vote { message: m, .. } => {
                    m.origin = Origin::History
                }
                _ => {}
            }
            batch.push(received);
        }
        let chat = db.canonical_jid(&chat.to_non_ad_string())?;
        received.stored += answer.messages.len();
        received.answers.insert(chat, answer);
    }
    ingest::store(db, &policy.for_history(), batch)?;
    Ok(received)
}

/// Every (LID, phone JID) pair a blob names: its mapping table, and conversations that
/// carry both identities of their chat.
fn identities(sync: &wa::HistorySync) -> Vec<(String, String)> {
    let parse = |lid: Option<&str>, pn: Option<&str>| {
        let (lid, pn) = (lid?.parse::<Jid>().ok()?, pn?.parse::<Jid>().ok()?);
        (lid.is_lid() && pn.is_pn()).then(|| (lid.to_non_ad_string(), pn.to_non_ad_string()))
    };
    let table = sync
        .phone_number_to_lid_mappings
        .iter()
        .filter_map(|m| parse(m.lid_jid.as_deref(), m.pn_jid.as_deref()));
    let conversations = sync.conversations.iter().filter_map(|c| {
        let lid = c
            .lid_jid
            .as_deref()
            .or(Some(c.id.as_str()).filter(|id| id.ends_with("@lid")));
        let pn = c
            .pn_jid
            .as_deref()
            .or(Some(c.id.as_str()).filter(|id| id.ends_with("@s.whatsapp.net")));
        parse(lid, pn)
    });
    table.chain(conversations).collect()
}

/// The live-message view of a stored one, so one conversion serves both.
fn message_info<'a>(
    chat: &Jid,
    web: &'a wa::WebMessageInfo,
    own: &Jid,
) -> Option<(MessageInfo, &'a wa::Message)> {
    let key = web.key.as_option()?;
    let id = key.id.clone().filter(|id| !id.is_empty())?;
    let content = web.message.as_option()?;
    let seconds = i64::try_from(web.message_timestamp?).ok()?;
    let from_me = key.from_me == Some(true);
    let is_group = chat.is_group();
    let sender = if from_me {
        own.clone()
    } else if is_group {
        key.participant
            .as_deref()
            .or(web.participant.as_deref())
            .and_then(|p| p.parse().ok())?
    } else {
        chat.clone()
    };
    let info = MessageInfo {
        id,
        source: MessageSource {
            chat: chat.clone(),
            sender,
            is_from_me: from_me,
            is_group,
            ..Default::default()
        },
        push_name: web.push_name.clone().unwrap_or_default(),
        timestamp: chrono::DateTime::from_timestamp(seconds, 0)?,
        ..Default::default()
    };
    Some((info, content))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const ALICE: &str = "15550001111@s.whatsapp.net";
    const GROUP: &str = "120363041234567890@g.us";
    const OWN: &str = "15550009999@s.whatsapp.net";

    fn web(
        chat: &str,
        id: &str,
        from_me: bool,
        at: u64,
        message: wa::Message,
    ) -> wa::HistorySyncMsg {
        wa::HistorySyncMsg {
            message: MessageField::some(wa::WebMessageInfo {
                key: MessageField::some(wa::MessageKey {
                    remote_jid: Some(chat.into()),
                    from_me: Some(from_me),
                    id: Some(id.into()),
                    participant: chat
                        .ends_with("@g.us")
                        .then(|| "15550002222@s.whatsapp.net".into()),
                }),
                message: MessageField::some(message),
                message_timestamp: Some(at),
                push_name: Some("Alice".into()),
                ..Default::default()
            }),
            msg_order_id: None,
        }
    }

    /// A real on-demand history blob: two chats, text, an image, an own message, a
    /// group message and a LID mapping.
    pub fn sample() -> wa::HistorySync {
        let image = wa::Message {
            image_message: MessageField::some(wa::message::ImageMessage {
                mimetype: Some("image/jpeg".into()),
                file_sha256: Some(vec![1; 32]),
                file_length: Some(10),
                ..Default::default()
            }),
            ..Default::default()
        };
        wa::HistorySync {
            sync_type: wa::history_sync::HistorySyncType::ON_DEMAND,
            conversations: vec![
                wa::Conversation {
                    id: ALICE.into(),
                    messages: vec![
                        web(
                            ALICE,
                            "H1",
                            false,
                            1_600_000_000,
                            wa::Message::text("old question"),
                        ),
                        web(
                            ALICE,
                            "H2",
                            true,
                            1_600_000_060,
                            wa::Message::text("old answer"),
                        ),
                        web(ALICE, "H3", false, 1_600_000_120, image),
                    ],
                    end_of_history_transfer: Some(true),
                    ..Default::default()
                },
                wa::Conversation {
                    id: GROUP.into(),
                    messages: vec![web(
                        GROUP,
                        "G1",
                        false,
                        1_600_000_000,
                        wa::Message::text("hi all"),
                    )],
                    ..Default::default()
                },
            ],
            phone_number_to_lid_mappings: vec![wa::PhoneNumberToLIDMapping {
                pn_jid: Some(ALICE.into()),
                lid_jid: Some("987654321@lid".into()),
            }],
            ..Default::default()
        }
    }

    /// No monitored chat, everything archived; independent of any app.json around.
    fn policy() -> Policy {
        Policy::for_tests(&[], None, true)
    }

    /// Encodes and compresses the blob the way WhatsApp ships it, and reads it back
    /// through the library's own lazy decoder.
    fn shipped(sync: &wa::HistorySync) -> wa::HistorySync {
        use std::io::Write;
        let raw = whatsapp_rust::buffa::Message::encode_to_vec(sync);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&raw).unwrap();
        let lazy = whatsapp_rust::wacore::types::events::LazyHistorySync::new(
            z.finish().unwrap().into(),
            raw.len(),
            wa::history_sync::HistorySyncType::ON_DEMAND as i32,
            None,
            Some(100),
        );
        lazy.get().expect("the blob decodes").clone()
    }

    #[test]
    fn a_history_blob_is_stored_once_as_history_however_often_it_comes() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let sync = shipped(&sample());
        let own: Jid = OWN.parse().unwrap();
        let first = store(&mut db, &policy(), &sync, &own).unwrap();
        let second = store(&mut db, &policy(), &sync, &own).unwrap();
        assert_eq!(first.stored, 4);
        assert_eq!(second.stored, 4, "the answer is reported again");
        let stats = db.stats().unwrap();
        assert_eq!(stats.messages.total, 4, "but stored once");
        assert_eq!(stats.messages.pending, 0, "history is never answered");
        assert_eq!(stats.chats, 2);
        let alice = &first.answers[ALICE];
        assert!(alice.end_of_history);
        assert_eq!(
            alice
                .messages
                .iter()
                .map(|m| (m.id.as_str(), m.from_me))
                .collect::<Vec<_>>(),
            vec![("H1", false), ("H2", true), ("H3", false)]
        );
        assert_eq!(alice.messages[0].timestamp_ms, 1_600_000_000_000);
        assert_eq!(
            db.canonical_jid("987654321@lid").unwrap(),
            ALICE,
            "the LID mapping was learnt"
        );
        let media = db.media_of_message("H3", None).unwrap();
        assert_eq!(media.len(), 1);
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
}
