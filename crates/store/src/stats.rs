//! Figures for `wabot stats`. The JSON keys are a documented interface: keep them.

use std::collections::BTreeMap;

use crate::Result;
use rusqlite::OptionalExtension;
use serde::Serialize;

use super::Db;
use crate::clock::{self, DAY_MS};
use crate::status::HeartbeatState;

#[derive(Debug, Serialize)]
pub struct Stats {
    /// `wabot pause` is in force: messages are stored, none answered.
    pub paused: bool,
    pub messages: MessageCounts,
    pub chats: i64,
    pub contacts: i64,
    pub sessions: SessionCounts,
    pub outbox: OutboxCounts,
    pub database: DatabaseFiles,
    pub last_message_at: Option<i64>,
    pub top_chats: Vec<ChatCount>,
    /// Received messages wabot's validation rejected, kept in the quarantine table.
    pub quarantined: i64,
    /// Voice notes and audio: transcribed, failed, waiting.
    pub transcripts: super::TranscriptCounts,
    pub listener: ListenerState,
    pub sync: SyncSummary,
    /// History chunks WhatsApp pushed or answered, as spooled.
    pub history_chunks: super::ChunkCounts,
    pub llm: LlmUsage,
    /// The last run of each job, `null` for a job that never ran.
    pub jobs: BTreeMap<&'static str, Option<JobSummary>>,
}

