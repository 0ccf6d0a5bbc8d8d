//! Where a connected transport hands what arrives: the [`Sink`] the linked device's
//! crate calls and the binary implements over the store. The crate never sees the
//! database; the binary never sees the library's events.

use crate::account::Standing;
use crate::history::Answer;
use crate::inbound::Received;
use crate::outbox::DeliveryUpdate;

/// What a connection reports for the listener's heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub connected: bool,
    pub detail: String,
    pub last_event_at: Option<i64>,
}

/// A group the account is in, as WhatsApp describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub jid: String,
    /// Its current subject; empty when it has none.
    pub subject: String,
    /// Who may delete others' messages (phone JIDs where WhatsApp gave the number).
    pub admins: Vec<String>,
    /// (LID, phone JID) pairs the participant list names.
    pub identities: Vec<(String, String)>,
}

/// A contact changed their phone number (the linked device's `ContactNumberChanged`,
/// the Cloud API's `user_changed_number`) or their business-scoped user id: what was
/// stored under the old identity joins the new one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NumberChange {
    pub old_jid: String,
    pub new_jid: String,
    /// The old LID or BSUID, whose rows join the new identity too.
    pub old_alias: Option<String>,
    /// The new LID or BSUID, mapped to the new identity.
    pub new_alias: Option<String>,
}

/// One history blob as the transport read it, before anything is stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryBlob {
    /// (LID, phone JID) pairs the blob names.
    pub identities: Vec<(String, String)>,
    /// Per chat, as WhatsApp named it (a LID or a phone JID), the messages it carried.
    pub chats: Vec<(String, Answer)>,
    /// Every message of the blob, already marked as history.
    pub messages: Vec<Received>,
    /// It answers an on-demand request (rather than being pushed after pairing).
    pub requested: bool,
    /// WhatsApp's own progress of a pushed transfer, 0..=100, when it says.
    pub progress: Option<u32>,
    /// The spooled chunk it was read from, marked stored once its messages are.
    pub chunk: Option<i64>,
}

/// A history chunk as the library downloaded it, still compressed: what is spooled
/// before it is read, so a crash or a failed read loses nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryChunk {
    pub compressed: Vec<u8>,
    pub decompressed_size: u64,
    pub sync_type: i32,
    pub chunk_order: Option<u32>,
    pub progress: Option<u32>,
    /// The on-demand request it answers; `None` when WhatsApp pushed it.
    pub request_id: Option<String>,
}

/// Every method is synchronous and may wait for the database; an async caller runs it on
/// a blocking thread. An `Err` means nothing of the call was committed.
pub trait Sink: Send + Sync + 'static {
    /// Commits a received batch. The durability hook: the library acknowledges the batch
    /// to WhatsApp only after this returned `Ok`.
    fn commit(&self, batch: Vec<Received>) -> anyhow::Result<()>;
    /// Commits a downloaded history chunk before anything reads it; returns its id.
    fn spool_history(&self, chunk: &HistoryChunk) -> anyhow::Result<i64>;
    /// Spooled chunks whose messages are not stored yet (a crash, a failed read).
    fn unstored_history(&self) -> anyhow::Result<Vec<(i64, HistoryChunk)>>;
    /// A spooled chunk that cannot be read: kept with `error`, not tried again.
    fn history_unreadable(&self, chunk: i64, error: &str) -> anyhow::Result<()>;
    /// Stores a blob as history; returns its chats keyed the way the store names them
    /// (the phone JID where the LID's number is known), which is how a waiting sync
    /// recognises its answer.
    fn history(&self, blob: HistoryBlob) -> anyhow::Result<Vec<(String, Answer)>>;
    /// Acks, refusals and receipts of our sends.
    fn delivered(&self, updates: Vec<DeliveryUpdate>) -> anyhow::Result<()>;
    /// The connection came (back) up: sends written but never acknowledged go again.
    fn reconnected(&self, at: i64) -> anyhow::Result<()>;
    /// A contact's new number: their chats become one, with the history.
    fn number_changed(&self, change: NumberChange) -> anyhow::Result<()>;
    /// The groups the account is in, as WhatsApp describes them at a connect.
    fn groups(&self, groups: Vec<Group>) -> anyhow::Result<()>;
    /// The account was linked, banned, logged out, or told to use another version.
    fn record_standing(&self, change: Standing<'_>) -> anyhow::Result<()>;
}
