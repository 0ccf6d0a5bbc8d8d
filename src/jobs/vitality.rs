//! The daily "alive" message to the account's own chat, with a health line: queued
//! once per local day (a stable id), refused loudly when no listener could deliver it.

use anyhow::Result;
use chrono::TimeZone;
use serde::Serialize;

use crate::clock;
use crate::config::Config;
use crate::db::{Db, OutboxKind, Outgoing, Stats};
use crate::error::{self, Kind};

#[derive(Debug, Serialize)]
pub struct Report {
    pub queued: bool,
    pub chat_jid: Option<String>,
    pub message_id: Option<String>,
    pub content: Option<String>,
    /// Why nothing was queued.
    pub reason: Option<String>,
}

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
