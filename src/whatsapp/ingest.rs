//! whatsapp-rust's durability hook: the library acknowledges a batch only after
//! [`crate::pipeline::ingest::store`] committed it, so a crash loses nothing; a
//! redelivered batch is harmless because every step is idempotent.

use std::sync::{Arc, Mutex, RwLock};

use anyhow::Result;
use whatsapp_rust::prelude::*;

use super::convert::{self, Received};
use crate::arrival::Arrival;
use crate::clock;
use crate::db::Db;
use crate::pipeline::ingest::store;
use crate::policy::Policy;

/// Converts a batch the library delivered, asking the client for the phone number of
/// LID senders whose envelope did not carry it (its own LID↔phone store).
pub async fn received(client: &Client, batch: &[InboundMessage]) -> Vec<Received> {
    let mut items = Vec::with_capacity(batch.len());
    for m in batch {
        let mut item = convert::receive(&m.info, &m.message);
        let sender = &m.info.source.sender;
        if item.identities.is_empty() && sender.is_lid() {
            match client.get_lid_pn_entry(sender).await {
                Ok(Some(entry)) => item.identities.push((
                    format!("{}@lid", entry.lid),
                    format!("{}@s.whatsapp.net", entry.phone_number),
                )),
                Ok(None) => {}
                Err(e) => log::debug!("no phone number for a LID sender: {e}"),
            }
        }
        items.push(item);
    }
    items
}

/// The hook whatsapp-rust calls before it acknowledges received messages.
pub struct Hook {
    pub db: Arc<Mutex<Db>>,
    pub policy: Arc<RwLock<Policy>>,
    pub last_event: Arc<std::sync::atomic::AtomicI64>,
    /// Told when a committed batch holds messages to answer (the listener's only).
    pub arrival: Option<Arc<Arrival>>,
}

impl Hook {
    /// Stores converted messages on a blocking thread; once they are committed, a batch
    /// with messages to answer starts an answering run (when the listener answers on
    /// arrival).
    pub async fn commit(&self, items: Vec<Received>) -> Result<()> {
        let policy = self
            .policy
            .read()
            .map_err(|_| anyhow::anyhow!("policy lock poisoned"))?
            .clone();
        let db = Arc::clone(&self.db);
        self.last_event
            .store(clock::now_ms(), std::sync::atomic::Ordering::Relaxed);
        let pending = tokio::task::spawn_blocking(move || {
            let mut db = db
                .lock()
                .map_err(|_| anyhow::anyhow!("database lock poisoned"))?;
            store(&mut db, &policy, items)
        })
        .await??;
        if !pending.is_empty()
            && let Some(arrival) = &self.arrival
        {
            arrival.notify();
        }
        Ok(())
    }
}

#[whatsapp_rust::async_trait]
impl whatsapp_rust::InboundDurabilityHook for Hook {
    async fn on_messages(
        &self,
        client: Arc<Client>,
        batch: &[InboundMessage],
    ) -> anyhow::Result<()> {
        let items = received(&client, batch).await;
        self.commit(items).await
    }
}
