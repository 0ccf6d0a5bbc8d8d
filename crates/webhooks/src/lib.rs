//! The official transports, Twilio's WhatsApp API and Meta's WhatsApp Cloud API: a
//! webhook request verified and read into core's records ([`Provider`]), and the outbox
//! sent through their REST APIs (core's [`Transport`]). They turn the outside world
//! into the same records as the linked device and never decide what to reply.
//!
//! # Layout
//! - [`twilio`], [`cloud`]: one provider each: signature, payload, send, media fetch.
//! - `signature`: the HMACs, compared in constant time; `client`: the HTTP calls and
//!   the one reading of a provider's failure.
//!
//! # What it may use
//! `wabot-core` and `wabot-http`; never the store, the LLM crate or the linked
//! device's crate: the binary's `pipeline` stores what this crate reads.

mod bsuid;
mod client;
pub mod cloud;
mod signature;
pub mod twilio;

pub use cloud::Cloud;
pub use twilio::Twilio;

use anyhow::Result;

use wabot_core::attachment::{Media, Remote};
use wabot_core::config::Config;
use wabot_core::kind::MessageKind;
use wabot_core::message::{NewMessage, Origin, Quarantined};
use wabot_core::outbox::{DeliveryUpdate, Transport};
use wabot_core::sink::NumberChange;
use wabot_core::{attachment, clock, config, error, jid, kind, message, outbox};

pub use wabot_core::outbox::Delivery;

/// What one webhook request carried, once verified and read.
#[derive(Debug, Default)]
pub struct Inbound {
    pub messages: Vec<NewMessage>,
    /// Edits and deletions of messages sent before (the Cloud API's `edit` and
    /// `revoke`), applied by the store under the same author rules as the linked
    /// device's.
    pub changes: Vec<wabot_core::inbound::Inbound>,
    /// (alias, phone JID) pairs the webhook names: a Cloud API BSUID beside the number.
    pub identities: Vec<(String, String)>,
    /// Numbers and BSUIDs that changed (the Cloud API's system messages).
    pub number_changes: Vec<NumberChange>,
    pub statuses: Vec<DeliveryUpdate>,
    /// Signed messages wabot could not read: acknowledged, so kept in the quarantine
    /// (for `wabot doctor`) rather than dropped.
    pub unreadable: Vec<Quarantined>,
}

/// A signed message that could not be read, as it came.
fn unreadable(chat_jid: &str, message_id: &str, reason: String, record: String) -> Quarantined {
    Quarantined {
        chat_jid: chat_jid.to_string(),
        message_id: message_id.to_string(),
        reason,
        record,
        wire_raw: None,
        created_at: clock::now_ms(),
    }
}

