//! The daily "alive" message to the account's own chat, with a health line: queued
//! once per local day (a stable id), refused loudly when no listener could deliver it.
//!
//! It is also an end-to-end canary: the message must go out through the listener (the
//! sending half: WhatsApp's server acks it) and the owner's phone's receipt must come
//! back through the listener (the receiving half) within `vitality.canary_seconds`.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::TimeZone;
use serde::Serialize;

use crate::clock;
use crate::config::Config;
use crate::db::{Db, OutboxKind, OutboxRow, Outgoing, Stats};
use crate::error::{self, Kind};
use crate::status::OutboxStatus;

/// How far the canary got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Canary {
    /// The owner's phone confirmed it: both halves work.
    Confirmed,
    /// Never taken by WhatsApp: the sending half failed.
    NotSent,
    /// Taken by WhatsApp, never confirmed by the phone: the receiving half failed (or
    /// the phone is off).
    NoReceipt,
    /// Refused or withdrawn.
    Failed,
}

impl Canary {
    pub fn of(row: &OutboxRow) -> Self {
        match row.status {
            OutboxStatus::Delivered => Canary::Confirmed,
            OutboxStatus::Pending | OutboxStatus::Written => Canary::NotSent,
            OutboxStatus::Accepted | OutboxStatus::Unconfirmed => Canary::NoReceipt,
            OutboxStatus::Failed | OutboxStatus::Cancelled => Canary::Failed,
        }
    }

    /// Which half failed, and where to look, for `vitality` and `doctor`.
    pub fn explain(self) -> &'static str {
        match self {
            Canary::Confirmed => "sent, and the phone's receipt came back through the listener",
            Canary::NotSent => {
                "the sending half failed: the listener never got it to WhatsApp (is `wabot listen` connected? `journalctl -u wabot-listen`)"
            }
            Canary::NoReceipt => {
                "the receiving half failed: WhatsApp took it, but no receipt from your phone came back through the listener (is the phone online? a listener that receives nothing reconnects after whatsapp.silent_minutes)"
            }
            Canary::Failed => "WhatsApp refused it (`wabot outbox list --status failed` says why)",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub queued: bool,
    pub chat_jid: Option<String>,
    pub message_id: Option<String>,
    pub content: Option<String>,
    /// Why nothing was queued.
    pub reason: Option<String>,
    /// How far today's canary got, when it was waited for.
    pub canary: Option<Canary>,
}

/// Waits at most `wait` for the canary `message_id` to be confirmed; exit 69 naming
/// the half that failed otherwise.
pub fn confirm(db: &Db, message_id: &str, wait: Duration) -> Result<Canary> {
    let never = AtomicBool::new(false);
    let mut last = None;
    clock::poll_until(Some(Instant::now() + wait), CANARY_POLL, &never, || {
        let row = db.outbox_row_for(message_id)?;
        last = row.as_ref().map(Canary::of);
        Ok(row.filter(|r| Canary::of(r) == Canary::Confirmed))
    })?;
    match last {
        Some(Canary::Confirmed) => Ok(Canary::Confirmed),
        Some(canary) => Err(error::failure(
            Kind::Unavailable,
            format!(
                "the vitality canary did not come back within {} s: {}",
                wait.as_secs(),
                canary.explain()
            ),
        )),
        None => anyhow::bail!("the vitality message vanished from the outbox"),
    }
}

const CANARY_POLL: Duration = Duration::from_millis(250);

/// Queues today's message for `own`, unless it was queued today already.
pub fn queue(db: &mut Db, config: &Config, own: &str) -> Result<Report> {
    let now = clock::now_ms();
    // "Once a day" counts days where the crontab line runs it: in vitality.timezone.
    let tz = config.vitality_zone();
    let stats = db.stats()?;
    let Some(beat) = db.heartbeat()?.filter(|b| b.is_fresh(now)) else {
        let last = stats
            .listener
            .last_heartbeat_at
            .map_or_else(|| "never".into(), |t| clock::display(t, tz));
        return Err(error::failure(
            Kind::Unavailable,
            format!(
                "the listener is not running (last heartbeat: {last}); the vitality message could not be delivered. Check `systemctl status wabot-listen`"
            ),
        ));
    };
    if !beat.connected {
        log::warn!(
            "the listener is running but not connected ({}); the message waits in the outbox",
            beat.detail.as_deref().unwrap_or(beat.state.as_str())
        );
    }
    let today = tz
        .timestamp_millis_opt(now)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let midnight = clock::start_of_today(tz);
    let content = format!(
        "{}\n{}",
        config.file.vitality.message,
        health_line(&stats, db.messages_stored_since(midnight)?, now)
    );
    // One vitality message per local day, however often cron runs this.
    let message_id = crate::message_id::stable(&format!("vitality/{own}/{today}"));
    let queued = db.enqueue(
        &Outgoing {
            message_id: message_id.clone(),
            chat_jid: own.to_string(),
            content: content.clone(),
            kind: OutboxKind::Vitality,
            reply_to_id: None,
        },
        now,
    )?;
    Ok(Report {
        queued,
        chat_jid: Some(own.to_string()),
        message_id: Some(message_id),
        content: Some(content),
        reason: (!queued).then(|| "already queued today".into()),
        canary: None,
    })
}

fn health_line(stats: &Stats, today: i64, now: i64) -> String {
    let l = &stats.listener;
    let listener = match (l.connected, l.last_heartbeat_at) {
        (true, Some(t)) => format!("listener connected (heartbeat {} s ago)", (now - t) / 1000),
        (false, Some(t)) => format!(
            "listener NOT connected (heartbeat {} s ago)",
            (now - t) / 1000
        ),
        (_, None) => "listener unknown".into(),
    };
    format!(
        "{listener} · {today} messages today · {} replies pending · {} failed sends · database {}",
        stats.outbox.pending,
        stats.outbox.failed,
        indicatif::HumanBytes(stats.database.size_bytes + stats.database.wal_bytes)
    )
}
