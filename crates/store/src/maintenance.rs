//! Retention and compaction: cleanup deletes in small transactions so a concurrently
//! writing listener never waits long; vacuum compacts.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::Result;
use crate::error::Doing;
use rusqlite::named_params;
use serde::Serialize;

use super::Db;
use crate::columns::parsed;
use crate::kind::MessageKind;

/// Old messages read (and archived) per round, outside any write lock.
const BATCH: i64 = 1_000;
/// How long one delete transaction may hold the write lock: it stops after the row that
/// reaches this and commits. In an archive of a million messages a row costs 0.1–0.3 ms
/// (it also leaves the full-text index and five other indexes, whose pages may first have
/// to be read from disk), so a transaction deletes some 30–100 rows.
const HOLD: Duration = Duration::from_millis(10);
/// The pause between transactions, so a waiting writer (the listener) gets the lock.
/// SQLite's busy handler polls at growing intervals, at most 25 ms apart in its first
/// 100 ms of waiting: a longer pause is always seen, so no writer waits much past one
/// transaction.
const YIELD: Duration = Duration::from_millis(30);
/// WAL pages after which cleanup's own commit checkpoints.
const CHECKPOINT_PAGES: i64 = 256;

/// A message as the JSONL archive (and `wabot import`) writes it.
#[derive(Debug, Serialize)]
pub struct ArchivedMessage {
    pub id: String,
    pub chat_jid: String,
    pub sender: String,
    pub content: String,
    /// RFC 3339 with milliseconds, so re-importing restores the exact instant.
    pub timestamp: String,
    pub is_from_me: bool,
    pub message_type: MessageKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// What a voice note said, so re-importing the archive keeps it searchable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct CleanupCounts {
    pub messages: usize,
    pub sessions: usize,
    pub outbox: usize,
    pub llm_calls: usize,
    pub job_runs: usize,
    pub media_files: usize,
}

/// Where cleanup draws its lines.
#[derive(Debug)]
pub struct Cutoffs {
    /// Messages stored before this go (pending ones stay: they are the agent's queue).
    pub before: i64,
    pub now: i64,
    /// Imported and synced history goes too. Without it, only what arrived live rotates:
    /// an archive imported today from 2025 is the owner's, not a week's backlog.
    pub include_history: bool,
}

const OLD_MESSAGES: &str = "created_at < :before AND status != 'pending'
     AND (:history OR source NOT IN ('history', 'import'))";
const ORPHAN_MEDIA: &str =
    "NOT EXISTS (SELECT 1 FROM messages WHERE chat_jid = m.chat_jid AND id = m.message_id)";

/// Old calls leave their sums behind, so the usage totals survive retention.
const ROLL_UP_LLM_CALLS: &str = "
    INSERT INTO llm_usage_days (day, api, model, calls, input_tokens, output_tokens, cost)
    SELECT created_at / 86400000 * 86400000, api, model, count(*),
           coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), sum(cost)
    FROM llm_calls WHERE created_at < ?1
    GROUP BY 1, 2, 3
    ON CONFLICT (day, api, model) DO UPDATE SET
        calls = calls + excluded.calls,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cost = CASE WHEN cost IS NULL AND excluded.cost IS NULL THEN NULL
                    ELSE coalesce(cost, 0) + coalesce(excluded.cost, 0) END";

