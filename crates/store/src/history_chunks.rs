//! The history spool: chunks committed as downloaded, before they are read, so a chunk
//! WhatsApp will never send again (its receipt went before the download) survives a
//! crash or a failed read, and `sync --status` can count what came.

use rusqlite::params;
use serde::Serialize;
use wabot_core::sink::HistoryChunk;

use super::Db;
use crate::Result;

/// How long a pushed transfer may rest below 100 % before it counts as broken off.
pub const TRANSFER_STALL_MS: i64 = 10 * 60_000;

/// What the spool holds, for `sync --status` and `stats`.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct ChunkCounts {
    /// Chunks WhatsApp pushed (after pairing, after a reconnect).
    pub pushed: i64,
    /// On-demand history requests wabot made (`sync`, a broken-off transfer).
    pub asked: i64,
    /// Chunks answering wabot's on-demand requests.
    pub requested: i64,
    /// Spooled, messages not stored yet (stored at the next start).
    pub waiting: i64,
    /// Kept with an error: they did not decode.
    pub unreadable: i64,
    /// Messages stored from chunks.
    pub messages: i64,
    /// The last pushed chunk's progress of its transfer, 0..=100.
    pub last_progress: Option<i64>,
}

impl Db {
    pub fn spool_history(&mut self, chunk: &HistoryChunk, now: i64) -> Result<i64> {
        self.in_write(|tx| {
            tx.execute(
                "INSERT INTO history_chunks (sync_type, chunk_order, progress, request_id,
                     decompressed_size, compressed, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    chunk.sync_type,
                    chunk.chunk_order,
                    chunk.progress,
                    chunk.request_id,
                    chunk.decompressed_size as i64,
                    chunk.compressed,
                    now
                ],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    pub fn unstored_history(&self) -> Result<Vec<(i64, HistoryChunk)>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, sync_type, chunk_order, progress, request_id, decompressed_size, compressed
             FROM history_chunks WHERE compressed IS NOT NULL AND error IS NULL ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get("id")?,
                    HistoryChunk {
                        compressed: r.get("compressed")?,
                        decompressed_size: r.get::<_, i64>("decompressed_size")?.max(0) as u64,
                        sync_type: r.get("sync_type")?,
                        chunk_order: r.get("chunk_order")?,
                        progress: r.get("progress")?,
                        request_id: r.get("request_id")?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The chunk's messages are stored: its bytes are dropped, its counts kept.
    pub fn history_stored(&mut self, id: i64, messages: i64, now: i64) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "UPDATE history_chunks SET compressed = NULL, messages = ?2, stored_at = ?3
                 WHERE id = ?1",
                params![id, messages, now],
            )?;
            Ok(())
        })
    }

    pub fn history_unreadable(&mut self, id: i64, error: &str) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "UPDATE history_chunks SET error = ?2 WHERE id = ?1",
                params![id, error],
            )?;
            Ok(())
        })
    }

    pub fn history_chunk_counts(&self) -> Result<ChunkCounts> {
        Ok(self.conn.query_row(
            "SELECT coalesce(sum(request_id IS NULL), 0) AS pushed,
                    (SELECT count(*) FROM sync_requests WHERE action != 'cancel') AS asked,
                    coalesce(sum(request_id IS NOT NULL), 0) AS requested,
                    coalesce(sum(compressed IS NOT NULL AND error IS NULL), 0) AS waiting,
                    coalesce(sum(error IS NOT NULL), 0) AS unreadable,
                    coalesce(sum(messages), 0) AS messages,
                    (SELECT progress FROM history_chunks WHERE request_id IS NULL
                     ORDER BY id DESC LIMIT 1) AS last_progress
             FROM history_chunks",
            [],
            |r| {
                Ok(ChunkCounts {
                    pushed: r.get("pushed")?,
                    asked: r.get("asked")?,
                    requested: r.get("requested")?,
                    waiting: r.get("waiting")?,
                    unreadable: r.get("unreadable")?,
                    messages: r.get("messages")?,
                    last_progress: r.get("last_progress")?,
                })
            },
        )?)
    }

    /// Whether WhatsApp's last pushed transfer broke off: its newest chunk said less
    /// than 100 % and nothing followed for [`TRANSFER_STALL_MS`], and its chats were not
    /// asked for again yet. Marks it asked; the caller queues the on-demand requests.
    pub fn take_broken_transfer(&mut self, now: i64) -> Result<bool> {
        self.in_write(|tx| {
            let n = tx.execute(
                "UPDATE history_chunks SET reasked_at = ?1
                 WHERE id = (SELECT max(id) FROM history_chunks WHERE request_id IS NULL)
                   AND coalesce(progress, 0) < 100 AND received_at < ?1 - ?2
                   AND reasked_at IS NULL",
                params![now, TRANSFER_STALL_MS],
            )?;
            Ok(n == 1)
        })
    }
}
