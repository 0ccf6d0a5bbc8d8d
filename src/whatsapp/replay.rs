//! A generated stream of live WhatsApp events (real library values: texts, quotes,
//! group messages, images with CDN keys) replayed through the listener's own
//! durability hook (conversion, the committing store, and the on-arrival trigger when
//! `polling.on_arrival` is on), so the benchmark can measure the listener without a
//! server: its memory and CPU at a given rate, and how soon a question is answered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::message::MessageSource;

use super::convert::{self, Received};
use super::ingest::Hook;
use super::runtime;
use super::wiring::Wiring;
use crate::arrival::{self, Arrival};
use crate::clock;
use crate::config::{Config, EntityKind};
use crate::db::Db;
use crate::error::{self, Kind};
use crate::policy::Policy;

/// The library hands the durability hook batches of about this size.
const BATCH: usize = 25;
const CHATS: usize = 50;
/// How long a turn may take before the measurement gives up on it.
const REPLY_WAIT: Duration = Duration::from_secs(30);
/// How often the outbox is looked at while a turn is awaited.
const REPLY_POLL: Duration = Duration::from_millis(5);

#[derive(Debug, Serialize)]
pub struct Replayed {
    pub messages: usize,
    pub seconds: f64,
    /// The process's peak resident set (VmHWM), the figure the listener budget is about.
    pub peak_rss_bytes: Option<u64>,
    /// User and system CPU time of the whole process.
    pub cpu_seconds: Option<f64>,
}

/// The listener's receiving side as `listen` builds it, minus the connection.
struct Listener {
    runtime: tokio::runtime::Runtime,
    hook: Hook,
    arrival: Option<Arc<Arrival>>,
}

impl Listener {
    fn new(config: &Config) -> Result<Self> {
        let arrival = arrival::for_listener(config)?;
        let (mut wiring, _answers) =
            Wiring::new(Db::open(&config.database_path)?, Policy::new(config));
        if let Some(arrival) = &arrival {
            wiring.answer_on_arrival(Arc::clone(arrival));
        }
        Ok(Self {
            runtime: runtime()?,
            hook: wiring.hook(),
            arrival,
        })
    }

    /// What the library does with a decrypted batch: the hook commits it.
    fn deliver(&self, batch: Vec<Received>) -> Result<()> {
        self.runtime.block_on(self.hook.commit(batch))
    }

    fn stop(self) {
        if let Some(arrival) = self.arrival {
            arrival.shutdown(REPLY_WAIT);
        }
    }
}

/// Replays `messages` events: as fast as they are stored, in batches of 25 (a burst,
/// as after a reconnect), or one by one at `per_second` (live traffic).
pub fn run(mut config: Config, messages: usize, per_second: Option<f64>) -> Result<Replayed> {
    config.file.whatsapp.store_all_chats = true;
    let listener = Listener::new(&config)?;
    let started = Instant::now();
    match per_second {
        None => {
            let mut batch = Vec::with_capacity(BATCH);
            for i in 0..messages {
                let (info, message) = event(i);
                batch.push(convert::receive(&info, &message));
                if batch.len() == BATCH {
                    listener.deliver(std::mem::take(&mut batch))?;
                }
            }
            listener.deliver(batch)?;
        }
        Some(rate) => {
            for i in 0..messages {
                let due = started + Duration::from_secs_f64(i as f64 / rate);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                let (info, message) = event(i);
                listener.deliver(vec![convert::receive(&info, &message)])?;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    listener.stop();
    Ok(Replayed {
        messages,
        seconds,
        peak_rss_bytes: peak_rss(),
        cpu_seconds: cpu_seconds(),
    })
}

#[derive(Debug, Serialize)]
pub struct Turns {
    pub turns: usize,
    /// Per turn: from the question's commit by the hook to its reply in the outbox.
    pub latencies_ms: Vec<f64>,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// `turns` questions to the monitored contacts in turn, each awaited: the time from
/// its commit to its reply in the outbox, answered by whatever the listener starts (no
/// cron here).
pub fn turns(config: Config, turns: usize) -> Result<Turns> {
    let contacts: Vec<String> = config
        .entities
        .iter()
        .filter(|e| e.kind == EntityKind::User)
        .map(|e| e.jid.clone())
        .collect();
    if contacts.is_empty() {
        return Err(error::failure(
            Kind::Usage,
            "--turns: app.json monitors no contact (type \"user\") to ask",
        ));
    }
    if !config.file.polling.on_arrival {
        return Err(error::failure(
            Kind::Config,
            "--turns measures answering on arrival, and polling.on_arrival is off",
        ));
    }
    let listener = Listener::new(&config)?;
    let db = Db::open(&config.database_path)?;
    let run = clock::now_ms();
    let mut latencies = Vec::with_capacity(turns);
    for i in 0..turns {
        let contact = &contacts[i % contacts.len()];
        let before = clock::now_ms();
        let (info, message) = question(contact, run, i);
        listener.deliver(vec![convert::receive(&info, &message)])?;
        let committed = Instant::now();
        while db.replies_since(contact, before)? == 0 {
            if committed.elapsed() > REPLY_WAIT {
                listener.stop();
                return Err(error::failure(
                    Kind::Temporary,
                    format!(
                        "turn {i}: no reply in the outbox {REPLY_WAIT:?} after the question was stored"
                    ),
                ));
            }
            std::thread::sleep(REPLY_POLL);
        }
        latencies.push(committed.elapsed().as_secs_f64() * 1000.0);
    }
    listener.stop();
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    Ok(Turns {
        turns,
        p50_ms: percentile(&sorted, 50),
        p95_ms: percentile(&sorted, 95),
        latencies_ms: latencies,
    })
}

/// Nearest-rank percentile of sorted samples (0 for none).
fn percentile(sorted: &[f64], p: usize) -> f64 {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or(0.0)
}

/// A contact's question, stamped now.
fn question(contact: &str, run: i64, i: usize) -> (MessageInfo, wa::Message) {
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
    (
        info,
        wa::Message::text(format!("what is on the plan for today? ({i})")),
    )
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

/// CPU time from /proc/self/stat (`utime` and `stime`, in the kernel's USER_HZ of 100
/// ticks a second on every Linux architecture wabot builds for).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
