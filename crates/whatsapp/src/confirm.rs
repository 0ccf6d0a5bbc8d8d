//! What WhatsApp says about our sends, as delivery updates: the server's ack (or nack)
//! for a message id, and the recipients' delivery and read receipts. On the linked
//! device wabot chose the message's id when it queued the row, so every update names
//! the row by it. Plain functions of the library's `Event`.

use anyhow::Result;
use wabot_core::outbox::{Delivery, DeliveryUpdate, REACHOUT_REFUSED};
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

/// Whether `event` is WhatsApp refusing a send for the reachout timelock (error 463).
pub fn refuses_reachout(event: &Event) -> bool {
    matches!(event, Event::ServerAck(ack) if ack.error.as_deref() == Some(REACHOUT_REFUSED))
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
        error: error_code.as_deref().map(refusal),
        own_id: Some(id),
        delivery,
        error_code,
        at,
    };
    match event {
        Event::ServerAck(ack) if is_message_ack(ack.class.as_deref()) => {
            let at = ack.timestamp.map_or(now, |t| t.timestamp_millis());
            let delivery = match ack.error.as_deref() {
                None => Delivery::Accepted,
                Some(code) if is_passing(code) => Delivery::Retry,
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

/// The server's own trouble (500 internal error, 503 unavailable): the same message
/// may be taken a moment later. Every other code refuses this message for good.
fn is_passing(code: &str) -> bool {
    matches!(code, "500" | "503")
}

/// What a nack code means, for the row's error and the owner.
fn refusal(code: &str) -> String {
    match code {
        REACHOUT_REFUSED => "WhatsApp refused a first message to a contact this account holds \
             no privacy token for (error 463: a reachout timelock restricts new contacts); \
             wait for it to end (`wabot doctor` says when) or let the contact write first"
            .into(),
        code if is_passing(code) => {
            format!("WhatsApp could not take the message just now (error {code})")
        }
        code => format!("WhatsApp refused the message (error {code})"),
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
        // The owner's own phone has it: delivery only for a send to the owner's own chat
        // (a DM's fan-out copy to the owner's devices proves nothing about the recipient).
        ReceiptType::Sender => Some(Delivery::OwnDevice),
        _ => None,
    }
}
