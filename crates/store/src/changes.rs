//! Edits and revokes of stored messages: applied only when their sender may make them
//! (the author; for a revoke also a group admin, as WhatsApp allows), with what the
//! message said before kept among its versions.

use rusqlite::{OptionalExtension, Transaction, params};

use super::Db;
use super::messages::resolve_alias;
use crate::Result;
use crate::policy::SkipReason;

/// What became of an edit or a revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Applied,
    /// Its sender had no right to it: recorded in `rejected_changes`, nothing changed.
    Rejected,
    /// No such message is stored (it came before the archive, or was cleaned up).
    Unknown,
}

/// One edit or revoke as it arrived.
pub struct Changed<'a> {
    pub chat_jid: &'a str,
    pub id: &'a str,
    /// Who sent it, as WhatsApp addressed them.
    pub by: &'a str,
    pub at: i64,
}

impl Db {
    /// Applies an edit by the message's author; the replaced text becomes a version.
    pub fn apply_edit(&mut self, edit: &Changed, content: &str) -> Result<Change> {
        self.in_write(|tx| {
            let Some(target) = Target::find(tx, edit)? else {
                return Ok(Change::Unknown);
            };
            if target.author != target.by {
                target.reject(tx, "edit", Some(content), edit.at)?;
                return Ok(Change::Rejected);
            }
            if target.content == content {
                // Redelivered: applied already, its version kept once.
                return Ok(Change::Applied);
            }
            target.keep_version(tx, "edit", edit.at)?;
            tx.execute(
                "UPDATE messages SET content = ?3, edited_at = ?4 WHERE chat_jid = ?1 AND id = ?2",
                params![target.chat, edit.id, content, edit.at],
            )?;
            Ok(Change::Applied)
        })
    }

    /// Applies "delete for everyone" by the author or a group admin: the text is blanked
    /// (kept as a version when `keep_deleted`, dropped with every earlier version
    /// otherwise) and a pending message is no longer answered.
    pub fn apply_revoke(&mut self, revoke: &Changed, keep_deleted: bool) -> Result<Change> {
        self.in_write(|tx| {
            let Some(target) = Target::find(tx, revoke)? else {
                return Ok(Change::Unknown);
            };
            if target.author != target.by && !target.by_admin(tx)? {
                target.reject(tx, "revoke", None, revoke.at)?;
                return Ok(Change::Rejected);
            }
            if keep_deleted {
                target.keep_version(tx, "revoke", revoke.at)?;
            } else {
                tx.execute(
                    "DELETE FROM message_versions WHERE chat_jid = ?1 AND message_id = ?2",
                    params![target.chat, revoke.id],
                )?;
            }
            tx.execute(
                "UPDATE messages SET content = '', revoked_at = ?3,
                     status = CASE status WHEN 'pending' THEN 'skipped' ELSE status END,
                     last_error = CASE status WHEN 'pending' THEN ?4 ELSE last_error END,
                     skip_reason = CASE status WHEN 'pending' THEN ?5 ELSE skip_reason END
                 WHERE chat_jid = ?1 AND id = ?2",
                params![
                    target.chat,
                    revoke.id,
                    revoke.at,
                    SkipReason::Revoked.describe(),
                    SkipReason::Revoked.as_str()
                ],
            )?;
            Ok(Change::Applied)
        })
    }

    /// The admins of each group, as WhatsApp reported them: replaces what was known.
    pub fn set_group_admins(&mut self, groups: &[(String, Vec<String>)]) -> Result<()> {
        self.in_write(|tx| {
            for (chat, admins) in groups {
                tx.execute("DELETE FROM group_admins WHERE chat_jid = ?1", [chat])?;
                for admin in admins {
                    tx.execute(
                        "INSERT OR IGNORE INTO group_admins (chat_jid, jid) VALUES (?1, ?2)",
                        params![chat, resolve_alias(tx, admin)?],
                    )?;
                }
            }
            Ok(())
        })
    }

