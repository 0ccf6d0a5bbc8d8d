//! `wabot send` and `wabot outbox cancel|retry`: messages a person queues by hand.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::{load_config, open_db, resolve_chat};
use crate::agent::reply;
use crate::cli::{Global, SendArgs};
use crate::db::OutboxKind;
use crate::error::{self, Kind};
use crate::{clock, output};

pub fn send(global: &Global, args: &SendArgs) -> Result<()> {
    if args.text.trim().is_empty() {
        return Err(error::failure(Kind::Usage, "the message text is empty"));
    }
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let chat = resolve_chat(&db, &config, &args.to, "--to")?;
    // Split like replies: WhatsApp refuses overlong texts, and one part per message
    // keeps each resend small.
    let max_chars = config.file.replies.max_chars.unsigned_abs() as usize;
    let parts = reply::outgoing(&chat, &args.text, max_chars, OutboxKind::Manual, None);
    db.enqueue_all(&parts, clock::now_ms())?;
    let mut rows = Vec::with_capacity(parts.len());
    for part in &parts {
        let Some(row) = db.outbox_row_for(&part.message_id)? else {
            anyhow::bail!("the queued message vanished from the outbox");
        };
        rows.push(row);
    }
    if let Some(seconds) = args.wait {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while rows
            .iter()
            .any(|r| matches!(r.status.as_str(), "pending" | "written"))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(250));
            for row in &mut rows {
                if let Some(now) = db.outbox_row(row.id)? {
                    *row = now;
                }
            }
        }
    }
    // The last part goes out last: its state is the message's, unless an earlier one failed.
    let failed = rows.iter().find(|r| r.status == "failed");
    let Some(row) = failed.or(rows.last()) else {
        anyhow::bail!("nothing was queued");
    };
    if args.output.json {
        let mut shown = serde_json::to_value(row)?;
        shown["parts"] = serde_json::json!(rows.iter().map(|r| r.id).collect::<Vec<_>>());
        output::print_json(&shown)?;
    } else if output::stdout_is_terminal() {
        let ids: Vec<String> = rows.iter().map(|r| format!("#{}", r.id)).collect();
        output::line(format_args!("{} to {chat}: {}", ids.join(" "), row.status))?;
    }
    match (args.wait, row.status.as_str()) {
        (Some(_), "failed") => anyhow::bail!(
            "sending failed: {}",
            row.last_error.as_deref().unwrap_or("unknown error")
        ),
        (Some(s), "pending" | "written") => Err(error::failure(
            Kind::Temporary,
            format!(
                "not confirmed by WhatsApp within {s} s (is `wabot listen` running?); it stays queued as #{}",
                row.id
            ),
        )),
        _ => Ok(()),
    }
}

pub fn cancel(global: &Global, id: i64) -> Result<()> {
    move_row(global, id, &["pending"], "cancelled")
}

pub fn retry(global: &Global, id: i64) -> Result<()> {
    move_row(global, id, &["failed", "cancelled"], "pending")
}

fn move_row(global: &Global, id: i64, from: &[&str], to: &str) -> Result<()> {
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let Some(row) = db.outbox_row(id)? else {
        return Err(error::failure(
            Kind::Usage,
            format!("outbox row #{id} does not exist"),
        ));
    };
    if !db.move_outbox_row(id, from, to, clock::now_ms())? {
        return Err(error::failure(
            Kind::Usage,
            format!(
                "outbox row #{id} is {}, not {}",
                row.status,
                from.join(" or ")
            ),
        ));
    }
    if output::stdout_is_terminal() {
        output::line(format_args!("#{id} is {to}"))?;
    }
    Ok(())
}
