//! History blobs into the store: the LID mappings they name first (so their chats are
//! named by phone number where it is known), then their messages through the one
//! ingest, always as history, never answered.

use anyhow::Result;

use crate::checkpoint::Step;
use crate::clock;
use crate::db::Db;
use crate::history::Answer;
use crate::pipeline::ingest;
use crate::policy::Policy;
use crate::sink::HistoryBlob;

/// Stores `blob`; returns its chats under the names the store gives them, which is how
/// a waiting sync recognises its answer.
pub fn store(db: &mut Db, policy: &Policy, blob: HistoryBlob) -> Result<Vec<(String, Answer)>> {
    for (lid, phone) in &blob.identities {
        db.record_alias(lid, phone)?;
    }
    let chats = blob
        .chats
        .into_iter()
        .map(|(chat, answer)| Ok((db.canonical_jid(&chat)?, answer)))
        .collect::<Result<Vec<_>>>()?;
    ingest::store(db, &policy.for_history(), blob.messages)?;
    let stored: usize = chats.iter().map(|(_, a)| a.messages.len()).sum();
    if !blob.requested {
        db.record_pushed_history(stored as i64, blob.progress == Some(100))?;
    }
    if let Some(chunk) = blob.chunk {
        // After the messages: a crash in between stores the chunk again, harmlessly.
        db.history_stored(chunk, stored as i64, clock::now_ms())?;
    }
    Ok(chats)
}

/// After a pushed transfer that broke off (its last chunk below 100 %, nothing since for
/// [`crate::db::TRANSFER_STALL_MS`]): the library never says which chunks it failed to
/// download, so every monitored chat that has messages and no sync of its own is asked
/// for its history on demand, once. Returns how many requests were queued.
pub fn reask_broken_transfer(db: &mut Db, policy: &Policy, now: i64) -> Result<usize> {
    if !db.take_broken_transfer(now)? {
        return Ok(0);
    }
    let mut queued = 0;
    for chat in policy.monitored() {
        if db.has_messages(&chat)? && db.sync_checkpoint(&chat)?.is_none() {
            db.queue_sync_request(&chat, Step::Start, crate::sync::run::DEFAULT_MAX)?;
            queued += 1;
        }
    }
    log::warn!(
        "WhatsApp's history transfer broke off before 100 %: {queued} monitored chats asked for their history again"
    );
    Ok(queued)
}
