//! whatsapp-rust's durability hook: the library acknowledges a batch only after the
//! sink committed it, so a crash loses nothing; a redelivered batch is harmless because
//! the sink's every step is idempotent.
//!
//! A commit that fails (the database busy past its timeout, during a `vacuum`) is
//! retried here with back-off: the library holds the batch's ack and redelivers it only
//! after the next connect, which on a stable connection is hours away. When the retries
//! are spent the hook reconnects on purpose, so the redelivery comes now.

use std::sync::Arc;
use std::time::Duration;

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

/// The waits between a failed commit and its next try: about a minute in all, on top
/// of each try's own busy timeout.
pub const COMMIT_RETRIES: [Duration; 5] = [
    Duration::from_millis(500),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(15),
    Duration::from_secs(30),
];

/// The hook whatsapp-rust calls before it acknowledges received messages.
pub struct Hook {
    pub sink: Arc<dyn Sink>,
    pub liveness: Arc<Liveness>,
    /// The waits before each new try of a failed commit.
    pub retries: Vec<Duration>,
}

impl Hook {
    /// Commits converted messages on a blocking thread, once.
    pub async fn commit(&self, items: Vec<Received>) -> Result<()> {
        self.liveness.touch(clock::now_ms());
        let sink = Arc::clone(&self.sink);
        tokio::task::spawn_blocking(move || sink.commit(items)).await?
    }

    /// Commits, trying again after each of [`Self::retries`]; the last error when none
    /// of the tries committed.
    pub async fn commit_retrying(&self, items: Vec<Received>) -> Result<()> {
        let mut waits = self.retries.iter();
        loop {
            let Err(e) = self.commit(items.clone()).await else {
                return Ok(());
            };
            let Some(wait) = waits.next() else {
                return Err(e);
            };
            log::warn!("received messages could not be stored ({e:#}); trying again in {wait:?}");
            tokio::time::sleep(*wait).await;
        }
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
        let committed = self.commit_retrying(items).await;
        if let Err(e) = &committed {
            log::error!(
                "received messages could not be stored after {} tries ({e:#}): reconnecting so WhatsApp delivers them again",
                self.retries.len() + 1
            );
            self.liveness
                .set(false, "reconnecting: received messages could not be stored");
            tokio::spawn(async move { client.reconnect_immediately().await });
        }
        committed
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use wabot_core::account::Standing;
    use wabot_core::history::Answer;
    use wabot_core::outbox::DeliveryUpdate;
    use wabot_core::sink::{Group, HistoryBlob, HistoryChunk, NumberChange};

    use super::*;

    /// Fails its first `failures` commits (a database busy during a `vacuum`).
    struct Busy {
        failures: usize,
        tries: AtomicUsize,
        committed: Mutex<Vec<Received>>,
    }

    impl Sink for Busy {
        fn commit(&self, batch: Vec<Received>) -> Result<()> {
            if self.tries.fetch_add(1, Ordering::SeqCst) < self.failures {
                anyhow::bail!("database is locked");
            }
            self.committed.lock().unwrap().extend(batch);
            Ok(())
        }
        fn spool_history(&self, _: &HistoryChunk) -> Result<i64> {
            anyhow::bail!("not used by the hook")
        }
        fn unstored_history(&self) -> Result<Vec<(i64, HistoryChunk)>> {
            anyhow::bail!("not used by the hook")
        }
        fn history_unreadable(&self, _: i64, _: &str) -> Result<()> {
            anyhow::bail!("not used by the hook")
        }
        fn history(&self, _: HistoryBlob) -> Result<Vec<(String, Answer)>> {
            anyhow::bail!("not used by the hook")
        }
        fn delivered(&self, _: Vec<DeliveryUpdate>) -> Result<()> {
            anyhow::bail!("not used by the hook")
        }
        fn reconnected(&self, _: i64) -> Result<()> {
            anyhow::bail!("not used by the hook")
        }
        fn number_changed(&self, _: NumberChange) -> Result<()> {
            anyhow::bail!("not used by the hook")
        }
        fn groups(&self, _: Vec<Group>) -> Result<()> {
            anyhow::bail!("not used by the hook")
        }
        fn record_standing(&self, _: Standing<'_>) -> Result<()> {
            anyhow::bail!("not used by the hook")
        }
    }

    fn failing(failures: usize, retries: usize) -> (Hook, Arc<Busy>) {
        let sink = Arc::new(Busy {
            failures,
            tries: AtomicUsize::new(0),
            committed: Mutex::default(),
        });
        let hook = Hook {
            sink: Arc::clone(&sink) as Arc<dyn Sink>,
            liveness: Arc::default(),
            retries: vec![Duration::ZERO; retries],
        };
        (hook, sink)
    }

    fn batch() -> Vec<Received> {
        let info = crate::testing::info(
            "15550001111@s.whatsapp.net",
            "15550001111@s.whatsapp.net",
            false,
        );
        vec![crate::convert::receive(&info, &wa::Message::text("hello"))]
    }

    #[test]
    fn hook_failures_are_retried_now_not_at_the_next_reconnect() {
        let rt = crate::runtime().unwrap();
        let (hook, sink) = failing(2, 3);
        rt.block_on(hook.commit_retrying(batch())).unwrap();
        assert_eq!(
            sink.tries.load(Ordering::SeqCst),
            3,
            "two failures, then stored"
        );
        assert_eq!(sink.committed.lock().unwrap().len(), 1, "once");

        let (hook, sink) = failing(10, 3);
        let err = rt.block_on(hook.commit_retrying(batch())).unwrap_err();
        assert!(err.to_string().contains("locked"), "{err}");
        assert_eq!(
            sink.tries.load(Ordering::SeqCst),
            4,
            "the retries spent: the hook reconnects"
        );
        assert_eq!(
            COMMIT_RETRIES.iter().sum::<Duration>(),
            Duration::from_millis(52_500)
        );
    }
}