    /// Earlier texts of a message, oldest first: `(content, change, changed_by, at)`.
    pub fn message_versions(
        &self,
        chat_jid: &str,
        id: &str,
    ) -> Result<Vec<(String, String, String, i64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT content, change, changed_by, changed_at FROM message_versions
             WHERE chat_jid = ?1 AND message_id = ?2 ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![chat_jid, id], |r| {
                Ok((
                    r.get("content")?,
                    r.get("change")?,
                    r.get("changed_by")?,
                    r.get("changed_at")?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Messages deleted for everyone whose kept text holds every one of `words`
    /// (case-insensitive, anywhere), newest first: what `search --include-deleted` adds.
    pub fn search_deleted(
        &self,
        words: &[String],
        filter: &crate::SearchFilter,
    ) -> Result<Vec<crate::Hit>> {
        let mut stmt = self.conn.prepare(
            "SELECT m.chat_jid, m.id, m.sender, m.push_name, m.timestamp, m.is_from_me,
                    m.message_type, v.content
             FROM message_versions v JOIN messages m ON m.chat_jid = v.chat_jid AND m.id = v.message_id
             WHERE v.change = 'revoke'
               AND NOT EXISTS (SELECT 1 FROM json_each(?1) AS w
                               WHERE instr(lower(v.content), lower(w.value)) = 0)
               AND (?2 IS NULL OR m.chat_jid = ?2) AND (?3 IS NULL OR m.sender = ?3)
               AND (?4 IS NULL OR m.push_name = ?4 COLLATE NOCASE) AND (NOT ?5 OR m.is_from_me)
               AND m.timestamp >= ?6 AND m.timestamp < ?7
             ORDER BY m.timestamp DESC LIMIT ?8",
        )?;
        let rows = stmt
            .query_map(
                params![
                    serde_json::json!(words).to_string(),
                    filter.chat,
                    filter.sender,
                    filter.author,
                    filter.from_me,
                    filter.since.unwrap_or(i64::MIN),
                    filter.until.unwrap_or(i64::MAX),
                    filter.limit as i64
                ],
                |r| {
                    let content: String = r.get("content")?;
                    Ok(crate::Hit {
                        chat_jid: r.get("chat_jid")?,
                        id: r.get("id")?,
                        sender: r.get("sender")?,
                        author: r.get("push_name")?,
                        timestamp: r.get("timestamp")?,
                        is_from_me: r.get("is_from_me")?,
                        snippet: content.clone(),
                        content,
                        message_type: crate::columns::parsed(r, "message_type")?,
                        transcript: None,
                        deleted: true,
                    })
                },
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Edits and revokes refused so far.
    pub fn rejected_changes(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) AS n FROM rejected_changes", [], |r| {
                r.get("n")
            })?)
    }
}

/// The stored message a change names, with its author and the change's sender in the
/// same form (LIDs resolved where the mapping is known).
struct Target<'a> {
    chat: String,
    id: &'a str,
    author: String,
    by: String,
    /// The text it has now.
    content: String,
}

impl<'a> Target<'a> {
    fn find(tx: &Transaction, change: &Changed<'a>) -> Result<Option<Self>> {
        let chat = resolve_alias(tx, change.chat_jid)?;
        let stored: Option<(String, String)> = tx
            .query_row(
                "SELECT sender, content FROM messages WHERE chat_jid = ?1 AND id = ?2",
                params![chat, change.id],
                |r| Ok((r.get("sender")?, r.get("content")?)),
            )
            .optional()?;
        let Some((author, content)) = stored else {
            return Ok(None);
        };
        Ok(Some(Target {
            author: resolve_alias(tx, &author)?,
            content,
            by: resolve_alias(tx, change.by)?,
            chat,
            id: change.id,
        }))
    }

