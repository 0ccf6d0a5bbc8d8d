//! History blobs into the store: the LID mappings they name first (so their chats are
//! named by phone number where it is known), then their messages through the one
//! ingest, always as history, never answered.

use anyhow::Result;

use crate::db::Db;
use crate::history::Answer;
use crate::pipeline::ingest;
use crate::policy::Policy;
use crate::sink::HistoryBlob;

/// Stores `blob`; returns its chats under the names the store gives them, which is how
/// a waiting sync recognises its answer.
pub fn store(db: &mut Db, policy: &Policy, blob: HistoryBlob) -> Result<Vec<(String, Answer)>> {
    for (lid, phone) in &blob.identities {
        db.record_lid(lid, phone)?;
    }
    let chats = blob
        .chats
        .into_iter()
        .map(|(chat, answer)| Ok((db.canonical_jid(&chat)?, answer)))
        .collect::<Result<Vec<_>>>()?;
    ingest::store(db, &policy.for_history(), blob.messages)?;
    if !blob.requested {
        let stored: usize = chats.iter().map(|(_, a)| a.messages.len()).sum();
        db.record_pushed_history(stored as i64, blob.progress == Some(100))?;
    }
    Ok(chats)
}
