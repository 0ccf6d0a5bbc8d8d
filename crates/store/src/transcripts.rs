//! What a turn's media files say: voice-note transcripts (stored on the message, so the
//! full-text index has them) and the bookkeeping of their transcription.

use crate::Result;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::Db;
use super::media::{COLUMNS, MediaRow};
use crate::clock;

/// A media file together with what its message says about it.
#[derive(Debug, Clone)]
pub struct MessageMedia {
    pub file: MediaRow,
    /// The message's text as stored (`[voice note]`, `[image] caption`, …).
    pub content: String,
    pub transcript: Option<String>,
}

/// Which stored voice notes `media transcribe` takes.
#[derive(Debug, Default)]
pub struct Untranscribed<'a> {
    pub chat: Option<&'a str>,
    pub since: Option<i64>,
    pub limit: usize,
}

/// Transcription figures for `stats`.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct TranscriptCounts {
    /// Audio messages whose transcript is stored.
    pub transcribed: i64,
    /// Audio files that could not be transcribed (retries spent, or refused for good).
    pub failed: i64,
    /// Downloaded audio files not transcribed yet (`wabot media transcribe` does them).
    pub waiting: i64,
}

impl MessageMedia {
    /// A row of [`select`]: no media column shares a name with the message's two.
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(MessageMedia {
            file: MediaRow::from_row(r)?,
            content: r.get("content")?,
            transcript: r.get("transcript")?,
        })
    }
}

