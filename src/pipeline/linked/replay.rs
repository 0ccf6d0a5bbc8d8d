//! A generated stream of live WhatsApp events (real library values: texts, quotes,
//! group messages, images with CDN keys) replayed through the listener's own
//! durability hook (conversion, the committing store, and the on-arrival trigger when
//! `polling.on_arrival` is on), so the benchmark can measure the listener without a
//! server: its memory and CPU at a given rate, and how soon a question is answered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use super::sink::DbSink;
use crate::arrival::{self, Arrival};
use crate::clock;
use crate::config::{Config, EntityKind};
use crate::db::Db;
use crate::error::{self, Kind};
use crate::inbound::Received;
use crate::policy::Policy;
use crate::whatsapp::generated::{event, question};
use crate::whatsapp::hook::Hook;
use crate::whatsapp::wiring::Wiring;

/// The library hands the durability hook batches of about this size.
const BATCH: usize = 25;
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
        let policy = Arc::new(std::sync::RwLock::new(Policy::new(config)));
        let own = config.self_jid().unwrap_or_default();
        let sink = DbSink::new(
            Db::open(&config.database_path)?,
            policy,
            own,
            arrival.clone(),
        );
        let (wiring, _answers) = Wiring::new(Arc::new(sink));
        Ok(Self {
            runtime: tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?,
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
                batch.push(event(i));
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
                listener.deliver(vec![event(i)])?;
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
        listener.deliver(vec![question(contact, run, i)])?;
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
