//! Idempotent ingest of message batches, with the chats and contacts they imply.

use std::collections::HashMap;

use crate::Result;
use rusqlite::{OptionalExtension, Transaction, params};

use super::Db;
use crate::clock;
use crate::jid;
use crate::message::{MessageStatus, NewMessage};
use wabot_core::sink::NumberChange;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestReport {
    pub inserted: usize,
    /// The ids of the inserted that wait for an answer (status `pending`).
    pub pending: Vec<String>,
    pub duplicates: usize,
    /// Valid records the caller chose not to store.
    pub ignored: usize,
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
    /// identities resolved and says whether the agent should answer it, or (`None`)
    /// that it is not to be stored at all.
    pub fn ingest(
        &mut self,
        batch: Vec<NewMessage>,
        status_of: &dyn Fn(&NewMessage) -> Option<MessageStatus>,
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
        self.in_write(|tx| {
            resolve_lids(tx, &mut valid)?;
            let before = valid.len();
            let (valid, statuses): (Vec<NewMessage>, Vec<MessageStatus>) = valid
                .into_iter()
                .filter_map(|m| status_of(&m).map(|s| (m, s)))
                .unzip();
            report.ignored = before - valid.len();
            {
                // A placeholder (`undecryptable`, `unsupported`) gives way to the real copy
                // when it comes (a retry, a recovered message, a newer wabot reading
                // history); anything else stored is never overwritten.
                let mut insert = tx.prepare_cached(
                    "INSERT INTO messages (chat_jid, id, sender, content, timestamp, is_from_me,
                         message_type, push_name, mentions, quoted_id, source, status, created_at,
                         wire_type, wire_raw, note, transcript)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                             ?17)
                     ON CONFLICT (chat_jid, id) DO UPDATE SET
                         sender = excluded.sender, content = excluded.content,
                         timestamp = excluded.timestamp, message_type = excluded.message_type,
                         push_name = coalesce(excluded.push_name, messages.push_name),
                         mentions = excluded.mentions, quoted_id = excluded.quoted_id,
                         status = excluded.status, wire_type = excluded.wire_type,
                         wire_raw = excluded.wire_raw, note = excluded.note
                     WHERE excluded.message_type != messages.message_type
                       AND (messages.message_type = 'undecryptable'
                            OR (messages.message_type = 'unsupported'
                                AND excluded.message_type != 'undecryptable'))",
                )?;
                for (m, status) in valid.iter().zip(&statuses) {
                    let changed = insert.execute(params![
                        m.chat_jid,
                        m.id,
                        m.sender,
                        m.content,
                        m.timestamp_ms,
                        m.is_from_me,
                        m.message_type.as_str(),
                        m.push_name,
                        (!m.mentions.is_empty()).then(|| serde_json::json!(m.mentions).to_string()),
                        m.quoted_id,
                        m.origin.as_str(),
                        status.as_str(),
                        now,
                        m.kept.wire_type,
                        m.kept.wire_raw,
                        (!m.kept.notes.is_empty()).then(|| m.kept.notes.join("; ")),
                        m.transcript,
                    ])?;
                    if changed == 1 {
                        report.inserted += 1;
                        if *status == MessageStatus::Pending {
                            report.pending.push(m.id.clone());
                        }
                    } else {
                        report.duplicates += 1;
                    }
                }
            }
            upsert_chats(tx, &valid, now)?;
            upsert_contacts(tx, &valid, now)?;
            super::media::record(tx, &valid, now)?;
            Ok(report)
        })
    }
}