/// The media columns, then the message's content and transcript. The media rows lead
/// (CROSS JOIN fixes the order): given a chat, SQLite would otherwise walk every message
/// of it and probe for media, on every turn.
fn select() -> String {
    let columns = COLUMNS
        .split(',')
        .map(|c| format!("f.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {columns}, m.content, m.transcript
         FROM media_files f CROSS JOIN messages m ON m.chat_jid = f.chat_jid AND m.id = f.message_id"
    )
}

impl Db {
    /// The media files of some messages of one chat.
    pub fn media_of_messages(&self, chat_jid: &str, ids: &[&str]) -> Result<Vec<MessageMedia>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{} WHERE f.chat_jid = ?1 AND f.message_id IN (SELECT value FROM json_each(?2))
             ORDER BY m.timestamp, m.id",
            select()
        ))?;
        let rows = stmt.query_map(
            params![chat_jid, serde_json::json!(ids).to_string()],
            MessageMedia::from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Downloaded audio not transcribed yet (and not given up on, nor view-once),
    /// oldest first.
    pub fn untranscribed(&self, filter: &Untranscribed) -> Result<Vec<MessageMedia>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{} WHERE f.media_type = 'audio' AND f.download_state = 'done' AND f.view_once = 0
               AND f.transcript_state IS NULL AND m.transcript IS NULL
               AND (?1 IS NULL OR f.chat_jid = ?1) AND (?2 IS NULL OR m.timestamp >= ?2)
             ORDER BY m.timestamp, m.id LIMIT ?3",
            select()
        ))?;
        let rows = stmt.query_map(
            params![filter.chat, filter.since, filter.limit as i64],
            MessageMedia::from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores a transcript on its message (where search finds it) and marks the file
    /// done, in one transaction: a paid transcription is never asked for twice.
    pub fn save_transcript(&mut self, media_id: i64, text: &str) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "UPDATE messages SET transcript = ?2
                 WHERE (chat_jid, id) = (SELECT chat_jid, message_id FROM media_files WHERE id = ?1)",
                params![media_id, text],
            )?;
            tx.execute(
                "UPDATE media_files SET transcript_state = 'done', transcript_error = NULL,
                     transcript_attempts = transcript_attempts + 1, updated_at = ?2
                 WHERE id = ?1",
                params![media_id, clock::now_ms()],
            )?;
            Ok(())
        })
    }

    /// Records a failed transcription. It fails for good when retrying cannot help
    /// (`final_`) or after `max_attempts`; returns whether it did.
    pub fn transcript_failed(
        &mut self,
        media_id: i64,
        error: &str,
        final_: bool,
        max_attempts: i64,
    ) -> Result<bool> {
        self.in_write(|tx| {
            let state: Option<String> = tx
                .query_row(
                    "UPDATE media_files SET transcript_attempts = transcript_attempts + 1,
                         transcript_error = ?2, updated_at = ?3,
                         transcript_state = CASE WHEN ?4 OR transcript_attempts + 1 >= ?5
                             THEN 'failed' END
                     WHERE id = ?1 RETURNING transcript_state",
                    params![media_id, error, clock::now_ms(), final_, max_attempts],
                    |r| r.get("transcript_state"),
                )
                .optional()?
                .flatten();
            Ok(state.is_some())
        })
    }

    pub fn transcript_counts(&self) -> Result<TranscriptCounts> {
        Ok(self.conn.query_row(
            // Counted on the media rows, not the messages: `stats` must not scan the archive.
            "SELECT
                 count(*) FILTER (WHERE transcript_state = 'done') AS transcribed,
                 count(*) FILTER (WHERE transcript_state = 'failed') AS failed,
                 count(*) FILTER (WHERE transcript_state IS NULL AND download_state = 'done'
                     AND view_once = 0) AS waiting
             FROM media_files WHERE media_type = 'audio'",
            [],
            |r| {
                Ok(TranscriptCounts {
                    transcribed: r.get("transcribed")?,
                    failed: r.get("failed")?,
                    waiting: r.get("waiting")?,
                })
            },
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attachment::Media;
    use crate::message::{MessageKind, MessageStatus, NewMessage, Origin};

    /// A database with one voice note kept in the media store, as an export import
    /// leaves it.
    fn voice_note() -> (tempfile::TempDir, Db, i64) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let media = Media {
            kind: "audio",
            mimetype: Some("audio/ogg".into()),
            size_bytes: Some(4),
            sha256: Some("ab".repeat(32)),
            caption: None,
            file_name: Some("PTT-1.opus".into()),
            download: None,
            remote: None,
            fetch: false,
            view_once: false,
        };
        let m = NewMessage {
            message_type: MessageKind::Audio,
            media: Some(Box::new(media)),
            ..NewMessage::text(
                Origin::Import,
                "15550001111@s.whatsapp.net",
                "PTT1",
                1_700_000_000_000,
                "[audio] PTT-1.opus",
            )
        };
        db.ingest(vec![m], &|_| Some(MessageStatus::History))
            .unwrap();
        db.media_kept("15550001111@s.whatsapp.net", "PTT1", "media/x.ogg")
            .unwrap();
        let id = db.media_of_message("PTT1", None).unwrap()[0].id;
        (dir, db, id)
    }

    #[test]
    fn a_saved_transcript_is_searchable_and_leaves_the_backlog() {
        let (_dir, mut db, id) = voice_note();
        let all = Untranscribed {
            limit: 10,
            ..Default::default()
        };
        assert_eq!(db.untranscribed(&all).unwrap().len(), 1);
        assert_eq!(db.transcript_counts().unwrap().waiting, 1);
        db.save_transcript(id, "the kettle is on").unwrap();
        assert!(db.untranscribed(&all).unwrap().is_empty());
        let hits = db
            .search(
                "kettle",
                &crate::SearchFilter {
                    limit: 5,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].transcript.as_deref(), Some("the kettle is on"));
        assert!(hits[0].snippet.contains("[kettle]"), "{}", hits[0].snippet);
        let turn = db
            .media_of_messages("15550001111@s.whatsapp.net", &["PTT1"])
            .unwrap();
        assert_eq!(turn[0].transcript.as_deref(), Some("the kettle is on"));
        assert_eq!(turn[0].file.transcript_state.as_deref(), Some("done"));
        assert_eq!(
            db.transcript_counts().unwrap(),
            TranscriptCounts {
                transcribed: 1,
                failed: 0,
                waiting: 0
            }
        );
    }

    #[test]
    fn failures_are_counted_until_the_attempts_run_out() {
        let (_dir, mut db, id) = voice_note();
        assert!(!db.transcript_failed(id, "HTTP 500", false, 3).unwrap());
        assert!(!db.transcript_failed(id, "HTTP 500", false, 3).unwrap());
        assert!(db.transcript_failed(id, "HTTP 500", false, 3).unwrap());
        let row = db.media(id).unwrap().unwrap();
        assert_eq!(
            (row.transcript_state.as_deref(), row.transcript_attempts),
            (Some("failed"), 3)
        );
        assert_eq!(db.transcript_counts().unwrap().failed, 1);

        let (_dir, mut db, id) = voice_note();
        assert!(db.transcript_failed(id, "HTTP 400", true, 3).unwrap());
    }
}
