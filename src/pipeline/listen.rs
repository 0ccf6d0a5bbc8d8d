//! The one listener loop, whatever the transport: `listen` holds the connection lock,
//! writes the heartbeat every few seconds, re-reads app.json into the policy the
//! ingest answers by, starts answering runs on arrival, and stops on SIGTERM or Ctrl-C
//! or when the connection ends by itself. The transport's part is a [`Connection`]:
//! the linked device's session ([`super::linked`]) or the webhook server
//! (`crate::webhook::listen`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Result;

use crate::arrival::{self, Arrival};
use crate::clock;
use crate::config::Config;
use crate::db::{Db, Heartbeat};
use crate::policy::Policy;
pub use crate::sink::Status;
use crate::status::HeartbeatState;

const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// A transport's connection as the loop drives it.
pub trait Connection {
    /// Why the connection ended by itself.
    type Ended;
    fn status(&self) -> Status;
    /// Blocks until the connection ends by itself, `stop` turns true (`None`), or
    /// `at_most` passes (`None`).
    fn wait(&mut self, stop: &AtomicBool, at_most: Duration) -> Option<Self::Ended>;
    /// Work of the transport's own on every beat (the webhook server's spool).
    fn every_beat(&mut self, _db: &mut Db) {}
}

/// Everything a listener keeps across its connections: the heartbeat's database
/// connection and start, the policy, the arrival trigger, the configuration seen last.
pub struct Listener<R> {
    db: Db,
    started: i64,
    pub policy: Arc<RwLock<Policy>>,
    pub arrival: Option<Arc<Arrival>>,
    hash: String,
    reload: R,
}

impl<R: Fn() -> Result<Config>> Listener<R> {
    pub fn new(config: &Config, reload: R) -> Result<Self> {
        let db = Db::open(&config.database_path)?;
        let policy = policy_of(config, &db);
        Ok(Listener {
            db,
            started: clock::now_ms(),
            policy: Arc::new(RwLock::new(policy)),
            arrival: arrival::for_listener(config)?,
            hash: config.hash.clone(),
            reload,
        })
    }

    /// Beats and reloads until the connection ends (`Some`) or `stop` turns true.
    pub fn serve<C: Connection>(&mut self, conn: &mut C, stop: &AtomicBool) -> Option<C::Ended> {
        loop {
            if let Err(e) = self.beat(&conn.status(), HeartbeatState::Running) {
                log::warn!("heartbeat: {e:#}");
            }
            conn.every_beat(&mut self.db);
            self.reload();
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            if let Some(ended) = conn.wait(stop, HEARTBEAT_EVERY) {
                return Some(ended);
            }
            if stop.load(Ordering::Relaxed) {
                return None;
            }
        }
    }

    /// The last heartbeat: stopped, with what the connection said last. Bookkeeping,
    /// like every beat: a database locked by another process is logged, not fatal.
    pub fn stopped(&mut self, status: &Status) {
        if let Err(e) = self.beat(status, HeartbeatState::Stopped) {
            log::warn!("the last heartbeat was not written: {e:#}");
        }
    }

    /// Stops the arrival trigger: received messages are all stored by now, so no run is
    /// started after this.
    pub fn finish(&self) {
        if let Some(arrival) = &self.arrival {
            arrival.shutdown(arrival::LISTENER_GRACE);
        }
    }

    fn beat(&mut self, status: &Status, state: HeartbeatState) -> Result<()> {
        self.db.write_heartbeat(&Heartbeat {
            pid: i64::from(std::process::id()),
            started_at: self.started,
            updated_at: clock::now_ms(),
            connected: status.connected && state == HeartbeatState::Running,
            state,
            detail: Some(status.detail.clone()),
            last_event_at: status.last_event_at,
        })?;
        Ok(())
    }

    /// A changed app.json changes whom the ingest answers from the next batch on.
    fn reload(&mut self) {
        match (self.reload)() {
            Ok(config) if config.hash != self.hash => {
                log::info!(
                    "app.json changed: now monitoring {} entities",
                    config.entities.len()
                );
                let fresh = policy_of(&config, &self.db);
                if let Ok(mut policy) = self.policy.write() {
                    *policy = fresh;
                }
                self.hash = config.hash;
            }
            Ok(_) => {}
            Err(e) => log::warn!("app.json could not be reloaded, keeping the old one: {e:#}"),
        }
    }
}

/// Whom the ingest answers, with the entities named as the store names their chats.
pub fn policy_of(config: &Config, db: &Db) -> Policy {
    Policy::new(config).named_by(|jid| {
        db.canonical_jid(jid).unwrap_or_else(|e| {
            log::warn!("{jid}: its chat could not be looked up ({e:#}); answered as configured");
            jid.to_string()
        })
    })
}