impl Db {
    /// Marks stored messages as edited (an export says that they were, not when: the
    /// time given is kept unless an earlier one is known).
    pub fn mark_edited(&mut self, chat_jid: &str, edits: &[(String, i64)]) -> Result<()> {
        if edits.is_empty() {
            return Ok(());
        }
        let tx = self.write()?;
        {
            let mut update = tx.prepare_cached(
                "UPDATE messages SET edited_at = COALESCE(edited_at, ?3)
                 WHERE chat_jid = ?1 AND id = ?2",
            )?;
            for (id, at) in edits {
                update.execute(params![chat_jid, id, at])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Names groups after their subjects, adding the ones not seen yet.
    pub fn name_groups(&mut self, subjects: &[(String, String)]) -> Result<()> {
        let now = clock::now_ms();
        self.in_write(|tx| {
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO chats (jid, name, is_group, created_at, updated_at) VALUES (?1, ?2, 1, ?3, ?3)
                     ON CONFLICT (jid) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at",
                )?;
                for (jid, subject) in subjects {
                    upsert.execute(params![jid, subject, now])?;
                }
            }
            Ok(())
        })
    }

    /// Records that `alias` (a LID, …@lid, or a Cloud API business-scoped user id,
    /// …@bsuid) and `phone_jid` (…@s.whatsapp.net) are one person. A mapping learnt for
    /// the first time also moves what was stored under the alias (messages, media,
    /// sessions, the chat, queued replies) to the phone JID: one person, one chat.
    pub fn record_alias(&mut self, alias: &str, phone_jid: &str) -> Result<()> {
        let now = clock::now_ms();
        self.in_write(|tx| map_alias(tx, alias, phone_jid, now))
    }

    /// A contact changed their number: everything under the old number (and the old
    /// LID) moves to the new one, and the new LID maps to it: one person, one chat,
    /// with the history.
    pub fn number_changed(&mut self, change: &NumberChange) -> Result<()> {
        let now = clock::now_ms();
        self.in_write(|tx| {
            move_identity(tx, &change.old_jid, &change.new_jid, now)?;
            if let Some(old_alias) = &change.old_alias {
                move_identity(tx, old_alias, &change.new_jid, now)?;
            }
            if let Some(new_alias) = &change.new_alias {
                map_alias(tx, new_alias, &change.new_jid, now)?;
            }
            Ok(())
        })
    }
}

/// Records the mapping inside a write, moving what the LID held when it is new.
fn map_alias(tx: &Transaction, alias: &str, phone_jid: &str, now: i64) -> Result<()> {
    let Some(column) = alias_column(alias) else {
        log::warn!("{alias} is neither a LID nor a business-scoped user id: not mapped");
        return Ok(());
    };
    let known: Option<Option<String>> = tx
        .query_row(
            &format!("SELECT {column} AS alias FROM contacts WHERE jid = ?1"),
            [phone_jid],
            |r| r.get("alias"),
        )
        .optional()?;
    if known.flatten().as_deref() == Some(alias) {
        return Ok(());
    }
    move_identity(tx, alias, phone_jid, now)?;
    tx.execute(
        &format!("UPDATE contacts SET {column} = NULL WHERE {column} = ?1 AND jid != ?2"),
        params![alias, phone_jid],
    )?;
    tx.execute(
        &format!(
            "INSERT INTO contacts (jid, phone, {column}, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (jid) DO UPDATE SET {column} = excluded.{column},
                 updated_at = excluded.updated_at"
        ),
        params![phone_jid, jid::phone(phone_jid), alias, now],
    )?;
    Ok(())
}

/// The contacts column that maps an alias of this kind to its phone JID.
fn alias_column(alias: &str) -> Option<&'static str> {
    match jid::kind(alias) {
        Some(jid::JidKind::Lid) => Some("lid"),
        Some(jid::JidKind::Bsuid) => Some("bsuid"),
        _ => None,
    }
}

/// Moves every row stored under `lid` to `phone`. Where both already hold the same row
/// (one message seen under both identities), the phone JID's copy is kept.
fn move_identity(tx: &Transaction, lid: &str, phone: &str, now: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO chats (jid, name, is_group, last_activity, created_at, updated_at)
         SELECT ?2, name, is_group, last_activity, created_at, ?3 FROM chats WHERE jid = ?1
         ON CONFLICT (jid) DO UPDATE SET
             name = coalesce(chats.name, excluded.name),
             last_activity = max(coalesce(chats.last_activity, 0), coalesce(excluded.last_activity, 0)),
             updated_at = excluded.updated_at",
        params![lid, phone, now],
    )?;
    let statements = [
        "UPDATE OR IGNORE messages SET chat_jid = ?2 WHERE chat_jid = ?1",
        "DELETE FROM messages WHERE chat_jid = ?1",
        "UPDATE messages SET sender = ?2 WHERE sender = ?1",
        "UPDATE OR IGNORE media_files SET chat_jid = ?2 WHERE chat_jid = ?1",
        "DELETE FROM media_files WHERE chat_jid = ?1",
        "UPDATE OR IGNORE chat_sessions
             SET user_jid = CASE user_jid WHEN ?1 THEN ?2 ELSE user_jid END,
                 chat_jid = CASE chat_jid WHEN ?1 THEN ?2 ELSE chat_jid END
         WHERE user_jid = ?1 OR chat_jid = ?1",
        "DELETE FROM chat_sessions WHERE user_jid = ?1 OR chat_jid = ?1",
        "UPDATE OR IGNORE chat_tracking SET chat_jid = ?2 WHERE chat_jid = ?1",
        "UPDATE outbox SET chat_jid = ?2 WHERE chat_jid = ?1",
        "UPDATE outbox SET reply_to_chat = ?2 WHERE reply_to_chat = ?1",
        "UPDATE message_versions SET chat_jid = ?2 WHERE chat_jid = ?1",
        "UPDATE message_versions SET changed_by = ?2 WHERE changed_by = ?1",
        "UPDATE rejected_changes SET chat_jid = ?2 WHERE chat_jid = ?1",
        "UPDATE OR IGNORE group_admins SET jid = ?2 WHERE jid = ?1",
        "DELETE FROM group_admins WHERE jid = ?1",
        "DELETE FROM chats WHERE jid = ?1",
        "DELETE FROM contacts WHERE jid = ?1",
    ];
    for sql in statements {
        // The deletes of what could not move name only the LID.
        if sql.contains("?2") {
            tx.execute(sql, params![lid, phone])?;
        } else {
            tx.execute(sql, params![lid])?;
        }
    }
    Ok(())
}

