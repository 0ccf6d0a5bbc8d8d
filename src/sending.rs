//! Queueing a message by hand (`wabot send`, the MCP send tool): split like replies,
//! one outbox row per part, and waiting for the listener to send them.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::clock;
use crate::config::Config;
use crate::db::{Db, OutboxKind, OutboxRow, Outgoing};
use crate::error::{self, Kind};
use crate::jid::{self, JidKind};
use crate::status::OutboxStatus;

/// Queues `text` for `chat` in one transaction; returns the rows, in sending order.
pub fn queue(db: &mut Db, config: &Config, chat: &str, text: &str) -> Result<Vec<OutboxRow>> {
    if text.trim().is_empty() {
        return Err(error::failure(Kind::Usage, "the message text is empty"));
    }
    refuse_into_timelock(db, config, chat)?;
    // Split like replies: WhatsApp refuses overlong texts, and one part per message
    // keeps each resend small.
    let max_chars = config.max_message_chars();
    let parts = Outgoing::parts(chat, text, max_chars, OutboxKind::Manual, None);
    db.enqueue_all(&parts, clock::now_ms())?;
    let mut rows = Vec::with_capacity(parts.len());
    for part in &parts {
        let Some(row) = db.outbox_row_for(&part.message_id)? else {
            anyhow::bail!("the queued message vanished from the outbox");
        };
        rows.push(row);
    }
    Ok(rows)
}

/// While a reachout timelock holds, WhatsApp refuses (error 463) first messages to
/// contacts that never wrote to the account, and each refusal prolongs it: such a send
/// is refused here, naming when it may go.
fn refuse_into_timelock(db: &Db, config: &Config, chat: &str) -> Result<()> {
    let now = clock::now_ms();
    let Some(until) = db.account_state()?.reachout_timelock(now) else {
        return Ok(());
    };
    if jid::kind(chat) == Some(JidKind::Group) || db.has_written_to_us(&db.canonical_jid(chat)?)? {
        return Ok(());
    }
    Err(error::failure(
        Kind::Temporary,
        format!(
            "{chat} never wrote to this account, and WhatsApp refuses first messages to new \
             contacts until about {} (error 463, a reachout timelock; sending anyway would \
             prolong it). Try again then, or ask the contact to write first",
            clock::display(until, config.timezone())
        ),
    ))
}

/// Refreshes `rows` until none is still open (pending or written) or `wait` passes.
pub fn wait(db: &Db, rows: &mut [OutboxRow], wait: Duration) -> Result<()> {
    let never = std::sync::atomic::AtomicBool::new(false);
    clock::poll_until(Some(Instant::now() + wait), POLL, &never, || {
        for row in rows.iter_mut() {
            if let Some(now) = db.outbox_row(row.id)? {
                *row = now;
            }
        }
        Ok((!rows.iter().any(is_open)).then_some(()))
    })?;
    Ok(())
}

const POLL: Duration = Duration::from_millis(250);

/// The row whose state is the message's: the last part goes out last, unless an
/// earlier one failed.
pub fn outcome(rows: &[OutboxRow]) -> Option<&OutboxRow> {
    rows.iter()
        .find(|r| r.status == OutboxStatus::Failed)
        .or(rows.last())
}

/// Not sent yet and not given up on: the listener still has it.
pub fn is_open(row: &OutboxRow) -> bool {
    row.status.is_open()
}
