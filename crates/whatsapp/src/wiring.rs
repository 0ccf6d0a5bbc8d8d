//! What every wabot connection does with what arrives, whoever owns it (`listen`,
//! `pair`, or `sync` connecting by itself): live messages through the durability hook,
//! history blobs and the messages the library delivers outside the hook (recovered
//! placeholders, undecryptable ones) into the same sink, on-demand answers to whoever
//! waits for them. Work in progress is counted so a shutdown can
//! wait for it: WhatsApp never sends again what the library already acknowledged.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use wabot_core::history::Answer;
use wabot_core::inbound::Received;
use wabot_core::sink::{HistoryChunk, Sink};
use whatsapp_rust::bot::BotBuilder;
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::events::{EventHandler, EventInterest, EventKind, LazyHistorySync};

use crate::convert;
use crate::history;
use crate::hook::Hook;
use crate::session::Liveness;

/// Receives the chats' parts of on-demand history answers.
pub type Answers = mpsc::Receiver<(String, Answer)>;

/// One history blob as stored, for progress displays.
#[derive(Debug, Clone, Copy)]
pub struct Pushed {
    pub messages: usize,
    /// WhatsApp's own progress of the whole transfer, 0..=100, when it says.
    pub percent: Option<u32>,
}

#[derive(Clone)]
pub struct Wiring {
    sink: Arc<dyn Sink>,
    /// What the connection is doing: every stored batch is an event.
    pub liveness: Arc<Liveness>,
    answers: mpsc::Sender<(String, Answer)>,
    pushed: Option<mpsc::Sender<Pushed>>,
    /// Received content being stored right now (history blobs, recovered batches).
    in_flight: Arc<AtomicUsize>,
}

/// Counts one piece of work in flight for as long as it lives (so an early return or a
/// panic cannot leave the count up).
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub fn start(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(counter))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What of an event the library delivered outside the durability hook must be stored:
/// batches no hook committed (messages the phone re-sent for placeholders, via
/// peer-data responses) and placeholders of messages that did not decrypt.
pub fn unhooked(event: &Event) -> Option<Vec<Received>> {
    match event {
        Event::Messages(batch) if !batch.hook_committed => Some(
            batch
                .iter()
                .map(|m| convert::receive(&m.info, &m.message))
                .collect(),
        ),
        // The placeholder's envelope names the sender's LID and number like any other.
        Event::UndecryptableMessage(u) => Some(vec![Received {
            inbound: convert::undecryptable(&u.info),
            identities: convert::lid_mappings(&u.info),
            poll: None,
        }]),
        _ => None,
    }
}

/// Stores what arrives outside the durability hook inline on the library's dispatch
/// path, which it blocks until the commit is done. That is what makes it commit before
/// ack where the library allows it: a peer-data response's recovered messages are
/// dispatched before the response itself is committed and acked, and an undecryptable
/// message's placeholder before the task that sends its retry receipt and ack. (Status
/// updates and newsletters are acked on arrival, before decryption: no handler can come
/// first; wabot stores neither by default.)
struct Unhooked(Wiring);

impl EventHandler for Unhooked {
    fn handle_event(&self, event: Arc<Event>) {
        if let Event::ContactNumberChanged(changed) = &*event {
            let change = convert::number_change(changed);
            let sink = &self.0.sink;
            if let Err(e) = tokio::task::block_in_place(|| sink.number_changed(change)) {
                log::error!("a contact's number change could not be stored: {e:#}");
            }
            return;
        }
        let Some(items) = unhooked(&event) else {
            return;
        };
        let _busy = InFlight::start(&self.0.in_flight);
        self.0.liveness.touch(wabot_core::clock::now_ms());
        let sink = &self.0.sink;
        // The dispatch runs on a worker of the multi-threaded runtime (see `runtime()`).
        if let Err(e) = tokio::task::block_in_place(|| sink.commit(items)) {
            log::error!("received messages could not be stored: {e:#}");
        }
    }

    fn interest(&self) -> EventInterest {
        EventInterest::of(&[
            EventKind::Messages,
            EventKind::UndecryptableMessage,
            EventKind::ContactNumberChanged,
        ])
    }
}

impl Wiring {
    /// The wiring, and the receiving end of on-demand history answers.
    pub fn new(sink: Arc<dyn Sink>) -> (Self, Answers) {
        let (answers, receiver) = mpsc::channel();
        let wiring = Self {
            sink,
            liveness: Arc::default(),
            answers,
            pushed: None,
            in_flight: Arc::new(AtomicUsize::new(0)),
        };
        (wiring, receiver)
    }

    /// Also reports every pushed (not requested) history blob once stored.
    pub fn report_pushed(&mut self) -> mpsc::Receiver<Pushed> {
        let (tx, rx) = mpsc::channel();
        self.pushed = Some(tx);
        rx
    }

