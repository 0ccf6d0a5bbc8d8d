//! Figures for `wabot stats`. The JSON keys are a documented interface: keep them.

use anyhow::Result;
use serde::Serialize;

use super::Db;
use crate::clock;

#[derive(Debug, Serialize)]
pub struct Stats {
    pub messages: MessageCounts,
    pub chats: i64,
    pub contacts: i64,
    pub sessions: SessionCounts,
    pub outbox: OutboxCounts,
    pub database: DatabaseFiles,
    pub last_message_at: Option<i64>,
    pub top_chats: Vec<ChatCount>,
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
    pub sent: i64,
    pub failed: i64,
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
    pub name: Option<String>,
    pub messages: i64,
}

const TOP_CHATS: i64 = 10;

impl Db {
    pub fn stats(&self) -> Result<Stats> {
        let conn = &self.conn;
        let messages = conn.query_row(
            "SELECT count(*),
                    coalesce(sum(is_from_me = 0), 0),
                    coalesce(sum(is_from_me = 1), 0),
                    coalesce(sum(status = 'answered'), 0),
                    coalesce(sum(status = 'failed'), 0)
             FROM messages",
            [],
            |r| {
                Ok(MessageCounts {
                    total: r.get(0)?,
                    inbound: r.get(1)?,
                    outbound: r.get(2)?,
                    pending: 0,
                    answered: r.get(3)?,
                    failed: r.get(4)?,
                })
            },
        )?;
        let pending = conn.query_row(
            "SELECT count(*) FROM messages WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )?;
        let count = |sql: &str| -> Result<i64> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
        let outbox = conn.query_row(
            "SELECT coalesce(sum(status = 'pending'), 0), coalesce(sum(status = 'sent'), 0),
                    coalesce(sum(status = 'failed'), 0)
             FROM outbox",
            [],
            |r| {
                Ok(OutboxCounts {
                    pending: r.get(0)?,
                    sent: r.get(1)?,
                    failed: r.get(2)?,
                })
            },
        )?;
        let active_sessions = conn.query_row(
            "SELECT count(*) FROM chat_sessions WHERE expires_at > ?1",
            [clock::now_ms()],
            |r| r.get(0),
        )?;
        let mut top = conn.prepare(
            "SELECT m.chat_jid, c.name, m.n
             FROM (SELECT chat_jid, count(*) AS n FROM messages GROUP BY chat_jid
                   ORDER BY n DESC, chat_jid LIMIT ?1) AS m
             LEFT JOIN chats AS c ON c.jid = m.chat_jid
             ORDER BY m.n DESC, m.chat_jid",
        )?;
        let top_chats = top
            .query_map([TOP_CHATS], |r| {
                Ok(ChatCount {
                    chat_jid: r.get(0)?,
                    name: r.get(1)?,
                    messages: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Stats {
            messages: MessageCounts {
                pending,
                ..messages
            },
            chats: count("SELECT count(*) FROM chats")?,
            contacts: count("SELECT count(*) FROM contacts")?,
            sessions: SessionCounts {
                active: active_sessions,
            },
            outbox,
            database: self.files()?,
            last_message_at: conn
                .query_row("SELECT max(last_activity) FROM chats", [], |r| r.get(0))?,
            top_chats,
        })
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
            schema_version: self
                .conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))?,
        })
    }
}
