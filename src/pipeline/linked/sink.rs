//! The store side of the linked device: [`DbSink`] implements the core [`Sink`] the
//! `wabot-whatsapp` crate hands everything to, over one database connection shared by
//! the durability hook, history, confirmations and group names (so a busy wait never
//! multiplies into the hook's acks).

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use anyhow::Result;

use crate::account::Standing;
use crate::arrival::Arrival;
use crate::clock;
use crate::db::Db;
use crate::history::Answer;
use crate::inbound::Received;
use crate::outbox::DeliveryUpdate;
use crate::pipeline::{delivery, history, ingest};
use crate::policy::Policy;
use crate::sink::{Group, HistoryBlob, HistoryChunk, NumberChange, Sink};

pub struct DbSink {
    db: Mutex<Db>,
    /// Whom the ingest answers: the listener swaps it when app.json changes.
    pub policy: Arc<RwLock<Policy>>,
    /// The account sent messages are stored under.
    own_jid: String,
    /// Told when a committed batch holds messages to answer (the listener's only).
    arrival: Option<Arc<Arrival>>,
}

impl DbSink {
    pub fn new(
        db: Db,
        policy: Arc<RwLock<Policy>>,
        own_jid: String,
        arrival: Option<Arc<Arrival>>,
    ) -> Self {
        DbSink {
            db: Mutex::new(db),
            policy,
            own_jid,
            arrival,
        }
    }

    pub fn own_jid(&self) -> &str {
        &self.own_jid
    }

    fn db(&self) -> Result<MutexGuard<'_, Db>> {
        self.db
            .lock()
            .map_err(|_| anyhow::anyhow!("database lock poisoned"))
    }

    fn policy(&self) -> Result<Policy> {
        Ok(self
            .policy
            .read()
            .map_err(|_| anyhow::anyhow!("policy lock poisoned"))?
            .clone())
    }
}

impl Sink for DbSink {
    fn commit(&self, batch: Vec<Received>) -> Result<()> {
        let policy = self.policy()?;
        let pending = ingest::store(&mut *self.db()?, &policy, batch)?;
        if !pending.is_empty()
            && let Some(arrival) = &self.arrival
        {
            arrival.notify();
        }
        Ok(())
    }

    fn spool_history(&self, chunk: &HistoryChunk) -> Result<i64> {
        Ok(self.db()?.spool_history(chunk, clock::now_ms())?)
    }

    fn unstored_history(&self) -> Result<Vec<(i64, HistoryChunk)>> {
        Ok(self.db()?.unstored_history()?)
    }

    fn history_unreadable(&self, chunk: i64, error: &str) -> Result<()> {
        Ok(self.db()?.history_unreadable(chunk, error)?)
    }

    fn history(&self, blob: HistoryBlob) -> Result<Vec<(String, Answer)>> {
        let policy = self.policy()?;
        history::store(&mut *self.db()?, &policy, blob)
    }

    fn delivered(&self, updates: Vec<DeliveryUpdate>) -> Result<()> {
        delivery::apply(&mut *self.db()?, &updates, &self.own_jid)?;
        Ok(())
    }

    fn reconnected(&self, at: i64) -> Result<()> {
        // Connected: a refusal recorded before is over.
        self.db()?.record_standing(Standing::Connected, at)?;
        let again = self.db()?.requeue_after_reconnect(at)?;
        if again.unacked > 0 {
            log::info!(
                "{} sends were not acknowledged before the reconnect: resending them with their ids",
                again.unacked
            );
        }
        if again.unconfirmed > 0 {
            log::warn!(
                "{} accepted sends never got a delivery receipt: resending them with their ids",
                again.unconfirmed
            );
        }
        if again.given_up > 0 {
            log::warn!(
                "{} sends got no delivery receipt after {} resends: marked failed (`wabot outbox list --status failed`)",
                again.given_up,
                crate::db::MAX_RESENDS
            );
        }
        Ok(())
    }

    fn number_changed(&self, change: NumberChange) -> Result<()> {
        log::info!(
            "{} changed their number to {}: one chat from now on",
            change.old_jid,
            change.new_jid
        );
        Ok(self.db()?.number_changed(&change)?)
    }

    fn groups(&self, groups: Vec<Group>) -> Result<()> {
        let mut db = self.db()?;
        for (lid, phone) in groups.iter().flat_map(|g| &g.identities) {
            db.record_alias(lid, phone)?;
        }
        let subjects: Vec<(String, String)> = groups
            .iter()
            .filter(|g| !g.subject.is_empty())
            .map(|g| (g.jid.clone(), g.subject.clone()))
            .collect();
        db.name_groups(&subjects)?;
        let admins: Vec<(String, Vec<String>)> =
            groups.into_iter().map(|g| (g.jid, g.admins)).collect();
        Ok(db.set_group_admins(&admins)?)
    }

    fn record_standing(&self, change: Standing<'_>) -> Result<()> {
        Ok(self.db()?.record_standing(change, clock::now_ms())?)
    }
}
