//! `wabot stats`: what is stored, at a glance or as JSON for scripts.

use anyhow::Result;
use comfy_table::Cell;

use super::{load_config, read_db};
use crate::chats::Names;
use crate::cli::{Global, JsonFlag};
use crate::clock;
use crate::config::Config;
use crate::db::{Stats, UsageFigures};
use crate::output;

pub fn run(global: &Global, args: &JsonFlag) -> Result<()> {
    let config = load_config(global)?;
    let db = read_db(&config)?;
    let stats = db.stats_from(clock::start_of_today(config.timezone()))?;
    // Chats are named as every other command names them (a group known only from
    // app.json by what the owner calls it).
    let mut names = Names::new(&db, &config);
    if args.json {
        return output::print_json_named(&stats, &mut names);
    }
    print_tables(&stats, &config, &mut names)
}

fn print_tables(s: &Stats, config: &Config, names: &mut Names) -> Result<()> {
    let tz = config.timezone();
    let m = &s.messages;
    let o = &s.outbox;
    let mut overview = output::table();
    let rows = [
        (
            "answering",
            if s.paused {
                "paused: messages are stored, none answered (wabot resume)".to_string()
            } else {
                "on".to_string()
            },
        ),
        (
            "messages",
            format!(
                "{} total · {} inbound · {} outbound",
                m.total, m.inbound, m.outbound
            ),
        ),
        (
            "agent",
            format!(
                "{} pending · {} answered · {} failed",
                m.pending, m.answered, m.failed
            ),
        ),
        (
            "outbox",
            format!(
                "{} pending · {} written · {} accepted · {} delivered · {} unconfirmed · {} failed{}",
                o.pending,
                o.written,
                o.accepted,
                o.delivered,
                o.unconfirmed,
                o.failed,
                failure_notes(o)
            ),
        ),
        ("chats", s.chats.to_string()),
        ("contacts", s.contacts.to_string()),
        ("quarantined", s.quarantined.to_string()),
        (
            "transcripts",
            format!(
                "{} voice notes transcribed · {} failed · {} waiting",
                s.transcripts.transcribed, s.transcripts.failed, s.transcripts.waiting
            ),
        ),
        ("active sessions", s.sessions.active.to_string()),
        (
            "last message",
            s.last_message_at
                .map_or_else(|| "none".into(), |t| clock::display(t, tz)),
        ),
        (
            "database",
            format!(
                "{} ({} + {} WAL, schema {})",
                s.database.path,
                human_bytes(s.database.size_bytes),
                human_bytes(s.database.wal_bytes),
                s.database.schema_version
            ),
        ),
    ];
    for (key, value) in rows {
        overview.add_row([Cell::new(key), Cell::new(value)]);
    }
    overview.add_row([Cell::new("listener"), Cell::new(listener_line(s, tz))]);
    let usage = &s.llm;
    for (label, figures) in [
        ("LLM today", &usage.today),
        ("LLM 7 days", &usage.last_7_days),
        ("LLM total", &usage.total),
    ] {
        overview.add_row([Cell::new(label), Cell::new(usage_line(figures))]);
    }
    for failure in &s.outbox.recent_failures {
        overview.add_row([
            Cell::new("failed send"),
            Cell::new(format!(
                "#{} to {}: {}",
                failure.id,
                failure.chat_jid,
                failure.last_error.as_deref().unwrap_or("unknown error")
            )),
        ]);
    }
    if !s.sync.checkpoints.is_empty() {
        let states: Vec<String> = s
            .sync
            .checkpoints
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        overview.add_row([Cell::new("history sync"), Cell::new(states.join(" · "))]);
    }
    for (job, last) in &s.jobs {
        let text = last.as_ref().map_or_else(
            || "never ran".to_string(),
            |run| format!("{} at {}", run.outcome, clock::display(run.started_at, tz)),
        );
        overview.add_row([Cell::new(format!("last {job}")), Cell::new(text)]);
    }
    output::line(overview)?;
    if !s.top_chats.is_empty() {
        let mut top = output::table();
        top.set_header(["chat", "name", "messages"]);
        for chat in &s.top_chats {
            top.add_row([
                Cell::new(&chat.chat_jid),
                Cell::new(names.of(&chat.chat_jid)),
                Cell::new(chat.messages),
            ]);
        }
        output::line(top)?;
    }
    Ok(())
}

fn listener_line(s: &Stats, tz: chrono_tz::Tz) -> String {
    let l = &s.listener;
    match (l.alive, l.last_heartbeat_at) {
        (_, None) => "never ran".into(),
        (false, Some(t)) => format!("NOT running (last heartbeat {})", clock::display(t, tz)),
        (true, _) => format!(
            "{} (pid {}, up {} min{})",
            if l.connected {
                "connected"
            } else {
                "running, NOT connected"
            },
            l.pid.unwrap_or_default(),
            l.uptime_seconds.unwrap_or_default() / 60,
            l.detail
                .as_deref()
                .map(|d| format!(", {d}"))
                .unwrap_or_default()
        ),
    }
}

fn usage_line(f: &UsageFigures) -> String {
    let cost = f
        .cost_usd
        .map_or_else(|| "cost not reported".into(), |c| format!("${c:.4}"));
    let mut line = format!(
        "{} calls · {} in / {} out tokens · {cost}",
        f.calls, f.input_tokens, f.output_tokens
    );
    if f.answers > 0 {
        line.push_str(&format!(
            " · {} of {} answers with sources",
            f.answers_with_sources, f.answers
        ));
    }
    if f.cut_short > 0 {
        line.push_str(&format!(" · {} cut short", f.cut_short));
    }
    line
}

fn human_bytes(bytes: u64) -> String {
    indicatif::HumanBytes(bytes).to_string()
}

/// Why some of the failed sends failed, where the reason is one the owner can act on.
fn failure_notes(o: &crate::db::OutboxCounts) -> String {
    let mut notes = Vec::new();
    if o.outside_window > 0 {
        notes.push(format!("{} outside the 24-hour window", o.outside_window));
    }
    if o.reachout_refused > 0 {
        notes.push(format!(
            "{} refused as first messages to new contacts (error 463)",
            o.reachout_refused
        ));
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join(", "))
    }
}