impl Db {
    /// Imported or synced messages cleanup would delete: what it must say (and ask)
    /// before deleting history.
    pub fn old_history(&self, cut: &Cutoffs) -> Result<usize> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) AS n FROM messages
             WHERE created_at < ?1 AND status != 'pending' AND source IN ('history', 'import')",
            [cut.before],
            |r| r.get("n"),
        )?;
        Ok(n as usize)
    }

    /// What cleanup would delete, without deleting it.
    pub fn cleanup_preview(&self, cut: &Cutoffs) -> Result<CleanupCounts> {
        let count = |sql: &str, at: i64| -> Result<usize> {
            let n: i64 = self.conn.query_row(sql, [at], |r| r.get("n"))?;
            Ok(n as usize)
        };
        Ok(CleanupCounts {
            messages: self.conn.query_row(
                &format!("SELECT count(*) AS n FROM messages WHERE {OLD_MESSAGES}"),
                named_params! {":before": cut.before, ":history": cut.include_history},
                |r| r.get::<_, i64>("n"),
            )? as usize,
            sessions: count(
                "SELECT count(*) AS n FROM chat_sessions WHERE expires_at <= ?1",
                cut.now,
            )?,
            outbox: count(
                "SELECT count(*) AS n FROM outbox WHERE status IN ('accepted', 'delivered', 'failed', 'cancelled') AND updated_at < ?1",
                cut.before,
            )?,
            llm_calls: count(
                "SELECT count(*) AS n FROM llm_calls WHERE created_at < ?1",
                cut.before,
            )?,
            job_runs: count(
                "SELECT count(*) AS n FROM job_runs WHERE started_at < ?1
                 AND id NOT IN (SELECT max(id) FROM job_runs GROUP BY job)",
                cut.before,
            )?,
            media_files: self.conn.query_row(
                &format!("SELECT count(*) AS n FROM media_files m WHERE {ORPHAN_MEDIA}"),
                [],
                |r| r.get::<_, i64>("n"),
            )? as usize,
        })
    }

    /// Deletes old messages round by round: each round reads up to `BATCH` of them
    /// without holding the write lock, hands them to `archive` (which must have them
    /// safely written when it returns), then deletes them in short transactions. A run
    /// killed in between leaves archived rows undeleted: the next run archives them
    /// again (an import of the archive stores them once) and deletes them. `archive`'s
    /// own error type (the caller's files) is passed through.
    pub fn delete_old_messages<E: From<crate::Error>>(
        &mut self,
        cut: &Cutoffs,
        archive: &mut dyn FnMut(&[ArchivedMessage]) -> Result<(), E>,
    ) -> Result<usize, E> {
        // Checkpoint these deletions here, a few hundred pages at a time: left to the
        // default (1000 pages), the commit that crosses it is as likely the listener's,
        // which would then wait for the whole checkpoint.
        self.conn
            .pragma_update(None, "wal_autocheckpoint", CHECKPOINT_PAGES)
            .map_err(crate::Error::from)?;
        let mut deleted = 0;
        loop {
            let (keys, rows) = self.old_messages(cut)?;
            if keys.is_empty() {
                return Ok(deleted);
            }
            archive(&rows)?;
            deleted += self.delete_messages(cut, &keys)?;
        }
    }

    /// Deletes the messages `keys` (if still due) in transactions that each hold the
    /// write lock for about `HOLD`, yielding it in between.
    fn delete_messages(&mut self, cut: &Cutoffs, keys: &[i64]) -> Result<usize> {
        let mut deleted = 0;
        let mut rest = keys;
        while !rest.is_empty() {
            let tx = self.write()?;
            let started = Instant::now();
            let mut done = 0;
            {
                // Still old and not pending: the row may have changed since it was read.
                let mut delete = tx.prepare_cached(&format!(
                    "DELETE FROM messages WHERE {OLD_MESSAGES} AND pk = :pk"
                ))?;
                for key in rest {
                    deleted += delete.execute(named_params! {
                        ":before": cut.before, ":history": cut.include_history, ":pk": key
                    })?;
                    done += 1;
                    if started.elapsed() >= HOLD {
                        break;
                    }
                }
            }
            tx.commit()?;
            rest = &rest[done..];
            std::thread::sleep(YIELD);
        }
        Ok(deleted)
    }

    /// The oldest `BATCH` messages due for deletion: their keys and their archive form.
    fn old_messages(&self, cut: &Cutoffs) -> Result<(Vec<i64>, Vec<ArchivedMessage>)> {
        let mut select = self.conn.prepare_cached(&format!(
            "SELECT pk, id, chat_jid, sender, content, timestamp, is_from_me, message_type,
                    push_name, mentions, transcript
             FROM messages WHERE {OLD_MESSAGES} ORDER BY created_at LIMIT :batch"
        ))?;
        let mut keys = Vec::new();
        let mut rows = Vec::new();
        let mut cursor = select.query(named_params! {
            ":before": cut.before, ":history": cut.include_history, ":batch": BATCH
        })?;
        while let Some(r) = cursor.next()? {
            keys.push(r.get::<_, i64>("pk")?);
            let ts: i64 = r.get("timestamp")?;
            let mentions: Option<String> = r.get("mentions")?;
            rows.push(ArchivedMessage {
                id: r.get("id")?,
                chat_jid: r.get("chat_jid")?,
                sender: r.get("sender")?,
                content: r.get("content")?,
                timestamp: chrono::DateTime::from_timestamp_millis(ts)
                    .unwrap_or_default()
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                is_from_me: r.get("is_from_me")?,
                message_type: parsed(r, "message_type")?,
                push_name: r.get("push_name")?,
                mentions: super::mentions(mentions),
                transcript: r.get("transcript")?,
            });
        }
        Ok((keys, rows))
    }

    /// Deletes what outlived its use besides messages. Media files whose message is gone
    /// are removed from disk (paths relative to the database's directory).
    pub fn delete_old_records(&mut self, cut: &Cutoffs) -> Result<CleanupCounts> {
        let base = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        self.in_write(|tx| {
            let orphans: Vec<(i64, Option<String>)> = {
                let mut stmt = tx.prepare(&format!(
                    "SELECT id, local_path FROM media_files m WHERE {ORPHAN_MEDIA}"
                ))?;
                // Files are named by content, so one may serve a message that stays.
                let mut shared = tx.prepare(&format!(
                    "SELECT 1 FROM media_files m WHERE local_path = ?1 AND NOT ({ORPHAN_MEDIA})"
                ))?;
                let rows: Vec<(i64, Option<String>)> = stmt
                    .query_map([], |r| Ok((r.get("id")?, r.get("local_path")?)))?
                    .collect::<rusqlite::Result<_>>()?;
                let mut orphans = Vec::with_capacity(rows.len());
                for (id, path) in rows {
                    let in_use = match &path {
                        Some(p) => shared.exists([p])?,
                        None => false,
                    };
                    orphans.push((id, path.filter(|_| !in_use)));
                }
                orphans
            };
            for (id, path) in &orphans {
                if let Some(path) = path {
                    match std::fs::remove_file(base.join(path)) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e).doing(|| format!("removing media file {path}")),
                    }
                }
                tx.execute("DELETE FROM media_files WHERE id = ?1", [id])?;
            }
            let counts = CleanupCounts {
                messages: 0,
                sessions: tx.execute("DELETE FROM chat_sessions WHERE expires_at <= ?1", [cut.now])?,
                outbox: tx.execute(
                    "DELETE FROM outbox WHERE status IN ('accepted', 'delivered', 'failed', 'cancelled') AND updated_at < ?1",
                    [cut.before],
                )?,
                llm_calls: {
                    tx.execute(ROLL_UP_LLM_CALLS, [cut.before])?;
                    tx.execute("DELETE FROM llm_calls WHERE created_at < ?1", [cut.before])?
                },
                job_runs: tx.execute(
                    "DELETE FROM job_runs WHERE started_at < ?1
                     AND id NOT IN (SELECT max(id) FROM job_runs GROUP BY job)",
                    [cut.before],
                )?,
                media_files: orphans.len(),
            };
            Ok(counts)
        })
    }

    /// When cleanup last completed successfully.
    pub fn last_successful(&self, job: &str) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT max(finished_at) AS at FROM job_runs WHERE job = ?1 AND outcome = 'ok'",
            [job],
            |r| r.get("at"),
        )?)
    }

    pub fn file_size(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }

    /// Folds the WAL into the database file, compacts it (in place, or into a new file),
    /// and refreshes the query planner's statistics.
    pub fn vacuum(&mut self, into: Option<&Path>) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        match into {
            Some(path) => {
                // SQLite would create the file with the umask's mode; an empty file made
                // private first is one it accepts, and the copy stays 0600.
                crate::files::create_private(path)?;
                if let Err(err) = self
                    .conn
                    .execute("VACUUM INTO ?1", [path.to_string_lossy()])
                {
                    let _ = std::fs::remove_file(path);
                    return Err(err).doing(|| format!("VACUUM INTO {}", path.display()));
                }
            }
            None => self.conn.execute_batch("VACUUM")?,
        }
        self.conn.execute_batch("PRAGMA optimize")?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orphaned_media_files_go_unless_a_remaining_message_shares_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        std::fs::create_dir(dir.path().join("media")).unwrap();
        for name in ["shared.jpg", "alone.jpg"] {
            std::fs::write(dir.path().join("media").join(name), b"x").unwrap();
        }
        db.conn
            .execute_batch(
                "INSERT INTO messages (chat_jid, id, sender, timestamp, created_at)
                     VALUES ('c', 'stays', 'c', 1, 1);
                 INSERT INTO media_files (chat_jid, message_id, media_type, local_path, created_at, updated_at) VALUES
                     ('c', 'stays', 'image', 'media/shared.jpg', 1, 1),
                     ('c', 'gone1', 'image', 'media/shared.jpg', 1, 1),
                     ('c', 'gone2', 'image', 'media/alone.jpg', 1, 1);",
            )
            .unwrap();
        let counts = db
            .delete_old_records(&Cutoffs {
                before: 0,
                now: 0,
                include_history: false,
            })
            .unwrap();
        assert_eq!(counts.media_files, 2);
        assert!(dir.path().join("media/shared.jpg").exists());
        assert!(!dir.path().join("media/alone.jpg").exists());
        let left: i64 = db
            .conn
            .query_row("SELECT count(*) AS n FROM media_files", [], |r| r.get("n"))
            .unwrap();
        assert_eq!(left, 1);
    }
}
