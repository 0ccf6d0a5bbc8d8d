//! A reply on its way out, and the one trait every transport sends through. The drain
//! (in the binary's `pipeline`) decides when a row goes and what a failure means; a
//! transport only hands the row over and says how that went, in [`SendFailure`]'s one
//! classification.

use serde::Serialize;

pub use crate::status::{OutboxKind, OutboxStatus};

/// Attempts per row before it is marked failed.
pub const MAX_SEND_ATTEMPTS: i64 = 6;

/// How long a written row waits for its answer (a server ack, a status callback)
/// before it is handed over again, with the same id so WhatsApp shows it once.
pub const ACK_TIMEOUT_MS: i64 = 60_000;

/// One message to send, with the WhatsApp id chosen before it is queued.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub message_id: String,
    pub chat_jid: String,
    pub content: String,
    pub kind: OutboxKind,
    pub reply_to_id: Option<String>,
}

impl Outgoing {
    /// `text` as the outbox rows that carry it: split like every reply, each part with its
    /// own pre-assigned WhatsApp message id.
    pub fn parts(
        chat_jid: &str,
        text: &str,
        max_chars: usize,
        kind: OutboxKind,
        reply_to: Option<&str>,
    ) -> Vec<Self> {
        split(text, max_chars)
            .into_iter()
            .map(|content| Outgoing {
                message_id: crate::message_id::new(),
                chat_jid: chat_jid.to_string(),
                content,
                kind,
                reply_to_id: reply_to.map(str::to_string),
            })
            .collect()
    }
}

/// One row of the outbox.
#[derive(Debug, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub message_id: String,
    pub chat_jid: String,
    pub content: String,
    pub status: OutboxStatus,
    pub kind: OutboxKind,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub reply_to_id: Option<String>,
    pub created_at: i64,
    /// When WhatsApp or the provider took it (status `accepted`).
    pub sent_at: Option<i64>,
    /// When it was last handed to the transport (status `written` until it answers).
    pub written_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub read_at: Option<i64>,
    /// The provider's id of the sent message (Twilio's MessageSid, the Cloud API's wamid).
    pub provider_id: Option<String>,
    /// The provider's code of a failure (63016, 131047, …).
    pub error_code: Option<String>,
    /// Times an unconfirmed row was sent again for want of a delivery receipt.
    pub resends: i64,
}

/// What a status callback or a receipt says about one of our messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Taken by the provider (queued, sent to WhatsApp).
    Accepted,
    Delivered,
    Read,
    /// One of the owner's own devices has it (a `sender` receipt): delivered when the
    /// message went to the owner's own chat, nothing otherwise.
    OwnDevice,
    /// Refused for now (the server's nack 500 or 503): sent again after a back-off.
    Retry,
    /// Failed or undelivered: final.
    Failed,
}

/// WhatsApp's refusal of a first message to a contact the account holds no privacy
/// token for, while a "reachout timelock" restricts the account (whatsmeow #1074,
/// Baileys #2441): retrying only extends the restriction.
pub const REACHOUT_REFUSED: &str = "463";

/// What a transport says about one of our messages: an official API's status callback,
/// or the linked device's ack, refusal or receipt. It names the row by the provider's
/// id, by wabot's own id, or both: a provider that echoes wabot's id is how a send
/// whose answer was lost is recognised, and on the linked device wabot's id is the
/// message's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryUpdate {
    pub provider_id: Option<String>,
    pub own_id: Option<String>,
    pub delivery: Delivery,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub at: i64,
}

/// How a transport took a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Written to the linked device's socket; the server's ack arrives later as a
    /// delivery event and makes the row sent.
    Written,
    /// Taken by a REST API, which named its message.
    Accepted { provider_id: String },
}

/// A send the transport did not make.
#[derive(Debug)]
pub struct SendFailure {
    /// The provider's error code (63016, 131047, 21211, …).
    pub code: Option<String>,
    pub message: String,
    pub kind: FailureKind,
}

/// What a failed send means for its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Refused for good (a bad number, the 24-hour window): the row fails.
    Final,
    /// Refused for now (a network error, 429, 5xx, a rejected token): retried later,
    /// after `Retry-After` when given.
    Passing { retry_after_ms: Option<i64> },
    /// No answer (the connection broke): the provider may have taken it. The row stays
    /// written, so a status callback naming it confirms it; otherwise it is sent again.
    Unknown,
}

impl SendFailure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        SendFailure {
            code: None,
            message: message.into(),
            kind,
        }
    }
}

/// "Send this row": the one place a transport is asked to send. Implemented by the
/// linked device and by each official API.
pub trait Transport {
    /// What the logs call it: "WhatsApp", "Twilio", "the Cloud API".
    fn name(&self) -> &'static str;
    /// Hands one row over, with the id it was queued with.
    fn send(&mut self, row: &OutboxRow) -> Result<Sent, SendFailure>;
}

/// Splits `text` into parts of at most `max` characters, preferring paragraph, then
/// line, then sentence, then word boundaries.
pub fn split(text: &str, max: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > max {
        let limit = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..limit];
        let cut = ["\n\n", "\n", ". ", "! ", "? ", " "]
            .iter()
            .find_map(|sep| {
                window
                    .rfind(sep)
                    .filter(|&i| i >= limit / 3)
                    .map(|i| i + sep.trim_end().len())
            })
            .unwrap_or(limit);
        let (head, tail) = rest.split_at(cut);
        parts.push(head.trim().to_string());
        rest = tail.trim();
    }
    if !rest.is_empty() {
        parts.push(rest.to_string());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_best_boundary_and_loses_nothing() {
        let para = format!("{}\n\n{}", "a".repeat(150), "b".repeat(150));
        assert_eq!(split(&para, 200), ["a".repeat(150), "b".repeat(150)]);
        let sentences = "One sentence here. Another one follows. And a third one.";
        assert_eq!(
            split(sentences, 40),
            [
                "One sentence here. Another one follows.",
                "And a third one."
            ]
        );
        let words = "word ".repeat(30);
        for part in split(&words, 42) {
            assert!(part.chars().count() <= 42 && !part.starts_with(' '));
        }
        let unbroken = "é".repeat(250);
        let parts = split(&unbroken, 100);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.concat(), unbroken);
        assert_eq!(split("short", 100), ["short"]);
    }
}
