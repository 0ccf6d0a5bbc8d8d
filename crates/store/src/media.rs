//! `media_files`: one row per media message, and the download queue over them.

use crate::Result;
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::Serialize;

use super::Db;
use crate::attachment::{DownloadRef, Remote};
use crate::clock;
use crate::columns::parsed;
use crate::message::NewMessage;
use crate::status::DownloadState;

/// A download is tried this many times before the row is marked failed.
pub const MAX_DOWNLOAD_ATTEMPTS: i64 = 3;
/// Wait between attempts grows by this much per failed attempt.
const RETRY_STEP_MS: i64 = 60_000;

#[derive(Debug, Clone, Serialize)]
pub struct MediaRow {
    pub id: i64,
    pub chat_jid: String,
    pub message_id: String,
    pub media_type: String,
    pub mimetype: Option<String>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub caption: Option<String>,
    pub file_name: Option<String>,
    pub download_state: DownloadState,
    pub local_path: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    #[serde(skip)]
    pub download: Option<DownloadRef>,
    #[serde(skip)]
    pub remote: Option<Remote>,
    /// `done`, `failed`, or `None` while not transcribed (see [`Db::save_transcript`]).
    pub transcript_state: Option<String>,
    pub transcript_attempts: i64,
    pub view_once: bool,
    /// When the row was stored: how long a turn has waited for its download.
    pub created_at: i64,
}

pub(super) const COLUMNS: &str =
    "id, chat_jid, message_id, media_type, mimetype, size_bytes, sha256,
     caption, file_name, download_state, local_path, attempts, last_error, download,
     remote, transcript_state, transcript_attempts, view_once, created_at";

impl MediaRow {
    pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(MediaRow {
            id: r.get("id")?,
            chat_jid: r.get("chat_jid")?,
            message_id: r.get("message_id")?,
            media_type: r.get("media_type")?,
            mimetype: r.get("mimetype")?,
            size_bytes: r.get("size_bytes")?,
            sha256: r.get("sha256")?,
            caption: r.get("caption")?,
            file_name: r.get("file_name")?,
            download_state: parsed(r, "download_state")?,
            local_path: r.get("local_path")?,
            attempts: r.get("attempts")?,
            last_error: r.get("last_error")?,
            download: from_json(r, "download")?,
            remote: from_json(r, "remote")?,
            transcript_state: r.get("transcript_state")?,
            transcript_attempts: r.get("transcript_attempts")?,
            view_once: r.get("view_once")?,
            created_at: r.get("created_at")?,
        })
    }
}

/// A column that holds a value as JSON, or NULL; what no longer parses is read as
/// missing (the row stays usable without it).
fn from_json<T: serde::de::DeserializeOwned>(
    r: &Row<'_>,
    name: &str,
) -> rusqlite::Result<Option<T>> {
    Ok(r.get::<_, Option<String>>(name)?
        .and_then(|text| serde_json::from_str(&text).ok()))
}

/// A column that holds a value as JSON; a value that cannot be written is a failed
/// conversion to SQL.
fn json<T: serde::Serialize>(value: Option<&T>) -> rusqlite::Result<Option<String>> {
    value
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Inside an ingest: a row for every media message of the batch (once per message).
pub(super) fn record(tx: &Transaction<'_>, batch: &[NewMessage], now: i64) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO media_files (chat_jid, message_id, media_type, mimetype, size_bytes, sha256,
             caption, file_name, download, download_state, view_once, created_at, updated_at,
             remote)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12, ?11, ?11, ?13)
         ON CONFLICT (chat_jid, message_id) DO NOTHING",
    )?;
    for m in batch {
        let Some(media) = &m.media else { continue };
        let download = json(media.download.as_ref())?;
        let remote = json(media.remote.as_ref())?;
        let state = if media.fetch && (download.is_some() || remote.is_some()) {
            "pending"
        } else {
            "none"
        };
        insert.execute(params![
            m.chat_jid,
            m.id,
            media.kind,
            media.mimetype,
            media.size_bytes,
            media.sha256,
            media.caption,
            media.file_name,
            download,
            state,
            now,
            media.view_once,
            remote
        ])?;
    }
    Ok(())
}

impl Db {
    /// The next file to download: pending, retry wait elapsed, oldest first.
    pub fn next_media_download(&self, now: i64) -> Result<Option<MediaRow>> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM media_files
                     WHERE download_state = 'pending' AND (download IS NOT NULL OR remote IS NOT NULL)
                       AND updated_at <= ?1 - attempts * {RETRY_STEP_MS}
                     ORDER BY id LIMIT 1"
                ),
                [now],
                MediaRow::from_row,
            )
            .optional()?)
    }

    pub fn media_downloaded(&mut self, id: i64, path: &str) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "UPDATE media_files SET download_state = 'done', local_path = ?2, last_error = NULL,
                     attempts = attempts + 1, updated_at = ?3 WHERE id = ?1",
                params![id, path, clock::now_ms()],
            )?;
            Ok(())
        })
    }

    /// Records a failed attempt; after [`MAX_DOWNLOAD_ATTEMPTS`], or at once when
    /// retrying cannot help (`final_`), the row is marked failed.
    pub fn media_failed(&mut self, id: i64, error: &str, final_: bool) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "UPDATE media_files SET attempts = attempts + 1, last_error = ?2, updated_at = ?3,
                     download_state = CASE WHEN ?4 OR attempts + 1 >= ?5 THEN 'failed' ELSE 'pending' END
                 WHERE id = ?1",
                params![id, error, clock::now_ms(), final_, MAX_DOWNLOAD_ATTEMPTS],
            )?;
            Ok(())
        })
    }

    /// The media rows of a message id (in every chat that has one, unless `chat` says).
    pub fn media_of_message(&self, message_id: &str, chat: Option<&str>) -> Result<Vec<MediaRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM media_files WHERE message_id = ?1 AND (?2 IS NULL OR chat_jid = ?2)"
        ))?;
        let rows = stmt.query_map(params![message_id, chat], MediaRow::from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn media(&self, id: i64) -> Result<Option<MediaRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM media_files WHERE id = ?1"),
                [id],
                MediaRow::from_row,
            )
            .optional()?)
    }

    /// Records that a message's file is already in the media store (an imported
    /// export's attachment): nothing to download.
    pub fn media_kept(&mut self, chat_jid: &str, message_id: &str, path: &str) -> Result<()> {
        let tx = self.write()?;
        tx.execute(
            "UPDATE media_files SET download_state = 'done', local_path = ?3, last_error = NULL,
                 updated_at = ?4 WHERE chat_jid = ?1 AND message_id = ?2",
            params![chat_jid, message_id, path, clock::now_ms()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Queues a download now, with fresh attempts (an explicit `media fetch`).
    pub fn request_media(&mut self, id: i64) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "UPDATE media_files SET download_state = 'pending', attempts = 0, last_error = NULL,
                     updated_at = 0 WHERE id = ?1 AND download_state <> 'done'",
                [id],
            )?;
            Ok(())
        })
    }
}