/// LLM calls, tokens and reported cost since the start of today (in the configured
/// time zone), over the last 7 days, and since the database was created.
#[derive(Debug, Serialize)]
pub struct LlmUsage {
    pub today: UsageFigures,
    pub last_7_days: UsageFigures,
    pub total: UsageFigures,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct UsageFigures {
    /// Every call, answered or failed.
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// US dollars as the providers reported them; `null` when none reported a cost.
    pub cost_usd: Option<f64>,
    /// Calls that brought an answer, of those not folded into days by cleanup yet; of
    /// them, the ones with at least one source, and the ones cut short.
    pub answers: i64,
    pub answers_with_sources: i64,
    pub cut_short: i64,
}

#[derive(Debug, Serialize)]
pub struct ListenerState {
    /// A heartbeat younger than 90 seconds exists.
    pub alive: bool,
    pub connected: bool,
    pub state: Option<HeartbeatState>,
    pub detail: Option<String>,
    pub pid: Option<i64>,
    pub last_heartbeat_at: Option<i64>,
    pub last_event_at: Option<i64>,
    pub uptime_seconds: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct SyncSummary {
    pub is_syncing: bool,
    pub is_latest: bool,
    #[serde(rename = "last_sync_at")]
    pub last_sync_time: Option<i64>,
    pub messages_synced: i64,
    /// Checkpoints per state (`not_started`, `in_progress`, `completed`, …).
    pub checkpoints: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize)]
pub struct JobSummary {
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// `ok`, `failed`, or `unfinished` for a run that died or still runs.
    pub outcome: String,
    pub summary: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub struct OutboxFailure {
    pub id: i64,
    pub chat_jid: String,
    pub kind: String,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

#[derive(Debug, Serialize)]
pub struct MessageCounts {
    pub total: i64,
    pub inbound: i64,
    pub outbound: i64,
    pub pending: i64,
    pub answered: i64,
    pub failed: i64,
}

#[derive(Debug, Serialize)]
pub struct SessionCounts {
    pub active: i64,
}

#[derive(Debug, Serialize)]
pub struct OutboxCounts {
    pub pending: i64,
    /// Written to WhatsApp, no server acknowledgement yet.
    pub written: i64,
    /// Taken by WhatsApp's server or the provider, no receipt yet.
    pub accepted: i64,
    /// A delivery or read receipt came.
    pub delivered: i64,
    /// Accepted, but no receipt within the delivery timeout: sent again after the next
    /// reconnect.
    pub unconfirmed: i64,
    pub failed: i64,
    /// Refused with error 463 (no privacy token for a new contact: a reachout
    /// timelock).
    pub reachout_refused: i64,
    /// Failed because the provider refused a free-form message outside WhatsApp's
    /// 24-hour customer service window (Twilio 63016, Cloud API 131047).
    pub outside_window: i64,
    /// The newest failed sends with their errors.
    pub recent_failures: Vec<OutboxFailure>,
}

#[derive(Debug, Serialize)]
pub struct DatabaseFiles {
    pub path: String,
    pub size_bytes: u64,
    pub wal_bytes: u64,
    pub schema_version: i64,
}

#[derive(Debug, Serialize)]
pub struct ChatCount {
    pub chat_jid: String,
    pub messages: i64,
}

const TOP_CHATS: i64 = 10;

/// The jobs whose last run `stats` reports.
const JOBS: [&str; 7] = [
    "process-once",
    "media-transcribe",
    "cleanup",
    "vitality",
    "backup",
    "vacuum",
    "import",
];

impl Db {
    /// Everything `stats` shows, with "today" starting at the UTC midnight.
    pub fn stats(&self) -> Result<Stats> {
        let now = clock::now_ms();
        self.stats_from(now - now.rem_euclid(DAY_MS))
    }

    /// Everything `stats` shows, with "today" starting at `today_start` (Unix ms).
    pub fn stats_from(&self, today_start: i64) -> Result<Stats> {
        let conn = &self.conn;
        // From the counts the triggers keep (migration 0009): no scan of the archive.
        let messages = conn.query_row(
            "SELECT coalesce(sum(messages), 0) AS total,
                    coalesce(sum(messages) FILTER (WHERE is_from_me = 0), 0) AS inbound,
                    coalesce(sum(messages) FILTER (WHERE is_from_me = 1), 0) AS outbound,
                    coalesce(sum(messages) FILTER (WHERE status = 'pending'), 0) AS pending,
                    coalesce(sum(messages) FILTER (WHERE status = 'answered'), 0) AS answered,
                    coalesce(sum(messages) FILTER (WHERE status = 'failed'), 0) AS failed
             FROM message_counts",
            [],
            |r| {
                Ok(MessageCounts {
                    total: r.get("total")?,
                    inbound: r.get("inbound")?,
                    outbound: r.get("outbound")?,
                    pending: r.get("pending")?,
                    answered: r.get("answered")?,
                    failed: r.get("failed")?,
                })
            },
        )?;
        let count = |sql: &str| -> Result<i64> { Ok(conn.query_row(sql, [], |r| r.get("n"))?) };
        let outbox = conn.query_row(
            "SELECT coalesce(sum(status = 'pending'), 0) AS pending,
                    coalesce(sum(status = 'accepted'), 0) AS accepted,
                    coalesce(sum(status = 'delivered'), 0) AS delivered,
                    coalesce(sum(status = 'unconfirmed'), 0) AS unconfirmed,
                    coalesce(sum(status = 'failed'), 0) AS failed,
                    coalesce(sum(status = 'failed' AND error_code = '463'), 0) AS reachout_refused,
                    coalesce(sum(status = 'written'), 0) AS written,
                    coalesce(sum(status = 'failed' AND error_code IN ('63016', '131047')), 0)
                        AS outside_window
             FROM outbox",
            [],
            |r| {
                Ok(OutboxCounts {
                    pending: r.get("pending")?,
                    accepted: r.get("accepted")?,
                    delivered: r.get("delivered")?,
                    unconfirmed: r.get("unconfirmed")?,
                    failed: r.get("failed")?,
                    reachout_refused: r.get("reachout_refused")?,
                    written: r.get("written")?,
                    outside_window: r.get("outside_window")?,
                    recent_failures: Vec::new(),
                })
            },
        )?;
        let active_sessions = conn.query_row(
            "SELECT count(*) AS n FROM chat_sessions WHERE expires_at > ?1",
            [clock::now_ms()],
            |r| r.get("n"),
        )?;
        let mut top = conn.prepare(
            // `n`, not `messages`: HAVING would read that name as the column, not the sum.
            "SELECT chat_jid, sum(messages) AS n FROM message_counts GROUP BY chat_jid
             HAVING n > 0 ORDER BY n DESC, chat_jid LIMIT ?1",
        )?;
        let top_chats = top
            .query_map([TOP_CHATS], |r| {
                Ok(ChatCount {
                    chat_jid: r.get("chat_jid")?,
                    messages: r.get("n")?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let outbox = OutboxCounts {
            recent_failures: self.recent_failures()?,
            ..outbox
        };
        Ok(Stats {
            paused: self.is_paused()?,
            messages,
            chats: count("SELECT count(*) AS n FROM chats")?,
            contacts: count("SELECT count(*) AS n FROM contacts")?,
            sessions: SessionCounts {
                active: active_sessions,
            },
            outbox,
            database: self.files()?,
            last_message_at: conn.query_row(
                "SELECT max(last_activity) AS at FROM chats",
                [],
                |r| r.get("at"),
            )?,
            top_chats,
            quarantined: self.quarantine_count()?,
            transcripts: self.transcript_counts()?,
            history_chunks: self.history_chunk_counts()?,
            listener: self.listener_state()?,
            sync: self.sync_summary()?,
            llm: LlmUsage {
                today: self.llm_usage_since(today_start)?,
                last_7_days: self.llm_usage_since(today_start - 6 * DAY_MS)?,
                total: self.llm_usage_since(0)?,
            },
            jobs: self.last_jobs()?,
        })
    }

    /// Calls since `since`, the ones cleanup folded into days included (by whole UTC day).
    fn llm_usage_since(&self, since: i64) -> Result<UsageFigures> {
        Ok(self.conn.query_row(
            "SELECT coalesce(sum(calls), 0) AS calls, coalesce(sum(i), 0) AS input_tokens,
                    coalesce(sum(o), 0) AS output_tokens, sum(cost) AS cost_usd,
                    coalesce(sum(answers), 0) AS answers,
                    coalesce(sum(sourced), 0) AS answers_with_sources,
                    coalesce(sum(cut), 0) AS cut_short
             FROM (SELECT count(*) AS calls, sum(prompt_tokens) AS i,
                          sum(completion_tokens) AS o, sum(cost) AS cost,
                          sum(outcome = 'ok') AS answers, sum(sources > 0) AS sourced,
                          sum(note LIKE 'cut short%') AS cut
                   FROM llm_calls WHERE created_at >= ?1
                   UNION ALL
                   SELECT sum(calls), sum(input_tokens), sum(output_tokens), sum(cost),
                          0, 0, 0
                   FROM llm_usage_days WHERE day >= ?1 - ?1 % 86400000)",
            [since],
            |r| {
                Ok(UsageFigures {
                    calls: r.get("calls")?,
                    input_tokens: r.get("input_tokens")?,
                    output_tokens: r.get("output_tokens")?,
                    cost_usd: r.get("cost_usd")?,
                    answers: r.get("answers")?,
                    answers_with_sources: r.get("answers_with_sources")?,
                    cut_short: r.get("cut_short")?,
                })
            },
        )?)
    }

    fn recent_failures(&self) -> Result<Vec<OutboxFailure>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, chat_jid, kind, last_error, updated_at FROM outbox
             WHERE status = 'failed' ORDER BY updated_at DESC LIMIT 5",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(OutboxFailure {
                    id: r.get("id")?,
                    chat_jid: r.get("chat_jid")?,
                    kind: r.get("kind")?,
                    last_error: r.get("last_error")?,
                    updated_at: r.get("updated_at")?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn listener_state(&self) -> Result<ListenerState> {
        let now = clock::now_ms();
        let beat = self.heartbeat()?;
        let alive = beat.as_ref().is_some_and(|b| b.is_fresh(now));
        Ok(ListenerState {
            alive,
            connected: alive && beat.as_ref().is_some_and(|b| b.connected),
            uptime_seconds: beat
                .as_ref()
                .filter(|_| alive)
                .map(|b| (now - b.started_at) / 1000),
            state: beat.as_ref().map(|b| b.state),
            detail: beat.as_ref().and_then(|b| b.detail.clone()),
            pid: beat.as_ref().map(|b| b.pid),
            last_heartbeat_at: beat.as_ref().map(|b| b.updated_at),
            last_event_at: beat.and_then(|b| b.last_event_at),
        })
    }

    fn sync_summary(&self) -> Result<SyncSummary> {
        let mut stmt = self
            .conn
            .prepare("SELECT state, count(*) AS n FROM sync_checkpoints GROUP BY state")?;
        let checkpoints = stmt
            .query_map([], |r| Ok((r.get("state")?, r.get("n")?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(self.conn.query_row(
            "SELECT is_syncing, is_latest, last_sync_time, messages_synced FROM sync_status WHERE id = 1",
            [],
            |r| {
                Ok(SyncSummary {
                    is_syncing: r.get("is_syncing")?,
                    is_latest: r.get("is_latest")?,
                    last_sync_time: r.get("last_sync_time")?,
                    messages_synced: r.get("messages_synced")?,
                    checkpoints,
                })
            },
        )?)
    }

    fn last_jobs(&self) -> Result<BTreeMap<&'static str, Option<JobSummary>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT started_at, finished_at, outcome, summary FROM job_runs
             WHERE job = ?1 ORDER BY started_at DESC, id DESC LIMIT 1",
        )?;
        let mut jobs = BTreeMap::new();
        for job in JOBS {
            let last = stmt
                .query_row([job], |r| {
                    let summary: Option<String> = r.get("summary")?;
                    Ok(JobSummary {
                        started_at: r.get("started_at")?,
                        finished_at: r.get("finished_at")?,
                        outcome: r
                            .get::<_, Option<String>>("outcome")?
                            .unwrap_or_else(|| "unfinished".into()),
                        summary: summary.and_then(|s| serde_json::from_str(&s).ok()),
                    })
                })
                .optional()?;
            jobs.insert(job, last);
        }
        Ok(jobs)
    }

    fn files(&self) -> Result<DatabaseFiles> {
        let size = |suffix: &str| {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            std::fs::metadata(name).map_or(0, |m| m.len())
        };
        Ok(DatabaseFiles {
            path: self.path.display().to_string(),
            size_bytes: size(""),
            wal_bytes: size("-wal"),
            schema_version: self.user_version()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The figures counted straight from the messages table.
    fn counted(db: &Db) -> [i64; 6] {
        db.conn
            .query_row(
                "SELECT count(*) AS total, coalesce(sum(is_from_me = 0), 0) AS inbound,
                        coalesce(sum(is_from_me = 1), 0) AS outbound,
                        coalesce(sum(status = 'pending'), 0) AS pending,
                        coalesce(sum(status = 'answered'), 0) AS answered,
                        coalesce(sum(status = 'failed'), 0) AS failed
                 FROM messages",
                [],
                |r| {
                    let n = |name: &str| r.get::<_, i64>(name);
                    Ok([
                        n("total")?,
                        n("inbound")?,
                        n("outbound")?,
                        n("pending")?,
                        n("answered")?,
                        n("failed")?,
                    ])
                },
            )
            .unwrap()
    }

    fn reported(db: &Db) -> [i64; 6] {
        let m = db.stats().unwrap().messages;
        [
            m.total, m.inbound, m.outbound, m.pending, m.answered, m.failed,
        ]
    }

    fn top(db: &Db) -> Vec<(String, i64)> {
        let stats = db.stats().unwrap();
        stats
            .top_chats
            .into_iter()
            .map(|c| (c.chat_jid, c.messages))
            .collect()
    }

    #[test]
    fn counts_follow_inserts_updates_moves_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("w.db")).unwrap();
        let steps = [
            "INSERT INTO messages (chat_jid, id, sender, timestamp, is_from_me, status, created_at)
                 VALUES ('a', '1', 'a', 1, 0, 'pending', 1), ('a', '2', 'me', 2, 1, 'history', 1),
                        ('b', '1', 'b', 3, 0, 'pending', 1), ('lid', '1', 'lid', 4, 0, 'history', 1),
                        ('lid', '9', 'lid', 5, 0, 'failed', 1)",
            "UPDATE messages SET status = 'answered' WHERE chat_jid = 'a' AND id = '1'",
            "UPDATE messages SET status = 'failed', last_error = 'x' WHERE chat_jid = 'b'",
            // Touching the counted columns without changing them changes nothing.
            "UPDATE messages SET status = status, chat_jid = chat_jid",
            "INSERT INTO messages (chat_jid, id, sender, timestamp, status, created_at)
                 VALUES ('b', '1', 'b', 3, 'pending', 1)
                 ON CONFLICT (chat_jid, id) DO UPDATE SET status = excluded.status",
            // A move of identity: the row that would collide stays behind and is deleted.
            "INSERT INTO messages (chat_jid, id, sender, timestamp, created_at)
                 VALUES ('phone', '1', 'phone', 4, 1)",
            "UPDATE OR IGNORE messages SET chat_jid = 'phone' WHERE chat_jid = 'lid'",
            "DELETE FROM messages WHERE chat_jid = 'lid'",
            "DELETE FROM messages WHERE chat_jid = 'a' AND id = '2'",
        ];
        for sql in steps {
            db.conn.execute_batch(sql).unwrap();
            assert_eq!(reported(&db), counted(&db), "after {sql}");
        }
        assert_eq!(
            top(&db),
            [
                ("phone".to_string(), 2),
                ("a".to_string(), 1),
                ("b".to_string(), 1)
            ]
        );
        db.conn.execute_batch("DELETE FROM messages").unwrap();
        assert_eq!(reported(&db), [0; 6]);
        assert!(
            top(&db).is_empty(),
            "chats without messages are not top chats"
        );
    }

    #[test]
    fn upgrading_counts_the_archive_already_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            let before = super::super::MIGRATIONS
                .iter()
                .position(|sql| sql.contains("CREATE TABLE message_counts"))
                .unwrap();
            for sql in &super::super::MIGRATIONS[..before] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", before as i64)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO messages (chat_jid, id, sender, timestamp, is_from_me, status, created_at)
                     VALUES ('a', '1', 'a', 1, 0, 'answered', 1), ('a', '2', 'me', 2, 1, 'history', 1),
                            ('b', '1', 'b', 3, 0, 'pending', 1)",
            )
            .unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(reported(&db), [3, 2, 1, 1, 1, 0]);
        assert_eq!(top(&db), [("a".to_string(), 2), ("b".to_string(), 1)]);
    }
}
