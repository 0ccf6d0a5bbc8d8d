//! The domain record of one message on its way into the store, and the rules every
//! source (listener, history sync, imports) must satisfy.

use chrono::{DateTime, NaiveDate};
use serde::Serialize;

use crate::clock::DAY_MS;
use crate::jid;

pub use crate::kind::MessageKind;
pub use crate::status::MessageStatus;

/// One received message wabot's validation rejected, kept verbatim.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Quarantined {
    pub chat_jid: String,
    pub message_id: String,
    pub reason: String,
    /// The converted record as wabot saw it (debug text, for people).
    pub record: String,
    /// The encoded protobuf, when the message came with one.
    #[serde(skip)]
    pub wire_raw: Option<Vec<u8>>,
    pub created_at: i64,
}

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Import,
    /// Received by the listener as it happened.
    Live,
    /// Read from WhatsApp's own "Export chat" text.
    Export,
    /// Pushed by WhatsApp after pairing or fetched by `wabot sync`.
    History,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Import => "import",
            Origin::Live => "live",
            Origin::Export => "import",
            Origin::History => "history",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub chat_jid: String,
    pub id: String,
    pub sender: String,
    pub content: String,
    pub timestamp_ms: i64,
    pub is_from_me: bool,
    pub message_type: MessageKind,
    pub push_name: Option<String>,
    /// JIDs the message mentions (WhatsApp's @-mentions).
    pub mentions: Vec<String>,
    /// The message this one replies to (quotes).
    pub quoted_id: Option<String>,
    pub origin: Origin,
    /// The attachment, for media messages.
    pub media: Option<Box<crate::attachment::Media>>,
    /// What the wire carried beyond the text, and what validation removed.
    pub kept: Kept,
    /// What a voice note said, when it comes already transcribed (a re-imported archive).
    pub transcript: Option<String>,
}

/// The parts of a received message kept beside its text: the protobuf wabot could not
/// read (so a later version can), and notes on what was removed to store the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kept {
    /// The protobuf field the content came in (`poll_update_message`, …).
    pub wire_type: Option<String>,
    /// The encoded protobuf of the whole message.
    pub wire_raw: Option<Vec<u8>>,
    /// What was removed and why, for people (`messages.note`).
    pub notes: Vec<String>,
}

/// WhatsApp began in 2009; anything stamped before 2010 is a unit or parsing mistake.
fn earliest_ms() -> i64 {
    NaiveDate::from_ymd_opt(2010, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |d| d.and_utc().timestamp_millis())
}

impl NewMessage {
    /// A text message from the chat's own person with nothing beside it: every source
    /// starts here and sets what else it knows. An empty sender becomes the chat in
    /// [`NewMessage::validated`].
    pub fn text(
        origin: Origin,
        chat_jid: impl Into<String>,
        id: impl Into<String>,
        timestamp_ms: i64,
        content: impl Into<String>,
    ) -> Self {
        NewMessage {
            chat_jid: chat_jid.into(),
            id: id.into(),
            sender: String::new(),
            content: content.into(),
            timestamp_ms,
            is_from_me: false,
            message_type: MessageKind::Text,
            push_name: None,
            mentions: Vec::new(),
            quoted_id: None,
            origin,
            media: None,
            kept: Kept::default(),
            transcript: None,
        }
    }

    /// Checks the record and brings its identities to canonical form; the error says
    /// which field is wrong and why.
    pub fn validated(mut self, now_ms: i64) -> Result<Self, String> {
        self.id = self.id.trim().to_string();
        if self.id.is_empty() {
            return Err("id: is empty".into());
        }
        if self.id.len() > 128 {
            return Err(format!(
                "id: longer than 128 characters ({})",
                self.id.len()
            ));
        }
        self.chat_jid = jid::normalize(&self.chat_jid).map_err(|e| format!("chat_jid: {e}"))?;
        self.sender = if self.sender.trim().is_empty() && !jid::is_group(&self.chat_jid) {
            self.chat_jid.clone()
        } else {
            jid::normalize(&self.sender).map_err(|e| format!("sender: {e}"))?
        };
        // An export names group members by display name only: such lines keep the group
        // as sender and the name as push name.
        let unknown_member = self.origin == Origin::Export && self.sender == self.chat_jid;
        if jid::is_group(&self.sender) && !unknown_member {
            return Err(format!("sender: {} is a group, not a person", self.sender));
        }
        let latest = now_ms + DAY_MS;
        if self.timestamp_ms < earliest_ms() || self.timestamp_ms > latest {
            return Err(format!(
                "timestamp: {} is outside 2010-01-01 .. one day from now",
                DateTime::from_timestamp_millis(self.timestamp_ms)
                    .map_or_else(|| self.timestamp_ms.to_string(), |t| t.to_rfc3339())
            ));
        }
        // Mentions are best-effort: one bad mention never costs the message.
        let mut mentions = Vec::with_capacity(self.mentions.len());
        for mention in std::mem::take(&mut self.mentions) {
            match jid::normalize(&mention) {
                Ok(j) => mentions.push(j),
                Err(e) => self.kept.notes.push(format!("mention dropped: {e}")),
            }
        }
        self.mentions = mentions;
        self.push_name = self
            .push_name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> NewMessage {
        NewMessage {
            chat_jid: "+1 555 000 1111".into(),
            id: " ABC ".into(),
            sender: String::new(),
            content: "hi".into(),
            timestamp_ms: 1_705_329_000_000,
            is_from_me: false,
            message_type: MessageKind::Text,
            push_name: Some("  ".into()),
            mentions: vec!["+1 555 000 9999".into()],
            quoted_id: None,
            origin: Origin::Import,
            media: None,
            kept: Kept::default(),
            transcript: None,
        }
    }

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn normalises_a_valid_record() {
        let m = record().validated(NOW).unwrap();
        assert_eq!(m.chat_jid, "15550001111@s.whatsapp.net");
        assert_eq!(m.sender, m.chat_jid, "1:1 sender defaults to the chat");
        assert_eq!(m.id, "ABC");
        assert_eq!(m.message_type, MessageKind::Text);
        assert_eq!(m.push_name, None);
        assert_eq!(m.mentions, ["15550009999@s.whatsapp.net"]);
    }

    #[test]
    fn rejections_name_the_field() {
        type Edit = fn(&mut NewMessage);
        let cases: [(Edit, &str); 7] = [
            (|m| m.id = " ".into(), "id: is empty"),
            (|m| m.chat_jid = "nobody".into(), "chat_jid:"),
            (|m| m.chat_jid = "1@g.us".into(), "sender:"),
            (
                |m| m.sender = "120363041234567890@g.us".into(),
                "is a group",
            ),
            (|m| m.timestamp_ms = 1_000_000, "timestamp:"),
            (|m| m.timestamp_ms = NOW + 2 * DAY_MS, "timestamp:"),
            (|m| m.id = "x".repeat(200), "longer than 128"),
        ];
        for (edit, want) in cases {
            let mut m = record();
            edit(&mut m);
            let err = m.validated(NOW).unwrap_err();
            assert!(err.contains(want), "want {want:?} in {err:?}");
        }
    }
}
