//! The listener's heartbeat, as other jobs read it.

use crate::Result;
use rusqlite::OptionalExtension;
use serde::Serialize;

use super::Db;
use crate::columns::parsed;
use crate::status::HeartbeatState;

/// A heartbeat older than this means the listener is gone or hung.
pub const STALE_AFTER_MS: i64 = 90_000;

#[derive(Debug, Clone, Serialize)]
pub struct Heartbeat {
    pub pid: i64,
    pub started_at: i64,
    pub updated_at: i64,
    pub connected: bool,
    pub state: HeartbeatState,
    pub detail: Option<String>,
    pub last_event_at: Option<i64>,
}

impl Heartbeat {
    pub fn is_fresh(&self, now: i64) -> bool {
        now - self.updated_at <= STALE_AFTER_MS
    }
}

impl Db {
    pub fn write_heartbeat(&mut self, beat: &Heartbeat) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "INSERT INTO listener_heartbeat (id, pid, started_at, updated_at, connected, state, detail, last_event_at)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, started_at = excluded.started_at,
                     updated_at = excluded.updated_at, connected = excluded.connected, state = excluded.state,
                     detail = excluded.detail, last_event_at = excluded.last_event_at",
                rusqlite::params![
                    beat.pid,
                    beat.started_at,
                    beat.updated_at,
                    beat.connected,
                    beat.state.as_str(),
                    beat.detail,
                    beat.last_event_at
                ],
            )?;
            Ok(())
        })
    }

    /// Whether a listener is running now: a fresh heartbeat in the `running` state. The
    /// one test every job uses before handing work to the listener.
    pub fn listener_running(&self) -> Result<bool> {
        let now = crate::clock::now_ms();
        Ok(self
            .heartbeat()?
            .is_some_and(|b| b.is_fresh(now) && b.state == HeartbeatState::Running))
    }

    pub fn heartbeat(&self) -> Result<Option<Heartbeat>> {
        Ok(self
            .conn
            .query_row(
                "SELECT pid, started_at, updated_at, connected, state, detail, last_event_at
                 FROM listener_heartbeat WHERE id = 1",
                [],
                |r| {
                    Ok(Heartbeat {
                        pid: r.get("pid")?,
                        started_at: r.get("started_at")?,
                        updated_at: r.get("updated_at")?,
                        connected: r.get("connected")?,
                        state: parsed(r, "state")?,
                        detail: r.get("detail")?,
                        last_event_at: r.get("last_event_at")?,
                    })
                },
            )
            .optional()?)
    }
}
