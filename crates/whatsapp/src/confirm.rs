//! What WhatsApp says about our sends, as delivery updates: the server's ack (or nack)
//! for a message id, and the recipients' delivery and read receipts. On the linked
//! device wabot chose the message's id when it queued the row, so every update names
//! the row by it. Plain functions of the library's `Event`.

use anyhow::Result;
use wabot_core::outbox::{Delivery, DeliveryUpdate};
use wabot_core::sink::Sink;
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::presence::ReceiptType;

/// Whether `event` says anything about our sends.
pub fn concerns_sends(event: &Event) -> bool {
    matches!(
        event,
        Event::ServerAck(_) | Event::Receipt(_) | Event::Connected(_)
    )
}

/// Applies what `event` says about our sends through `sink`: its delivery updates, and
/// after a (re)connect, the sends written but never acknowledged go out again.
pub fn settle(event: &Event, now: i64, sink: &dyn Sink) -> Result<()> {
    let updates = deliveries(event, now);
    if !updates.is_empty() {
        sink.delivered(updates)?;
    }
    if matches!(event, Event::Connected(_)) {
        sink.reconnected(now)?;
    }
    Ok(())
}

/// The updates an event carries; none for events that say nothing about sends.
pub fn deliveries(event: &Event, now: i64) -> Vec<DeliveryUpdate> {
    let update = |id: String, delivery, error_code: Option<String>, at| DeliveryUpdate {
        provider_id: None,
        error: error_code
            .as_ref()
            .map(|code| format!("WhatsApp refused the message (error {code})")),
        own_id: Some(id),
        delivery,
        error_code,
        at,
    };
    match event {
        Event::ServerAck(ack) if is_message_ack(ack.class.as_deref()) => {
            let at = ack.timestamp.map_or(now, |t| t.timestamp_millis());
            let delivery = match ack.error {
                None => Delivery::Accepted,
                Some(_) => Delivery::Failed,
            };
            vec![update(ack.id.clone(), delivery, ack.error.clone(), at)]
        }
        Event::Receipt(receipt) => match receipt_kind(&receipt.r#type) {
            Some(delivery) => receipt
                .message_ids
                .iter()
                .map(|id| {
                    let at = receipt.timestamp.timestamp_millis();
                    update(id.to_string(), delivery, None, at)
                })
                .collect(),
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Acks of other stanzas (receipts, notifications, calls) share ids with nothing of ours;
/// a server that omits the class is given the benefit of the doubt (ids are unique).
fn is_message_ack(class: Option<&str>) -> bool {
    class.is_none_or(|c| c == "message")
}

/// What a receipt says about our message, if anything the outbox records.
fn receipt_kind(kind: &ReceiptType) -> Option<Delivery> {
    match kind {
        ReceiptType::Delivered => Some(Delivery::Delivered),
        ReceiptType::Read | ReceiptType::Played => Some(Delivery::Read),
        _ => None,
    }
}
