//! `wabot stats`: what is stored, at a glance or as JSON for scripts.

use anyhow::Result;
use comfy_table::Cell;

use super::{load_config, open_db};
use crate::cli::{Global, JsonFlag};
use crate::clock;
use crate::db::Stats;
use crate::output;

pub fn run(global: &Global, args: &JsonFlag) -> Result<()> {
    let config = load_config(global)?;
    let db = open_db(&config)?;
    let stats = db.stats()?;
    if args.json {
        return output::print_json(&stats);
    }
    print_tables(&stats, config.timezone())
}

fn print_tables(s: &Stats, tz: chrono_tz::Tz) -> Result<()> {
    let m = &s.messages;
    let o = &s.outbox;
    let mut overview = output::table();
    let rows = [
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
                "{} pending · {} sent · {} failed",
                o.pending, o.sent, o.failed
            ),
        ),
        ("chats", s.chats.to_string()),
        ("contacts", s.contacts.to_string()),
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
    output::line(overview)?;
    if !s.top_chats.is_empty() {
        let mut top = output::table();
        top.set_header(["chat", "name", "messages"]);
        for chat in &s.top_chats {
            top.add_row([
                Cell::new(&chat.chat_jid),
                Cell::new(chat.name.as_deref().unwrap_or("")),
                Cell::new(chat.messages),
            ]);
        }
        output::line(top)?;
    }
    Ok(())
}

fn human_bytes(bytes: u64) -> String {
    indicatif::HumanBytes(bytes).to_string()
}
