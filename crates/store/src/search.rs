//! Full-text search over stored messages and voice-note transcripts (FTS5): newest
//! first, or by relevance (bm25) among the newest matches.
//!
//! A common word matches most of a large archive, and sorting or ranking every match
//! costs time in proportion to the archive. Both orders therefore look at a window of
//! the newest messages first (by message time, through an index) and ask the full-text
//! index only for the matches whose rowids fall in that window's range; the window
//! widens eightfold until it holds enough matches or the whole archive. A rare word
//! (fewer than `FEW_MATCHES` matches in all) skips the windows and is sorted whole; in
//! one chat, the chat's newest messages are first checked one by one.

use std::collections::HashMap;

use crate::Result;
use rusqlite::params;

use super::Db;
use crate::error::Error;

/// How many of the newest matches `--rank` ranks by default.
pub const RANK_AMONG: usize = 1_000;
/// The first window: this many of the newest messages (or 4× the matches wanted).
const FIRST_WINDOW: i64 = 2_048;
const GROWTH: i64 = 8;
/// A query with fewer matches than this in the whole archive is sorted whole at once.
const FEW_MATCHES: i64 = 4_096;
/// How many of a chat's newest messages are checked one by one before the windows.
const PROBES: i64 = 64;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum SearchOrder {
    /// Newest message first (by message time).
    #[default]
    Newest,
    /// Best bm25 score first, among the newest `among` matches (so at most `among` hits).
    Relevance { among: usize },
}

#[derive(Debug, Default)]
pub struct SearchFilter<'a> {
    pub chat: Option<&'a str>,
    pub sender: Option<&'a str>,
    /// Only what this author wrote, by the name stored with the message (group exports
    /// name their members that way), case-insensitive.
    pub author: Option<&'a str>,
    /// Only the account's own messages.
    pub from_me: bool,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: usize,
    pub order: SearchOrder,
}

#[derive(Debug)]
pub struct Hit {
    pub chat_jid: String,
    pub id: String,
    pub sender: String,
    /// The name the message was stored with (WhatsApp's push name, an export's author).
    pub author: Option<String>,
    pub timestamp: i64,
    pub is_from_me: bool,
    pub content: String,
    /// `text`, `image`, `audio`, … as stored.
    pub message_type: wabot_core::kind::MessageKind,
    /// What a voice note said, when it was transcribed.
    pub transcript: Option<String>,
    /// The matching part (of the text or the transcript), with the matched terms in
    /// [brackets].
    pub snippet: String,
    /// Deleted for everyone: its text is the one kept among its versions.
    pub deleted: bool,
}

/// A match: the message's rowid and time.
#[derive(Debug, Clone, Copy)]
struct Found {
    pk: i64,
    timestamp: i64,
}

/// The newest messages in scope: those at or after `floor`, with rowids in `lo..=hi`.
struct Window {
    floor: i64,
    lo: i64,
    hi: i64,
    /// The window holds every message in scope.
    whole: bool,
}

/// Which messages a window may hold: `?1` chat (or NULL), `?2` since, `?3` until.
const SCOPE_ALL: &str = "?1 IS NULL AND timestamp >= ?2 AND timestamp < ?3";
/// One of a chat's newest messages, as a probe judges it against the filter.
struct Probed {
    pk: i64,
    timestamp: i64,
    sender: String,
    push_name: Option<String>,
    is_from_me: bool,
}

impl SearchFilter<'_> {
    /// The filter's sender, author and direction, as the SQL of the windows applies them.
    fn admits(&self, m: &Probed) -> bool {
        self.sender.is_none_or(|s| s == m.sender)
            && self.author.is_none_or(|a| {
                m.push_name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(a))
            })
            && (!self.from_me || m.is_from_me)
    }
}

const SCOPE_CHAT: &str = "chat_jid = ?1 AND timestamp >= ?2 AND timestamp < ?3";

