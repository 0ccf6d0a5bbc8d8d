//! `wabot send` and `wabot outbox cancel|retry`: messages a person queues by hand.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::{load_config, open_db};
use crate::cli::{Global, SendArgs};
use crate::config::Config;
use crate::db::{Db, OutboxKind, Outgoing};
use crate::error::{self, Kind};
use crate::{clock, jid, message_id, output};

pub fn send(global: &Global, args: &SendArgs) -> Result<()> {
    if args.text.trim().is_empty() {
        return Err(error::failure(Kind::Usage, "the message text is empty"));
    }
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let chat = resolve(&db, &config, &args.to)?;
    let outgoing = Outgoing {
        message_id: message_id::new(),
        chat_jid: chat.clone(),
        content: args.text.clone(),
        kind: OutboxKind::Manual,
        reply_to_id: None,
    };
    db.enqueue(&outgoing, clock::now_ms())?;
    let Some(mut row) = db.outbox_row_for(&outgoing.message_id)? else {
        anyhow::bail!("the queued message vanished from the outbox");
    };
    if let Some(seconds) = args.wait {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while row.status == "pending" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
            row = db.outbox_row(row.id)?.unwrap_or(row);
        }
    }
    if args.output.json {
        output::print_json(&row)?;
    } else if output::stdout_is_terminal() {
        output::line(format_args!("#{} to {chat}: {}", row.id, row.status))?;
    }
    match (args.wait, row.status.as_str()) {
        (Some(_), "failed") => anyhow::bail!(
            "sending failed: {}",
            row.last_error.as_deref().unwrap_or("unknown error")
        ),
        (Some(s), "pending") => Err(error::failure(
            Kind::Temporary,
            format!(
                "not sent within {s} s (is `wabot listen` running?); it stays queued as #{}",
                row.id
            ),
        )),
        _ => Ok(()),
    }
}

/// A phone number or JID as given, or the one chat or contact with that name.
fn resolve(db: &Db, config: &Config, to: &str) -> Result<String> {
    if let Ok(jid) = jid::normalize(to) {
        return Ok(jid);
    }
    let mut candidates = db.find_by_name(to)?;
    candidates.extend(
        config
            .entities
            .iter()
            .filter(|e| e.name.eq_ignore_ascii_case(to))
            .map(|e| (e.jid.clone(), e.name.clone())),
    );
    candidates.sort();
    candidates.dedup_by(|a, b| a.0 == b.0);
    match candidates.as_slice() {
        [] => Err(error::failure(
            Kind::Usage,
            format!("--to: no chat or contact is named {to:?} (give a phone number or JID)"),
        )),
        [(jid, _)] => Ok(jid.clone()),
        many => Err(error::failure(
            Kind::Usage,
            format!(
                "--to: {to:?} is ambiguous: {}",
                many.iter()
                    .map(|(j, n)| format!("{n} ({j})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
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
