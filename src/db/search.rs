//! Full-text search over stored messages and voice-note transcripts (FTS5, ranked by
//! bm25).

use anyhow::Result;
use rusqlite::params;
use serde::Serialize;

use super::Db;
use crate::error::{self, Kind};

#[derive(Debug, Default)]
pub struct SearchFilter<'a> {
    pub chat: Option<&'a str>,
    pub sender: Option<&'a str>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: usize,
}

#[derive(Debug, Serialize)]
pub struct Hit {
    pub chat_jid: String,
    pub id: String,
    pub sender: String,
    pub timestamp: i64,
    pub is_from_me: bool,
    pub content: String,
    /// What a voice note said, when it was transcribed.
    pub transcript: Option<String>,
    /// The matching part (of the text or the transcript), with the matched terms in
    /// [brackets].
    pub snippet: String,
}

impl Db {
    /// Searches with FTS5 query syntax: words, "phrases", prefix*, AND/OR/NOT. A
    /// malformed query is a usage error (exit 2) that quotes SQLite's complaint.
    pub fn search(&self, query: &str, filter: &SearchFilter) -> Result<Vec<Hit>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.chat_jid, m.id, m.sender, m.timestamp, m.content, m.is_from_me,
                    snippet(messages_fts, -1, '[', ']', '…', 16), m.transcript
             FROM messages_fts JOIN messages m ON m.pk = messages_fts.rowid
             WHERE messages_fts MATCH ?1
               AND (?2 IS NULL OR m.chat_jid = ?2) AND (?3 IS NULL OR m.sender = ?3)
               AND (?4 IS NULL OR m.timestamp >= ?4) AND (?5 IS NULL OR m.timestamp < ?5)
             ORDER BY bm25(messages_fts), m.timestamp DESC
             LIMIT ?6",
        )?;
        let rows = stmt
            .query_map(
                params![
                    query,
                    filter.chat,
                    filter.sender,
                    filter.since,
                    filter.until,
                    filter.limit as i64
                ],
                |r| {
                    Ok(Hit {
                        chat_jid: r.get(0)?,
                        id: r.get(1)?,
                        sender: r.get(2)?,
                        timestamp: r.get(3)?,
                        content: r.get(4)?,
                        is_from_me: r.get(5)?,
                        snippet: r.get(6)?,
                        transcript: r.get(7)?,
                    })
                },
            )
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>());
        rows.map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::Unknown) | None => error::failure(
                Kind::Usage,
                format!(
                    "malformed search query {}: {e}",
                    error::bounded(&format!("{query:?}"), 120)
                ),
            ),
            _ => e.into(),
        })
    }
}
