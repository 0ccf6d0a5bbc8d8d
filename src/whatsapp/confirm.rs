//! What WhatsApp says about our sends: the server's ack (or nack) for a message id, the
//! recipients' delivery and read receipts, and reconnects after which unacknowledged
//! rows go out again. Plain functions of the library's `Event`, called by the listener.

use anyhow::Result;
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::presence::ReceiptType;

use crate::db::{Db, Receipt};

/// Applies one event to the outbox; events that say nothing about sends change nothing.
/// `own_jid` is the account sent messages are stored under.
pub fn apply(db: &mut Db, event: &Event, own_jid: &str, now: i64) -> Result<()> {
    match event {
        Event::ServerAck(ack) if is_message_ack(ack.class.as_deref()) => {
            let at = ack.timestamp.map_or(now, |t| t.timestamp_millis());
            match &ack.error {
                None => {
                    db.confirm_sent(&ack.id, own_jid, at)?;
                }
                Some(code) => {
                    if db.refuse_sent(&ack.id, code, at)? {
                        log::warn!("WhatsApp refused outbox message {} (error {code})", ack.id);
                    }
                }
            }
        }
        Event::Receipt(receipt) => {
            if let Some(kind) = receipt_kind(&receipt.r#type) {
                let ids: Vec<String> = receipt
                    .message_ids
                    .iter()
                    .map(|id| id.to_string())
                    .collect();
                db.record_receipt(&ids, kind, own_jid, receipt.timestamp.timestamp_millis())?;
            }
        }
        Event::Connected(_) => {
            let again = db.resend_unconfirmed(now)?;
            if again > 0 {
                log::info!(
                    "{again} sends were not acknowledged before the reconnect: resending them with their ids"
                );
            }
        }
        _ => {}
    }
    Ok(())
}

/// Acks of other stanzas (receipts, notifications, calls) share ids with nothing of ours;
/// a server that omits the class is given the benefit of the doubt (ids are unique).
fn is_message_ack(class: Option<&str>) -> bool {
    class.is_none_or(|c| c == "message")
}

/// What a receipt says about our message, if anything the outbox records.
fn receipt_kind(kind: &ReceiptType) -> Option<Receipt> {
    match kind {
        ReceiptType::Delivered => Some(Receipt::Delivered),
        ReceiptType::Read | ReceiptType::Played => Some(Receipt::Read),
        _ => None,
    }
}