impl Db {
    /// Searches with FTS5 query syntax: words, "phrases", prefix*, AND/OR/NOT. A
    /// malformed query is a usage error (exit 2) that quotes SQLite's complaint.
    pub fn search(&self, query: &str, filter: &SearchFilter) -> Result<Vec<Hit>> {
        // One snapshot for the windows and the rows, whatever cleanup does meanwhile.
        let _snapshot = self.conn.unchecked_transaction()?;
        let found = match filter.order {
            SearchOrder::Newest => self.newest_matches(query, filter, filter.limit),
            SearchOrder::Relevance { among } => self
                .newest_matches(query, filter, among)
                .and_then(|newest| self.best_of(query, &newest, filter.limit)),
        }
        .map_err(|e| malformed(query, e))?;
        let mut hydrate = self.conn.prepare_cached(
            "SELECT m.chat_jid, m.id, m.sender, m.push_name, m.timestamp, m.content, m.is_from_me,
                    m.message_type, snippet(messages_fts, -1, '[', ']', '…', 16) AS snippet, m.transcript
             FROM messages_fts CROSS JOIN messages m ON m.pk = messages_fts.rowid
             WHERE messages_fts MATCH ?1 AND messages_fts.rowid = ?2",
        )?;
        let mut hits = Vec::with_capacity(found.len());
        for f in found {
            hits.push(hydrate.query_row(params![query, f.pk], |r| {
                Ok(Hit {
                    chat_jid: r.get("chat_jid")?,
                    id: r.get("id")?,
                    sender: r.get("sender")?,
                    author: r.get("push_name")?,
                    deleted: false,
                    timestamp: r.get("timestamp")?,
                    content: r.get("content")?,
                    message_type: crate::columns::parsed(r, "message_type")?,
                    is_from_me: r.get("is_from_me")?,
                    snippet: r.get("snippet")?,
                    transcript: r.get("transcript")?,
                })
            })?);
        }
        Ok(hits)
    }

    /// The `wanted` newest matches in scope, newest first (ties: the later stored first).
    fn newest_matches(
        &self,
        query: &str,
        filter: &SearchFilter,
        wanted: usize,
    ) -> rusqlite::Result<Vec<Found>> {
        let since = filter.since.unwrap_or(i64::MIN);
        let until = filter.until.unwrap_or(i64::MAX);
        let wanted = i64::try_from(wanted).unwrap_or(i64::MAX);
        let mut matches = self.conn.prepare_cached(
            "SELECT m.pk, m.timestamp
             FROM messages_fts CROSS JOIN messages m ON m.pk = messages_fts.rowid
             WHERE messages_fts MATCH ?1 AND messages_fts.rowid BETWEEN ?2 AND ?3
               AND m.timestamp >= ?4 AND m.timestamp < ?5
               AND (?6 IS NULL OR m.chat_jid = ?6) AND (?7 IS NULL OR m.sender = ?7)
               AND (?9 IS NULL OR m.push_name = ?9 COLLATE NOCASE) AND (NOT ?10 OR m.is_from_me)
             ORDER BY m.timestamp DESC, m.pk DESC
             LIMIT ?8",
        )?;
        let mut run = |w: &Window| -> rusqlite::Result<Vec<Found>> {
            matches
                .query_map(
                    params![
                        query,
                        w.lo,
                        w.hi,
                        w.floor.max(since),
                        until,
                        filter.chat,
                        filter.sender,
                        wanted,
                        filter.author,
                        filter.from_me
                    ],
                    |r| {
                        Ok(Found {
                            pk: r.get("pk")?,
                            timestamp: r.get("timestamp")?,
                        })
                    },
                )?
                .collect()
        };
        if self.fewer_matches_than(query, FEW_MATCHES.max(wanted))? {
            return run(&Window {
                floor: since,
                lo: i64::MIN,
                hi: i64::MAX,
                whole: true,
            });
        }
        if let Some(chat) = filter.chat
            && let Some(found) = self.probe_newest(query, chat, filter, wanted)?
        {
            return Ok(found);
        }
        let mut size = FIRST_WINDOW.max(wanted.saturating_mul(4));
        loop {
            let window = self.window(filter.chat, since, until, size)?;
            let found = run(&window)?;
            if window.whole || found.len() as i64 >= wanted {
                return Ok(found);
            }
            size = size.saturating_mul(GROWTH);
        }
    }

