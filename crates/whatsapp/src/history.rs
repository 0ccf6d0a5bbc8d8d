//! History WhatsApp sends as `HistorySync` blobs (pushed after pairing, or answering an
//! on-demand request), read into a [`HistoryBlob`]: the same conversion as live
//! messages, always as history, with the LID mappings it names and, per chat, the
//! messages it carried.

use wabot_core::history::{Answer, Cursor};
use wabot_core::inbound::Inbound;
use wabot_core::message::Origin;
use wabot_core::sink::HistoryBlob;
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::message::MessageSource;
use whatsapp_rust::wacore_binary::JidExt;

use crate::convert;

/// Reads every message of the blob as history; `own` is the account's JID (the sender
/// of its own messages).
pub fn blob(
    sync: &wa::HistorySync,
    own: &Jid,
    requested: bool,
    progress: Option<u32>,
) -> HistoryBlob {
    let mut read = HistoryBlob {
        identities: identities(sync),
        requested,
        progress,
        ..HistoryBlob::default()
    };
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
            read.messages.push(received);
        }
        read.chats.push((chat.to_non_ad_string(), answer));
    }
    read
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
mod tests {
    use super::*;
    use crate::testing::{self, ALICE, OWN};

    #[test]
    fn a_history_blob_is_read_as_history_with_its_chats_and_identities() {
        let sync = testing::shipped(&testing::history_sample());
        let read = blob(&sync, &OWN.parse().unwrap(), true, Some(100));
        assert_eq!(read.messages.len(), 4);
        assert!(read.messages.iter().all(|m| matches!(
            &m.inbound,
            Inbound::Message(m) if m.origin == Origin::History
        )));
        assert_eq!(
            read.identities,
            [("987654321@lid".to_string(), ALICE.to_string())]
        );
        let (chat, alice) = &read.chats[0];
        assert_eq!(chat, ALICE);
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
        assert!(!read.chats[1].1.end_of_history);
        assert!((read.requested, read.progress) == (true, Some(100)));
    }
}