    fn by_admin(&self, tx: &Transaction) -> Result<bool> {
        Ok(tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM group_admins WHERE chat_jid = ?1 AND jid = ?2) AS yes",
            params![self.chat, self.by],
            |r| r.get("yes"),
        )?)
    }

    fn keep_version(&self, tx: &Transaction, change: &str, at: i64) -> Result<()> {
        tx.execute(
            "INSERT INTO message_versions (chat_jid, message_id, content, change, changed_by, changed_at)
             SELECT chat_jid, id, content, ?3, ?4, ?5 FROM messages
             WHERE chat_jid = ?1 AND id = ?2 AND content != ''",
            params![self.chat, self.id, change, self.by, at],
        )?;
        Ok(())
    }

    fn reject(&self, tx: &Transaction, change: &str, content: Option<&str>, at: i64) -> Result<()> {
        log::warn!(
            "{}: refused {}'s {change} of {}'s message {}",
            self.chat,
            self.by,
            self.author,
            self.id
        );
        tx.execute(
            "INSERT INTO rejected_changes (chat_jid, message_id, change, attempted_by, author, content, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![self.chat, self.id, change, self.by, self.author, content, at],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MessageStatus, NewMessage, Origin};

    const ALICE: &str = "15550001111@s.whatsapp.net";

    #[test]
    fn versions_go_with_their_message() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let mut m = NewMessage::text(Origin::Live, ALICE, "M", 1_700_000_000_000, "first");
        m.sender = ALICE.into();
        db.ingest(vec![m], &|_| Some(MessageStatus::History))
            .unwrap();
        let edit = Changed {
            chat_jid: ALICE,
            id: "M",
            by: ALICE,
            at: 1_700_000_001_000,
        };
        assert_eq!(db.apply_edit(&edit, "second").unwrap(), Change::Applied);
        assert_eq!(db.message_versions(ALICE, "M").unwrap().len(), 1);
        let unknown = Changed { id: "NONE", ..edit };
        assert_eq!(db.apply_edit(&unknown, "x").unwrap(), Change::Unknown);
        // Cleanup deletes messages with plain SQL: the versions follow.
        db.conn.execute("DELETE FROM messages", []).unwrap();
        assert!(db.message_versions(ALICE, "M").unwrap().is_empty());
    }

    #[test]
    fn an_archive_of_the_previous_schema_migrates_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for sql in &crate::MIGRATIONS[..12] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 12).unwrap();
            conn.execute_batch(
                "INSERT INTO messages (chat_jid, id, sender, content, timestamp, created_at)
                 VALUES ('15550001111@s.whatsapp.net', 'M', '15550001111@s.whatsapp.net',
                         'kept', 1700000000000, 0);
                 INSERT INTO contacts (jid, phone, lid, created_at, updated_at)
                 VALUES ('15550001111@s.whatsapp.net', '15550001111', '987@lid', 0, 0);",
            )
            .unwrap();
        }
        let mut db = Db::open(&path).unwrap();
        assert_eq!(db.stored(ALICE, "M").unwrap().unwrap().content, "kept");
        assert_eq!(db.canonical_jid("987@lid").unwrap(), ALICE, "mappings kept");
        let edit = Changed {
            chat_jid: ALICE,
            id: "M",
            by: "987@lid",
            at: 1,
        };
        assert_eq!(
            db.apply_edit(&edit, "new").unwrap(),
            Change::Applied,
            "by its author's LID"
        );
        assert_eq!(db.message_versions(ALICE, "M").unwrap()[0].0, "kept");
    }

    #[test]
    fn deleted_texts_are_found_only_when_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let mut m = NewMessage::text(
            Origin::Live,
            ALICE,
            "M",
            1_700_000_000_000,
            "the secret plan",
        );
        m.sender = ALICE.into();
        db.ingest(vec![m], &|_| Some(MessageStatus::History))
            .unwrap();
        let revoke = Changed {
            chat_jid: ALICE,
            id: "M",
            by: ALICE,
            at: 1_700_000_001_000,
        };
        assert_eq!(db.apply_revoke(&revoke, true).unwrap(), Change::Applied);
        let filter = crate::SearchFilter {
            limit: 10,
            ..Default::default()
        };
        assert!(db.search("secret", &filter).unwrap().is_empty(), "hidden");
        let words = ["Secret".to_string(), "plan".to_string()];
        let found = db.search_deleted(&words, &filter).unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].deleted && found[0].content == "the secret plan");
        let other = ["secret".to_string(), "meeting".to_string()];
        assert!(
            db.search_deleted(&other, &filter).unwrap().is_empty(),
            "every word"
        );
    }
}
