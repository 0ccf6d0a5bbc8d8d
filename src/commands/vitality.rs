//! `wabot vitality`: the daily "alive" message to the account's own chat, with a health
//! line. Loud (stderr, exit 69) when the listener could not deliver it.

use anyhow::Result;
use chrono::TimeZone;
use serde::Serialize;

use super::{load_config, logged_job, open_db};
use crate::cli::{Global, VitalityArgs};
use crate::clock;
use crate::config::Config;
use crate::db::{Db, OutboxKind, Outgoing, Stats};
use crate::error::{self, Kind};
use crate::output;

#[derive(Debug, Serialize)]
struct Report {
    queued: bool,
    chat_jid: Option<String>,
    message_id: Option<String>,
    content: Option<String>,
    /// Why nothing was queued.
    reason: Option<String>,
}

pub fn run(global: &Global, args: &VitalityArgs) -> Result<()> {
    let config = load_config(global)?;
    if args.print_cron {
        return output::line(cron_lines(&config, global));
    }
    if !config.file.vitality.enabled {
        let report = Report {
            queued: false,
            chat_jid: None,
            message_id: None,
            content: None,
            reason: Some("vitality.enabled is false".into()),
        };
        return print(args, &report);
    }
    let own = config.self_jid().ok_or_else(|| {
        error::config("whatsapp.phone_number is needed: the vitality message goes to your own chat")
    })?;
    let mut db = open_db(&config)?;
    let report = logged_job(
        &mut db,
        "vitality",
        |db| queue(db, &config, &own),
        |r| serde_json::to_value(r).unwrap_or_default(),
    )?;
    print(args, &report)
}

fn queue(db: &mut Db, config: &Config, own: &str) -> Result<Report> {
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

fn print(args: &VitalityArgs, report: &Report) -> Result<()> {
    if args.output.json {
        return output::print_json(report);
    }
    if output::stdout_is_terminal() {
        match (&report.content, &report.reason) {
            (Some(content), None) => output::line(format_args!("queued:\n{content}"))?,
            (_, reason) => output::line(format_args!(
                "nothing queued: {}",
                reason.as_deref().unwrap_or("")
            ))?,
        }
    }
    Ok(())
}

/// Crontab lines for the configured time, in the configured zone.
fn cron_lines(config: &Config, global: &Global) -> String {
    let v = &config.file.vitality;
    let zone = config.vitality_zone();
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok())
        .map_or_else(|| "wabot".into(), |p| p.display().to_string());
    let config_arg = config
        .config_path
        .as_ref()
        .and_then(|p| p.canonicalize().ok())
        .map(|p| format!(" --config {}", p.display()))
        .unwrap_or_default();
    let db_arg = global
        .db
        .as_ref()
        .map(|p| format!(" --db {}", p.display()))
        .unwrap_or_default();
    format!(
        "CRON_TZ={}\n{} {} * * * {exe}{config_arg}{db_arg} vitality",
        zone.name(),
        v.time.minute,
        v.time.hour
    )
}
