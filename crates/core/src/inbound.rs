//! What a transport received, as the ingest takes it: messages, and the edits, revokes
//! and poll votes that change messages already stored, with the identities and poll
//! secrets a message revealed. The linked device produces all of these; the official
//! APIs produce messages.

use crate::message::NewMessage;

/// What one incoming WhatsApp message means for the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Message(NewMessage),
    /// A poll vote: stored as `unsupported` unless the poll's secret (in the store)
    /// decrypts it.
    Vote {
        message: NewMessage,
        vote: Vote,
    },
    /// Someone edited a message we may have stored: applied only when `by` wrote it.
    Edit {
        chat_jid: String,
        id: String,
        content: String,
        /// Who sent the edit (as WhatsApp addressed them; the store resolves LIDs).
        by: String,
        at: i64,
    },
    /// Someone deleted a message for everyone: applied when `by` wrote it, or is an
    /// admin of the group.
    Revoke {
        chat_jid: String,
        id: String,
        by: String,
        at: i64,
    },
    /// Nothing to store (protocol traffic, status updates, …), with the reason.
    Skip(&'static str),
}

/// An encrypted poll vote and what its decryption needs beside the poll's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    pub poll_id: String,
    /// The voter as WhatsApp addressed them (part of the key derivation).
    pub voter_jid: String,
    /// The voter in the other namespace (the phone JID of a LID, or the reverse), when
    /// the envelope said: a vote keyed under one opens only under that one.
    pub voter_alt: Option<String>,
    pub enc_payload: Vec<u8>,
    pub enc_iv: Vec<u8>,
}

/// Everything one received message tells the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub inbound: Inbound,
    /// (LID, phone JID) pairs it revealed.
    pub identities: Vec<(String, String)>,
    /// The secret of a poll it created, so later votes can be read.
    pub poll: Option<PollSecret>,
}

impl Received {
    pub fn of(inbound: Inbound) -> Self {
        Self {
            inbound,
            identities: Vec::new(),
            poll: None,
        }
    }
}

/// A poll's secret, with what votes for it need to be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollSecret {
    pub message_id: String,
    /// The creator as WhatsApp addressed them: part of the vote's key derivation.
    pub creator_jid: String,
    pub secret: Vec<u8>,
    pub options: Vec<String>,
}
