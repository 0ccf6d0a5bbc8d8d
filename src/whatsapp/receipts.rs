//! Read receipts for what wabot answered (off by default: `whatsapp.read_receipts`).
//! Blue ticks tell the sender a person read their message; wabot sends them only for
//! messages it answered, and only when asked to.

use std::sync::Arc;
use std::time::Duration;

use whatsapp_rust::prelude::*;

use crate::clock;
use crate::db::Db;

/// Messages answered longer ago than this are left alone (turning the setting on must
/// not mark an old backlog read).
const RECENT: i64 = 3_600_000;
const PER_PASS: usize = 50;

/// Marks the recently answered messages read, chat by chat; failures are retried on the
/// next pass.
pub fn send_read(db: &mut Db, client: &Arc<Client>, runtime: &tokio::runtime::Handle) {
    let now = clock::now_ms();
    let due = match db.answered_unread(now - RECENT, PER_PASS) {
        Ok(due) => due,
        Err(e) => return log::warn!("read receipts: {e:#}"),
    };
    for ((chat, sender), ids) in due {
        let (Ok(chat_jid), Ok(sender_jid)) = (chat.parse::<Jid>(), sender.parse::<Jid>()) else {
            continue;
        };
        let group = chat.ends_with("@g.us");
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let sent = runtime.block_on(tokio::time::timeout(
            Duration::from_secs(10),
            client.mark_as_read(&chat_jid, group.then_some(&sender_jid), &refs),
        ));
        match sent {
            Ok(Ok(())) => {
                if let Err(e) = db.mark_read_receipts(&chat, &ids, now) {
                    log::warn!("read receipts: {e:#}");
                }
            }
            Ok(Err(e)) => log::debug!("read receipt for {chat} not sent: {e:#}"),
            Err(_) => log::debug!("read receipt for {chat} timed out"),
        }
    }
}
