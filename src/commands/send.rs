//! `wabot send` and `wabot outbox cancel|retry`: messages a person queues by hand.

use std::time::Duration;

use anyhow::Result;

use super::{load_config, open_db, resolve_chat};
use crate::cli::{Global, SendArgs};
use crate::error::{self, Kind};
use crate::status::OutboxStatus;
use crate::{clock, output, sending};

pub fn send(global: &Global, args: &SendArgs) -> Result<()> {
    if args.text.trim().is_empty() {
        return Err(error::failure(Kind::Usage, "the message text is empty"));
    }
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let chat = resolve_chat(&db, &config, &args.to, "--to")?;
    let mut rows = sending::queue(&mut db, &config, &chat, &args.text)?;
    if let Some(seconds) = args.wait {
        sending::wait(&db, &mut rows, Duration::from_secs(seconds))?;
    }
    let Some(row) = sending::outcome(&rows) else {
        anyhow::bail!("nothing was queued");
    };
    if args.output.json {
        let mut shown = serde_json::to_value(row)?;
        shown["parts"] = serde_json::json!(rows.iter().map(|r| r.id).collect::<Vec<_>>());
        output::print_json_named(&shown, &mut crate::chats::Names::new(&db, &config))?;
    } else if output::stdout_is_terminal() {
        let ids: Vec<String> = rows.iter().map(|r| format!("#{}", r.id)).collect();
        output::line(format_args!("{} to {chat}: {}", ids.join(" "), row.status))?;
    }
    match (args.wait, row.status) {
        (Some(_), OutboxStatus::Failed) => anyhow::bail!(
            "sending failed: {}",
            row.last_error.as_deref().unwrap_or("unknown error")
        ),
        (Some(s), status) if status.is_open() => Err(error::failure(
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
    move_row(
        global,
        id,
        &[OutboxStatus::Pending],
        OutboxStatus::Cancelled,
    )
}

pub fn retry(global: &Global, id: i64) -> Result<()> {
    move_row(
        global,
        id,
        &[OutboxStatus::Failed, OutboxStatus::Cancelled],
        OutboxStatus::Pending,
    )
}

fn move_row(global: &Global, id: i64, from: &[OutboxStatus], to: OutboxStatus) -> Result<()> {
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
                from.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ));
    }
    if output::stdout_is_terminal() {
        output::line(format_args!("#{id} is {to}"))?;
    }
    Ok(())
}