    /// The in-flight counter, for tests that stand in for the event handler.
    #[cfg(any(test, feature = "test-support"))]
    pub fn in_flight_counter(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.in_flight)
    }

    /// What the library's dispatch does with an event arriving outside the hook.
    #[cfg(any(test, feature = "test-support"))]
    pub fn dispatch_inline(&self, event: Arc<Event>) {
        Unhooked(self.clone()).handle_event(event);
    }

    /// How many received pieces are being stored right now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Waits (at most `limit`) until nothing received is still being stored; true when
    /// everything landed.
    pub async fn settle(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.in_flight() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// The durability hook, as the library calls it.
    pub fn hook(&self) -> Hook {
        Hook {
            sink: Arc::clone(&self.sink),
            liveness: Arc::clone(&self.liveness),
            retries: crate::hook::COMMIT_RETRIES.to_vec(),
        }
    }

    /// Adds the durability hook and the history handler to a client builder.
    pub fn apply<B, T, H, R>(&self, builder: BotBuilder<B, T, H, R>) -> BotBuilder<B, T, H, R> {
        let wiring = self.clone();
        builder
            .with_inbound_durability_hook(self.hook())
            .with_event_handler(Unhooked(self.clone()))
            .on_event_for(&[EventKind::HistorySync], move |event, client| {
                let wiring = wiring.clone();
                // Counted before anything else, so a shutdown waiting for idle sees it.
                let busy = InFlight::start(&wiring.in_flight);
                async move {
                    if let Event::HistorySync(blob) = &*event {
                        let blob = LazyHistorySync::clone(blob);
                        let own = client.pn();
                        let stored =
                            tokio::task::spawn_blocking(move || wiring.spool_and_take(&blob, own))
                                .await
                                .map_err(anyhow::Error::from)
                                .and_then(|r| r);
                        if let Err(e) = stored {
                            log::error!("history could not be stored: {e:#}");
                        }
                    }
                    drop(busy);
                }
            })
    }

    /// Commits the chunk to the spool, then reads and stores it. The library sent the
    /// chunk's receipt before downloading it: WhatsApp never sends it again, so it is
    /// committed before anything can fail.
    pub fn spool_and_take(&self, blob: &LazyHistorySync, own: Option<Jid>) -> Result<()> {
        let chunk = HistoryChunk {
            compressed: blob.compressed_bytes().to_vec(),
            decompressed_size: blob.decompressed_size() as u64,
            sync_type: blob.sync_type(),
            chunk_order: blob.chunk_order(),
            progress: blob.progress(),
            request_id: blob.peer_data_request_session_id().map(str::to_string),
        };
        let id = self.sink.spool_history(&chunk)?;
        self.take(blob, own, id)
    }

    /// Stores the spooled chunks a crash or a failed read left (at every start, when the
    /// account's number is known); returns how many were stored.
    pub fn replay_spool(&self, own: Option<Jid>) -> Result<usize> {
        let mut stored = 0;
        for (id, chunk) in self.sink.unstored_history()? {
            let blob = LazyHistorySync::new(
                Bytes::from(chunk.compressed),
                usize::try_from(chunk.decompressed_size).unwrap_or(usize::MAX),
                chunk.sync_type,
                chunk.chunk_order,
                chunk.progress,
            )
            .with_peer_data_request_session_id(chunk.request_id);
            match self.take(&blob, own.clone(), id) {
                Ok(()) => stored += 1,
                Err(e) => log::warn!("spooled history chunk {id}: {e:#}"),
            }
        }
        if stored > 0 {
            log::info!("{stored} history chunks left by the last run were stored");
        }
        Ok(stored)
    }

    fn take(&self, blob: &LazyHistorySync, own: Option<Jid>, chunk: i64) -> Result<()> {
        let Some(sync) = blob.get() else {
            let error = "the history chunk did not decode";
            self.sink.history_unreadable(chunk, error)?;
            anyhow::bail!("{error} (kept as chunk {chunk})");
        };
        let Some(own) = own else {
            anyhow::bail!(
                "history arrived before the account's own number was known; it is stored at the next start"
            );
        };
        let requested = blob.peer_data_request_session_id().is_some();
        let mut read = history::blob(sync, &own, requested, blob.progress());
        read.chunk = Some(chunk);
        let answers = self.sink.history(read)?;
        let stored: usize = answers.iter().map(|(_, a)| a.messages.len()).sum();
        if requested {
            for answer in answers {
                // Nobody waiting (the request timed out) is fine: the messages are stored.
                let _ = self.answers.send(answer);
            }
        } else {
            log::info!(
                "history from WhatsApp: {stored} messages stored{}",
                blob.progress()
                    .map(|p| format!(" ({p}% of the transfer)"))
                    .unwrap_or_default()
            );
            if let Some(pushed) = &self.pushed {
                let _ = pushed.send(Pushed {
                    messages: stored,
                    percent: blob.progress(),
                });
            }
        }
        Ok(())
    }
}
