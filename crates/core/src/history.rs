//! On-demand history as every job sees it: where a chat's sync continues ([`Cursor`]),
//! what one answer from the phone carried ([`Answer`]), and the [`HistorySource`] a
//! sync asks (the linked device's live client, or a test's scripted phone).

use serde::Serialize;

/// The oldest message fetched so far: where the next request continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cursor {
    pub id: String,
    /// `sent_at` in `--json`: every time there is a key ending in `_at`.
    #[serde(rename = "sent_at")]
    pub timestamp_ms: i64,
    pub from_me: bool,
}

/// The messages of the synced chat that one answer from the phone carried (already
/// stored by whoever received them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub messages: Vec<Cursor>,
    /// The phone says there is nothing older.
    pub end_of_history: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FetchError {
    /// Worth asking again later (the phone is offline, the connection dropped).
    NoAnswer(String),
    /// Asking again will not help.
    Refused(String),
}

pub trait HistorySource {
    /// Asks for up to `count` messages of `chat` older than `cursor` and waits for them.
    fn fetch(&mut self, chat: &str, cursor: &Cursor, count: i64) -> Result<Answer, FetchError>;
}
