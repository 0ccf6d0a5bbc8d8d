//! A generated stream of live WhatsApp events, real library values (texts, quotes,
//! group messages, images with CDN keys) converted as the durability hook converts
//! them: what the `replay-events` benchmark command feeds the listener's sink.

use wabot_core::inbound::Received;
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::message::MessageSource;

use crate::convert;

/// How many chats the stream spreads over.
const CHATS: usize = 50;

/// A contact's question, stamped now.
pub fn question(contact: &str, run: i64, i: usize) -> Received {
    let info = MessageInfo {
        id: format!("3EB0{run:012X}{i:06X}"),
        source: MessageSource {
            chat: contact.parse().unwrap_or_default(),
            sender: contact.parse().unwrap_or_default(),
            ..Default::default()
        },
        push_name: "Asker".into(),
        timestamp: chrono::Utc::now(),
        ..Default::default()
    };
    let message = wa::Message::text(format!("what is on the plan for today? ({i})"));
    convert::receive(&info, &message)
}

/// The i-th event of the stream: deterministic, so runs compare.
pub fn event(i: usize) -> Received {
    let chat_n = i * 7919 % CHATS;
    let group = chat_n.is_multiple_of(3);
    let chat = if group {
        format!("1203630{chat_n:011}@g.us")
    } else {
        format!("1555{chat_n:07}@s.whatsapp.net")
    };
    let sender = if group {
        format!("1555{:07}@s.whatsapp.net", 1000 + i % 40)
    } else {
        chat.clone()
    };
    let words = 5 + i * 31 % 36;
    let text: String = (0..words)
        .map(|w| {
            [
                "what", "time", "is", "the", "meeting", "tomorrow", "spark", "plan",
            ][(i + w) % 8]
        })
        .collect::<Vec<_>>()
        .join(" ");
    let message = if i.is_multiple_of(10) {
        wa::Message {
            image_message: MessageField::some(wa::message::ImageMessage {
                mimetype: Some("image/jpeg".into()),
                caption: Some(text),
                file_length: Some(48_000),
                file_sha256: Some(vec![(i % 251) as u8; 32]),
                file_enc_sha256: Some(vec![1; 32]),
                media_key: Some(vec![2; 32]),
                direct_path: Some(format!("/v/t62.7118-24/{i}")),
                ..Default::default()
            }),
            ..Default::default()
        }
    } else if i.is_multiple_of(7) {
        let quoted = wa::ContextInfo {
            stanza_id: Some(format!("3EB0{:016X}", i - 1)),
            ..Default::default()
        };
        wa::Message::text_with_context(&text, quoted)
    } else {
        wa::Message::text(&text)
    };
    let info = MessageInfo {
        id: format!("3EB0{i:016X}"),
        source: MessageSource {
            chat: chat.parse().unwrap_or_default(),
            sender: sender.parse().unwrap_or_default(),
            is_from_me: i.is_multiple_of(5),
            is_group: group,
            ..Default::default()
        },
        push_name: format!("Person {}", i % 40),
        timestamp: chrono::DateTime::from_timestamp(1_700_000_000 + i as i64, 0)
            .unwrap_or_default(),
        ..Default::default()
    };
    convert::receive(&info, &message)
}