impl Db {
    /// The same person in the other namespace, where the mapping is known: the phone
    /// JID of a LID, the LID of a phone JID.
    pub fn alternate_jid(&self, jid: &str) -> Result<Option<String>> {
        let sql = if is_lid(jid) {
            "SELECT jid AS other FROM contacts WHERE lid = ?1"
        } else {
            "SELECT lid AS other FROM contacts WHERE jid = ?1 AND lid IS NOT NULL"
        };
        Ok(self
            .conn
            .query_row(sql, [jid], |r| r.get("other"))
            .optional()?)
    }

    /// The phone-number JID of a LID where the mapping is known; other JIDs unchanged.
    pub fn canonical_jid(&self, jid: &str) -> Result<String> {
        resolve_alias(&self.conn, jid)
    }
}

/// The phone-number JID of a LID where the mapping is known; other JIDs unchanged.
pub(super) fn resolve_alias(conn: &rusqlite::Connection, jid: &str) -> Result<String> {
    let Some(column) = alias_column(jid) else {
        return Ok(jid.to_string());
    };
    Ok(conn
        .query_row(
            &format!("SELECT jid FROM contacts WHERE {column} = ?1"),
            [jid],
            |r| r.get("jid"),
        )
        .optional()?
        .unwrap_or_else(|| jid.to_string()))
}

/// Rewrites aliases (LIDs, BSUIDs) to the phone-number JID they belong to, where the mapping is
/// known, so a sender switching forms never splits a conversation, and a mention of the
/// bot's own LID (a migrated group) is a mention of its number.
fn resolve_lids(tx: &Transaction, batch: &mut [NewMessage]) -> Result<()> {
    let aliased = |j: &str| alias_column(j).is_some();
    if !batch.iter().any(|m| {
        aliased(&m.chat_jid) || aliased(&m.sender) || m.mentions.iter().any(|j| aliased(j))
    }) {
        return Ok(());
    }
    for m in batch.iter_mut() {
        m.chat_jid = resolve_alias(tx, &m.chat_jid)?;
        m.sender = resolve_alias(tx, &m.sender)?;
        m.mentions = resolve_all(tx, std::mem::take(&mut m.mentions))?;
    }
    Ok(())
}

/// Each of `jids` with its aliases resolved where the mapping is known.
pub(super) fn resolve_all(conn: &rusqlite::Connection, jids: Vec<String>) -> Result<Vec<String>> {
    jids.into_iter().map(|j| resolve_alias(conn, &j)).collect()
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
    for m in batch.iter().filter(|m| !jid::is_group(&m.sender)) {
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

/// One stored message as the store holds it, for tests of what ingest kept.
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    pub sender: String,
    pub message_type: crate::kind::MessageKind,
    pub content: String,
    pub status: MessageStatus,
    pub quoted_id: Option<String>,
    pub mentions: Option<String>,
    pub wire_type: Option<String>,
    pub wire_raw: Option<Vec<u8>>,
    pub note: Option<String>,
}

#[cfg(any(test, feature = "test-support"))]
impl Db {
    pub fn stored(&self, chat_jid: &str, id: &str) -> Result<Option<StoredRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT sender, message_type, content, status, quoted_id, mentions, wire_type,
                        wire_raw, note
                 FROM messages WHERE chat_jid = ?1 AND id = ?2",
                params![chat_jid, id],
                |r| {
                    Ok(StoredRow {
                        sender: r.get("sender")?,
                        message_type: crate::columns::parsed(r, "message_type")?,
                        content: r.get("content")?,
                        status: crate::columns::parsed(r, "status")?,
                        quoted_id: r.get("quoted_id")?,
                        mentions: r.get("mentions")?,
                        wire_type: r.get("wire_type")?,
                        wire_raw: r.get("wire_raw")?,
                        note: r.get("note")?,
                    })
                },
            )
            .optional()?)
    }

    /// How many messages a chat holds.
    pub fn count_in(&self, chat_jid: &str) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT count(*) AS n FROM messages WHERE chat_jid = ?1",
            [chat_jid],
            |r| r.get("n"),
        )?)
    }
}