/// Why a request is refused. Nothing of a refused request is stored.
#[derive(Debug)]
pub enum Refusal {
    /// No signature, or a wrong one: 403.
    Unsigned(&'static str),
    /// Signed, but not a payload wabot can read: 400.
    Malformed(String),
}

/// One provider's side of a webhook: how its requests are verified and read.
pub trait Provider: Send + Sync {
    /// A GET on the webhook path (the Cloud API's verification handshake): status and body.
    fn get(&self, query: &str) -> (u16, String);
    /// Verifies and reads a POST. `path_and_query` is what the provider requested.
    fn read(
        &self,
        path_and_query: &str,
        headers: &Headers,
        body: &[u8],
    ) -> Result<Inbound, Refusal>;
    /// The body of a 200 answer, with its content type.
    fn ok(&self) -> (&'static str, &'static str);
}

/// Request headers by lower-case name.
#[derive(Debug, Default)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub use crate::outbox::{FailureKind, SendFailure};

/// A provider's REST API: the outbox's transport, and read receipts.
pub trait Api: Transport {
    /// Marks a received message read (and shows "typing…" when asked); best effort.
    fn mark_read(&mut self, message_id: &str);
}

/// The codes both APIs give for a free-form message outside the 24-hour window.
pub fn outside_window(code: &str) -> bool {
    matches!(code, "63016" | "131047")
}

/// The text recorded for a failed send; the 24-hour window gets its remedy.
fn explain(code: &str, text: &str) -> String {
    if outside_window(code) {
        format!(
            "{text}: outside WhatsApp's 24-hour window, a free-form reply waits for the user to write again"
        )
    } else {
        text.to_string()
    }
}

/// `webhook.public_url`, which config validation requires on these transports.
pub fn public_url(config: &Config) -> Result<url::Url> {
    let text = config
        .file
        .webhook
        .public_url
        .as_deref()
        .unwrap_or_default();
    url::Url::parse(text)
        .map_err(|e| error::config(format!("webhook.public_url: {text:?} is not a URL ({e})")))
}

/// A received text message (attachments and other kinds adjust it).
fn new_message(
    chat_jid: &str,
    id: &str,
    text: &str,
    timestamp_ms: i64,
    push_name: Option<&str>,
) -> NewMessage {
    NewMessage {
        sender: chat_jid.to_string(),
        push_name: push_name.map(str::to_string),
        ..NewMessage::text(Origin::Live, chat_jid, id, timestamp_ms, text)
    }
}

/// A received file as an official API describes it.
struct Attachment {
    /// image, video, audio, document or sticker.
    kind: &'static str,
    mimetype: Option<String>,
    caption: Option<String>,
    file_name: Option<String>,
    /// Hex SHA-256, when the provider states one.
    sha256: Option<String>,
    /// An audio recorded as a voice note.
    voice: bool,
    remote: Remote,
}

impl Attachment {
    /// The kind WhatsApp would give a file of this MIME type.
    fn kind_of(mimetype: Option<&str>) -> &'static str {
        match mimetype.and_then(|m| m.split('/').next()) {
            Some("image") if mimetype == Some("image/webp") => "sticker",
            Some("image") => "image",
            Some("video") => "video",
            Some("audio") => "audio",
            _ => "document",
        }
    }

    /// Makes `m` a media message described as the linked device's are
    /// (`[image] caption`, `[voice note]`, `[document: name] caption`).
    fn attach(self, m: &mut NewMessage) {
        let tag = match (self.kind, self.voice, &self.file_name) {
            ("audio", true, _) => "voice note".to_string(),
            ("document", _, Some(name)) => format!("document: {name}"),
            (kind, _, _) => kind.to_string(),
        };
        let caption = self
            .caption
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        m.content = match caption {
            Some(c) => format!("[{tag}] {c}"),
            None => format!("[{tag}]"),
        };
        m.message_type = MessageKind::of_media(self.kind);
        m.media = Some(Box::new(Media {
            kind: self.kind,
            mimetype: self.mimetype,
            size_bytes: None,
            sha256: self.sha256,
            caption: self.caption,
            file_name: self.file_name,
            download: None,
            remote: Some(self.remote),
            fetch: false,
            view_once: false,
        }));
    }
}

/// Fetches the file of message `message_id` with the provider's credentials, reading at most
/// `max_bytes` (`media.max_bytes`).
fn download(
    http: &client::Http,
    url: &str,
    auth: &client::Auth,
    message_id: &str,
    max_bytes: u64,
) -> Result<Vec<u8>> {
    let limit = max_bytes;
    let answer = http
        .get(url, auth, limit)
        .map_err(|e| anyhow::anyhow!("fetching the file of {message_id}: {e}"))?;
    if !answer.ok() {
        anyhow::bail!("fetching the file of {message_id}: HTTP {}", answer.status);
    }
    Ok(answer.body)
}

/// `media.max_bytes`, as the fetchers use it.
pub fn max_bytes(config: &Config) -> u64 {
    u64::try_from(config.file.media.max_bytes).unwrap_or(u64::MAX)
}
