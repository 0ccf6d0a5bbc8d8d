//! Read receipts for what wabot answered (off by default: `whatsapp.read_receipts`).
//! Blue ticks tell the sender a person read their message; wabot sends them only for
//! messages it answered, and only when asked to.

use crate::clock;
use crate::db::Db;
use crate::whatsapp::ClientSender;

/// Messages answered longer ago than this are left alone (turning the setting on must
/// not mark an old backlog read).
const RECENT: i64 = 3_600_000;
const PER_PASS: usize = 50;

/// Marks the recently answered messages read, chat by chat; failures are retried on the
/// next pass.
pub fn send_read(db: &mut Db, sender: &mut ClientSender) {
    let now = clock::now_ms();
    let due = match db.answered_unread(now - RECENT, PER_PASS) {
        Ok(due) => due,
        Err(e) => return log::warn!("read receipts: {e:#}"),
    };
    for ((chat, from), ids) in due {
        match sender.mark_read(&chat, &from, &ids) {
            Ok(()) => {
                if let Err(e) = db.mark_read_receipts(&chat, &ids, now) {
                    log::warn!("read receipts: {e:#}");
                }
            }
            Err(e) => log::debug!("read receipt for {chat} not sent: {e:#}"),
        }
    }
}
