//! whatsapp-rust's durability hook: the library acknowledges a batch only after the
//! sink committed it, so a crash loses nothing; a redelivered batch is harmless because
//! the sink's every step is idempotent.

use std::sync::Arc;

use anyhow::Result;
use wabot_core::clock;
use wabot_core::inbound::Received;
use wabot_core::sink::Sink;
use whatsapp_rust::prelude::*;

use crate::convert;
use crate::session::Liveness;

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
    pub sink: Arc<dyn Sink>,
    pub liveness: Arc<Liveness>,
}

impl Hook {
    /// Commits converted messages on a blocking thread.
    pub async fn commit(&self, items: Vec<Received>) -> Result<()> {
        self.liveness.touch(clock::now_ms());
        let sink = Arc::clone(&self.sink);
        tokio::task::spawn_blocking(move || sink.commit(items)).await?
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
