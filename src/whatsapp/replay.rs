//! A generated stream of live WhatsApp events (real library values: texts, quotes,
//! group messages, images with CDN keys) replayed through the listener's conversion and
//! ingest path, so the benchmark can measure the listener's memory without a server.

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::message::MessageSource;

use super::convert;
use super::ingest;
use crate::config::Config;
use crate::db::Db;
use crate::policy::Policy;

/// The library hands the durability hook batches of about this size.
const BATCH: usize = 25;
const CHATS: usize = 50;

#[derive(Debug, Serialize)]
pub struct Replayed {
    pub messages: usize,
    pub seconds: f64,
    /// The process's peak resident set (VmHWM), the figure the listener budget is about.
    pub peak_rss_bytes: Option<u64>,
}

pub fn run(mut config: Config, messages: usize) -> Result<Replayed> {
    config.file.whatsapp.store_all_chats = true;
    let policy = Policy::new(&config);
    let mut db = Db::open(&config.database_path)?;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..messages {
        let (info, message) = event(i);
        batch.push(convert::receive(&info, &message));
        if batch.len() == BATCH {
            ingest::store(&mut db, &policy, std::mem::take(&mut batch))?;
        }
    }
    ingest::store(&mut db, &policy, batch)?;
    Ok(Replayed {
        messages,
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_bytes: peak_rss(),
    })
}

/// The i-th event of the stream: deterministic, so runs compare.
fn event(i: usize) -> (MessageInfo, wa::Message) {
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
    (info, message)
}

fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
