//! Idempotent ingest of message batches, with the chats and contacts they imply.

use std::collections::HashMap;

use anyhow::Result;
use rusqlite::{OptionalExtension, Transaction, params};

use super::Db;
use crate::clock;
use crate::jid;
use crate::message::{NewMessage, Status};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestReport {
    pub inserted: usize,
    pub duplicates: usize,
    pub rejected: Vec<Rejection>,
}

/// A record of the batch that was not stored: its position in the batch and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub index: usize,
    pub reason: String,
}

impl Db {
    /// Stores a batch in one transaction. Records already stored (same chat and id) are
    /// counted as duplicates and left untouched; invalid records are rejected with a reason
    /// while the rest of the batch still lands. `status_of` sees each record with its
    /// identities resolved and says whether the agent should answer it.
    pub fn ingest(
        &mut self,
        batch: Vec<NewMessage>,
        status_of: &dyn Fn(&NewMessage) -> Status,
    ) -> Result<IngestReport> {
        let now = clock::now_ms();
        let mut report = IngestReport::default();
        let mut valid = Vec::with_capacity(batch.len());
        for (index, record) in batch.into_iter().enumerate() {
            match record.validated(now) {
                Ok(m) => valid.push(m),
                Err(reason) => report.rejected.push(Rejection { index, reason }),
            }
        }
        if valid.is_empty() {
            return Ok(report);
        }
        let tx = self.write()?;
        resolve_lids(&tx, &mut valid)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (chat_jid, id, sender, content, timestamp, is_from_me,
                     message_type, push_name, mentions, source, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (chat_jid, id) DO NOTHING",
            )?;
            for m in &valid {
                let changed = insert.execute(params![
                    m.chat_jid,
                    m.id,
                    m.sender,
                    m.content,
                    m.timestamp_ms,
                    m.is_from_me,
                    m.message_type,
                    m.push_name,
                    (!m.mentions.is_empty()).then(|| serde_json::json!(m.mentions).to_string()),
                    m.origin.as_str(),
                    status_of(m).as_str(),
                    now,
                ])?;
                if changed == 1 {
                    report.inserted += 1;
                } else {
                    report.duplicates += 1;
                }
            }
        }
        upsert_chats(&tx, &valid, now)?;
        upsert_contacts(&tx, &valid, now)?;
        tx.commit()?;
        Ok(report)
    }
}

/// Rewrites LID identities to the phone-number JID they belong to, where the mapping is
/// known, so a sender switching forms never splits a conversation.
fn resolve_lids(tx: &Transaction, batch: &mut [NewMessage]) -> Result<()> {
    if !batch
        .iter()
        .any(|m| is_lid(&m.chat_jid) || is_lid(&m.sender))
    {
        return Ok(());
    }
    let mut lookup = tx.prepare_cached("SELECT jid FROM contacts WHERE lid = ?1")?;
    let mut resolve = |jid: &mut String| -> Result<()> {
        if is_lid(jid)
            && let Some(phone) = lookup
                .query_row([jid.as_str()], |r| r.get::<_, String>(0))
                .optional()?
        {
            *jid = phone;
        }
        Ok(())
    };
    for m in batch.iter_mut() {
        resolve(&mut m.chat_jid)?;
        resolve(&mut m.sender)?;
    }
    Ok(())
}

fn is_lid(jid: &str) -> bool {
    jid::kind(jid) == Some(jid::JidKind::Lid)
}

/// One upsert per chat of the batch: last activity only ever moves forward, and a 1:1
/// chat without a name takes its partner's push name.
fn upsert_chats(tx: &Transaction, batch: &[NewMessage], now: i64) -> Result<()> {
    let mut chats: HashMap<&str, (i64, Option<&str>)> = HashMap::new();
    for m in batch {
        let entry = chats.entry(&m.chat_jid).or_insert((m.timestamp_ms, None));
        entry.0 = entry.0.max(m.timestamp_ms);
        if !m.is_from_me && !jid::is_group(&m.chat_jid) && m.push_name.is_some() {
            entry.1 = m.push_name.as_deref();
        }
    }
    let mut upsert = tx.prepare_cached(
        "INSERT INTO chats (jid, name, is_group, last_activity, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (jid) DO UPDATE SET
             name = coalesce(chats.name, excluded.name),
             last_activity = max(coalesce(chats.last_activity, 0), excluded.last_activity),
             updated_at = excluded.updated_at",
    )?;
    for (chat, (last, name)) in chats {
        upsert.execute(params![chat, name, jid::is_group(chat), last, now])?;
    }
    Ok(())
}

/// One upsert per sender of the batch, keeping the push name of its newest message.
fn upsert_contacts(tx: &Transaction, batch: &[NewMessage], now: i64) -> Result<()> {
    let mut people: HashMap<&str, (i64, Option<&str>)> = HashMap::new();
    for m in batch {
        let entry = people.entry(&m.sender).or_insert((i64::MIN, None));
        if m.push_name.is_some() && m.timestamp_ms >= entry.0 {
            *entry = (m.timestamp_ms, m.push_name.as_deref());
        }
    }
    let mut upsert = tx.prepare_cached(
        "INSERT INTO contacts (jid, phone, push_name, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (jid) DO UPDATE SET
             push_name = coalesce(excluded.push_name, contacts.push_name),
             updated_at = excluded.updated_at",
    )?;
    for (person, (_, name)) in people {
        upsert.execute(params![person, jid::phone(person), name, now])?;
    }
    Ok(())
}
