//! Real library values for tests of the pipeline (here and in the binary): message
//! envelopes as the library builds them, and a history blob shipped the way WhatsApp
//! ships it. Built only for tests (`test-support`).

pub use whatsapp_rust;
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::message::MessageSource;
use whatsapp_rust::wacore::types::events::LazyHistorySync;

pub const ALICE: &str = "15550001111@s.whatsapp.net";
pub const GROUP: &str = "120363041234567890@g.us";
pub const OWN: &str = "15550009999@s.whatsapp.net";
const AT: i64 = 1_700_000_000;

/// A received message's envelope, as the library builds it.
pub fn info(chat: &str, sender: &str, from_me: bool) -> MessageInfo {
    MessageInfo {
        id: "3EB0ABC".into(),
        source: MessageSource {
            chat: chat.parse().unwrap(),
            sender: sender.parse().unwrap(),
            is_from_me: from_me,
            is_group: chat.ends_with("@g.us"),
            ..Default::default()
        },
        push_name: "Alice".into(),
        timestamp: chrono::DateTime::from_timestamp(AT, 0).unwrap(),
        ..Default::default()
    }
}

fn web(chat: &str, id: &str, from_me: bool, at: u64, message: wa::Message) -> wa::HistorySyncMsg {
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
pub fn history_sample() -> wa::HistorySync {
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

/// Encodes and compresses the blob the way WhatsApp ships it, and reads it back
/// through the library's own lazy decoder.
pub fn shipped(sync: &wa::HistorySync) -> wa::HistorySync {
    let lazy = chunk(sync, Some(100));
    lazy.get().expect("the blob decodes").clone()
}

/// The event payload of a pushed history chunk carrying `sync`, compressed the way
/// WhatsApp ships it, at `progress` of its transfer.
pub fn chunk(sync: &wa::HistorySync, progress: Option<u32>) -> LazyHistorySync {
    use std::io::Write;
    let raw = whatsapp_rust::buffa::Message::encode_to_vec(sync);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).unwrap();
    LazyHistorySync::new(
        z.finish().unwrap().into(),
        raw.len(),
        wa::history_sync::HistorySyncType::ON_DEMAND as i32,
        Some(1),
        progress,
    )
}