    /// One chat's messages are spread over the whole archive, so its window's row range
    /// holds most of the archive's matches. A word common in the chat is found sooner by
    /// asking the index about the chat's newest messages one by one, up to `PROBES` of
    /// them; `None` when they hold fewer than `wanted` matches.
    fn probe_newest(
        &self,
        query: &str,
        chat: &str,
        filter: &SearchFilter,
        wanted: i64,
    ) -> rusqlite::Result<Option<Vec<Found>>> {
        if wanted > PROBES {
            return Ok(None);
        }
        let mut newest = self.conn.prepare_cached(&format!(
            "SELECT pk, timestamp, sender, push_name, is_from_me FROM messages WHERE {SCOPE_CHAT}
             ORDER BY timestamp DESC, pk DESC LIMIT ?4"
        ))?;
        let rows = newest
            .query_map(
                params![
                    chat,
                    filter.since.unwrap_or(i64::MIN),
                    filter.until.unwrap_or(i64::MAX),
                    PROBES
                ],
                |r| {
                    Ok(Probed {
                        pk: r.get("pk")?,
                        timestamp: r.get("timestamp")?,
                        sender: r.get("sender")?,
                        push_name: r.get("push_name")?,
                        is_from_me: r.get("is_from_me")?,
                    })
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut probe = self.conn.prepare_cached(
            "SELECT 1 FROM messages_fts WHERE messages_fts MATCH ?1 AND rowid = ?2",
        )?;
        let mut found = Vec::new();
        for row in rows {
            if !filter.admits(&row) || !probe.exists(params![query, row.pk])? {
                continue;
            }
            found.push(Found {
                pk: row.pk,
                timestamp: row.timestamp,
            });
            if found.len() as i64 >= wanted {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Whether the query matches fewer than `cap` messages in the whole archive (it
    /// counts at most `cap`).
    fn fewer_matches_than(&self, query: &str, cap: i64) -> rusqlite::Result<bool> {
        let n: i64 = self.conn.prepare_cached(
            "SELECT count(*) AS n FROM (SELECT 1 FROM messages_fts WHERE messages_fts MATCH ?1 LIMIT ?2)",
        )?
        .query_row(params![query, cap], |r| r.get("n"))?;
        Ok(n < cap)
    }

    /// The newest `size` messages in scope (more when several share the oldest time).
    fn window(
        &self,
        chat: Option<&str>,
        since: i64,
        until: i64,
        size: i64,
    ) -> rusqlite::Result<Window> {
        let scope = if chat.is_some() {
            SCOPE_CHAT
        } else {
            SCOPE_ALL
        };
        let mut edge = self.conn.prepare_cached(&format!(
            "SELECT min(timestamp) AS floor, count(*) AS n FROM
                 (SELECT timestamp FROM messages WHERE {scope} ORDER BY timestamp DESC LIMIT ?4)"
        ))?;
        let (floor, n): (Option<i64>, i64) = edge
            .query_row(params![chat, since, until, size], |r| {
                Ok((r.get("floor")?, r.get("n")?))
            })?;
        let Some(floor) = floor else {
            // Nothing in scope: an empty range, which still has the query checked.
            return Ok(Window {
                floor: since,
                lo: 1,
                hi: 0,
                whole: true,
            });
        };
        // The floor is within scope, so it replaces `since`: one lower bound, which the
        // planner uses for the index range (given two, it may pick the looser one).
        let mut range = self.conn.prepare_cached(&format!(
            "SELECT min(pk) AS lo, max(pk) AS hi FROM messages WHERE {scope}"
        ))?;
        let (lo, hi) = range.query_row(params![chat, floor, until], |r| {
            Ok((r.get("lo")?, r.get("hi")?))
        })?;
        Ok(Window {
            floor,
            lo,
            hi,
            whole: n < size,
        })
    }

    /// The `limit` best of `newest` by bm25 (ties: newest first).
    fn best_of(&self, query: &str, newest: &[Found], limit: usize) -> rusqlite::Result<Vec<Found>> {
        let (Some(lo), Some(hi)) = (
            newest.iter().map(|f| f.pk).min(),
            newest.iter().map(|f| f.pk).max(),
        ) else {
            return Ok(Vec::new());
        };
        let wanted: HashMap<i64, Found> = newest.iter().map(|f| (f.pk, *f)).collect();
        let mut scores = self.conn.prepare_cached(
            "SELECT rowid AS pk, bm25(messages_fts) AS score FROM messages_fts
             WHERE messages_fts MATCH ?1 AND rowid BETWEEN ?2 AND ?3",
        )?;
        let mut scored: Vec<(f64, Found)> = scores
            .query_map(params![query, lo, hi], |r| {
                Ok((r.get::<_, i64>("pk")?, r.get::<_, f64>("score")?))
            })?
            .filter_map(|row| match row {
                Ok((pk, score)) => wanted.get(&pk).map(|f| Ok((score, *f))),
                Err(e) => Some(Err(e)),
            })
            .collect::<rusqlite::Result<_>>()?;
        // bm25 is lower for better matches.
        scored.sort_by(|(a, x), (b, y)| {
            a.total_cmp(b)
                .then(y.timestamp.cmp(&x.timestamp))
                .then(y.pk.cmp(&x.pk))
        });
        Ok(scored.into_iter().take(limit).map(|(_, f)| f).collect())
    }
}

/// SQLite reports a bad FTS5 expression with a generic error code: that is the user's
/// query, not a fault.
fn malformed(query: &str, source: rusqlite::Error) -> Error {
    match source.sqlite_error_code() {
        Some(rusqlite::ErrorCode::Unknown) | None => Error::Query {
            query: wabot_core::error::bounded(&format!("{query:?}"), 120),
            source,
        },
        _ => source.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 14 000 messages in 4 chats whose stored order is not their time order: a block
    /// of old history stored last, a few of the newest messages stored first, and runs
    /// of equal times. `common` is in 3 of 5, `medium` in 1 of 16 (the few-matches
    /// path), `old` only in the old history (more than FEW_MATCHES: the windows widen
    /// to the whole archive), `rare` in 3.
    fn archive() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let tx = db.write().unwrap();
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO messages (chat_jid, id, sender, content, timestamp, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                )
                .unwrap();
            let mut add = |i: i64, ts: i64, words: &str| {
                let chat = format!("c{}", i % 4);
                let sender = format!("s{}", i % 3);
                insert
                    .execute(params![chat, format!("m{i}"), sender, words, ts])
                    .unwrap();
            };
            for i in 0..5 {
                add(i, 10_000_000 + i, "common medium rare newest stored first");
            }
            for i in 5..9_000 {
                let mut words = vec!["filler"];
                if i % 5 < 3 {
                    words.push("common");
                }
                if i % 16 == 0 {
                    words.push("medium");
                }
                if i % 4_000 == 0 {
                    words.push("rare");
                }
                // Runs of ten messages share a time.
                add(i, 1_000_000 + i / 10 * 10, &words.join(" "));
            }
            for i in 9_000..14_000 {
                add(i, i - 9_000, "old history common common");
            }
        }
        tx.commit().unwrap();
        (dir, db)
    }

    /// The plain answer: every match sorted by time.
    fn brute_newest(db: &Db, query: &str, f: &SearchFilter, n: usize) -> Vec<i64> {
        let mut stmt = db
            .conn
            .prepare(
                "SELECT m.pk FROM messages_fts JOIN messages m ON m.pk = messages_fts.rowid
                 WHERE messages_fts MATCH ?1 AND (?2 IS NULL OR m.chat_jid = ?2)
                   AND (?3 IS NULL OR m.sender = ?3) AND (?4 IS NULL OR m.timestamp >= ?4)
                   AND (?5 IS NULL OR m.timestamp < ?5)
                   AND (?7 IS NULL OR m.push_name = ?7 COLLATE NOCASE) AND (NOT ?8 OR m.is_from_me)
                 ORDER BY m.timestamp DESC, m.pk DESC LIMIT ?6",
            )
            .unwrap();
        stmt.query_map(
            params![
                query, f.chat, f.sender, f.since, f.until, n as i64, f.author, f.from_me
            ],
            |r| r.get("pk"),
        )
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    /// The plain answer for --rank: bm25 over every match, kept to the newest `among`.
    fn brute_ranked(db: &Db, query: &str, f: &SearchFilter, among: usize) -> Vec<i64> {
        let newest = brute_newest(db, query, f, among);
        let mut stmt = db
            .conn
            .prepare(
                "SELECT m.pk FROM messages_fts JOIN messages m ON m.pk = messages_fts.rowid
                 WHERE messages_fts MATCH ?1
                 ORDER BY bm25(messages_fts), m.timestamp DESC, m.pk DESC",
            )
            .unwrap();
        let all: Vec<i64> = stmt
            .query_map(params![query], |r| r.get("pk"))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        all.into_iter()
            .filter(|pk| newest.contains(pk))
            .take(f.limit)
            .collect()
    }

    fn pks(db: &Db, hits: &[Hit]) -> Vec<i64> {
        hits.iter()
            .map(|h| {
                db.conn
                    .query_row(
                        "SELECT pk FROM messages WHERE chat_jid = ?1 AND id = ?2",
                        params![h.chat_jid, h.id],
                        |r| r.get("pk"),
                    )
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn both_orders_give_the_plain_answer_whatever_the_stored_order() {
        let (_dir, db) = archive();
        let filters = [
            (None, None, None, None),
            (Some("c1"), None, None, None),
            (None, Some("s2"), None, None),
            (Some("c2"), Some("s0"), None, None),
            (None, None, Some(1_004_000), Some(1_006_000)),
            (Some("c3"), None, None, Some(1_002_000)),
            (None, None, Some(10_000_002), None),
        ];
        for query in [
            "common",
            "medium",
            "old",
            "rare",
            "newest",
            "nothing",
            "common NOT old",
        ] {
            for &(chat, sender, since, until) in &filters {
                for limit in [1, 20, 100] {
                    let mut f = SearchFilter {
                        chat,
                        sender,
                        since,
                        until,
                        limit,
                        order: SearchOrder::Newest,
                        ..Default::default()
                    };
                    let case = format!("{query:?} {chat:?} {sender:?} {since:?} {until:?} {limit}");
                    let hits = db.search(query, &f).unwrap();
                    assert_eq!(
                        pks(&db, &hits),
                        brute_newest(&db, query, &f, limit),
                        "{case}"
                    );
                    for among in [1, 1_000] {
                        f.order = SearchOrder::Relevance { among };
                        let hits = db.search(query, &f).unwrap();
                        assert_eq!(
                            pks(&db, &hits),
                            brute_ranked(&db, query, &f, among),
                            "{case} among {among}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_newest_message_comes_first_even_when_stored_first() {
        let (_dir, db) = archive();
        let f = SearchFilter {
            limit: 3,
            ..Default::default()
        };
        let hits = db.search("common", &f).unwrap();
        let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["m4", "m3", "m2"]);
        assert!(hits[0].snippet.contains("[common]"), "{}", hits[0].snippet);
    }

    #[test]
    fn a_malformed_query_is_refused_even_where_nothing_could_match() {
        let (_dir, db) = archive();
        let f = SearchFilter {
            chat: Some("no such chat"),
            limit: 5,
            ..Default::default()
        };
        let err = db.search("\"unclosed", &f).unwrap_err();
        assert!(
            format!("{err:#}").contains("malformed search query"),
            "{err:#}"
        );
        assert!(db.search("common", &f).unwrap().is_empty());
    }
}
