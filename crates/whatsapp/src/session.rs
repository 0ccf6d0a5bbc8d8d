//! A connection to WhatsApp as the linked device, for `listen` and for the jobs that
//! connect by themselves (`sync`, `media fetch`). It wires what arrives into the sink,
//! applies acks and receipts, keeps group names current and stays invisible when asked;
//! its owner waits on it with [`Session::wait`] and reads [`Session::status`].

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::mpsc;
use wabot_core::account::Verdict;
use wabot_core::clock;
use wabot_core::config::{Config, PacingSection, Presence};
use wabot_core::error::{self, Kind};
use wabot_core::sink::{Group, Sink, Status};
use whatsapp_rust::bot::BotHandle;
use whatsapp_rust::features::{GroupMetadata, GroupParticipant};
use whatsapp_rust::prelude::*;

use crate::events::{self, Ended};
use crate::on_demand::Live;
use crate::pacing::Pacer;
use crate::sender::ClientSender;
use crate::wiring::{Answers, Wiring};
use crate::{bounded, confirm, off_the_runtime, presence, runtime, standing};

/// How long stopping may wait for each of: received content still being stored, and the
/// connection's close. The library's own close flushes inbound commits (5 s), outbound
/// (5 s) and the device store: cutting it short can lose keys or acknowledged
/// messages. systemd's `TimeoutStopSec` must exceed twice this (deploy/).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);
/// How often [`Session::wait`] looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);

/// What the connection is doing, shared between the event handlers and the owner.
#[derive(Debug, Default)]
pub struct Liveness {
    connected: AtomicBool,
    /// The outbox may write: off from a (re)connect until the rows the old connection
    /// left unacknowledged were put back in the queue, so the drain and the reconnect
    /// never both send a row written moments earlier.
    sendable: AtomicBool,
    last_event: AtomicI64,
    detail: Mutex<String>,
}

impl Liveness {
    pub(crate) fn set(&self, connected: bool, detail: impl Into<String>) {
        self.connected.store(connected, Ordering::Relaxed);
        if let Ok(mut d) = self.detail.lock() {
            *d = detail.into();
        }
    }

    pub(crate) fn set_sendable(&self, sendable: bool) {
        self.sendable.store(sendable, Ordering::SeqCst);
    }

    pub(crate) fn sendable(&self) -> bool {
        self.sendable.load(Ordering::SeqCst)
    }

    pub(crate) fn touch(&self, now: i64) {
        self.last_event.store(now, Ordering::Relaxed);
    }
}

pub struct Session {
    runtime: Option<tokio::runtime::Runtime>,
    handle: Option<BotHandle>,
    wiring: Wiring,
    client: Arc<Client>,
    ended: mpsc::UnboundedReceiver<Ended>,
    answers: Option<Answers>,
}

impl Session {
    /// Connects with the device store at `config.device_store_path()` (prepared by the
    /// caller); `version` is the WhatsApp Web version to claim, when the server asked
    /// for a newer one than the library's.
    pub fn start(
        config: &Config,
        version: Option<(u32, u32, u32)>,
        sink: Arc<dyn Sink>,
    ) -> Result<Session> {
        let (wiring, answers) = Wiring::new(Arc::clone(&sink));
        let runtime = runtime()?;
        let (ended_tx, ended) = mpsc::unbounded_channel();
        let invisible = config.file.whatsapp.presence == Presence::Unavailable;
        let store_path = config.device_store_path();
        let live = Arc::clone(&wiring.liveness);
        let (client, handle) = runtime.block_on(async {
            let store = SqliteStore::new(&store_path.to_string_lossy())
                .await
                .context("opening the device store")?;
            let mut builder = Bot::builder().with_backend(store);
            if let Some(version) = version {
                builder = builder.with_version(version);
            }
            let bot = wiring
                .apply(builder)
                .on_event(move |event, client| {
                    let (live, ended, sink) =
                        (Arc::clone(&live), ended_tx.clone(), Arc::clone(&sink));
                    async move {
                        presence::follow(invisible, &event, &client);
                        if let Some(verdict) = events::on_event(&event, &live, &ended) {
                            record_standing(verdict, &sink).await;
                        }
                        settle_sends(event, &sink, client, &live).await;
                    }
                })
                .build()
                .await
                .context("starting the WhatsApp client")?;
            let client = bot.client();
            anyhow::Ok((client, bot.spawn()))
        })?;
        // What the last run spooled but did not store (idempotent beside new arrivals).
        if let Err(e) = wiring.replay_spool(client.pn()) {
            log::warn!("the history spool could not be read: {e:#}");
        }
        Ok(Session {
            runtime: Some(runtime),
            handle: Some(handle),
            wiring,
            client,
            ended,
            answers: Some(answers),
        })
    }

    /// Waits at most `timeout` for the login; a job that needs the connection now ends
    /// with a clear error otherwise.
    pub fn wait_connected(&self, timeout: Duration) -> Result<()> {
        let connected = self.block_on(self.client.wait_for_connected(timeout))?;
        connected.map_err(|_| {
            error::failure(
                Kind::Temporary,
                format!(
                    "could not connect to WhatsApp within {} s: check the network and that \
                     this device is still linked (`wabot stats` shows the listener)",
                    timeout.as_secs()
                ),
            )
        })
    }

    /// Blocks until the session ends by itself, `stop` turns true (then `None`), or
    /// `at_most` passes (`None`).
    pub fn wait(&mut self, stop: &AtomicBool, at_most: Duration) -> Option<Ended> {
        let (runtime, handle) = (self.runtime.as_ref()?, self.handle.as_mut()?);
        let ended = &mut self.ended;
        runtime.block_on(async {
            let stopped = async {
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(STOP_POLL).await;
                }
            };
            tokio::select! {
                () = handle => Some(Ended::Closed),
                e = ended.recv() => Some(e.unwrap_or(Ended::Closed)),
                () = stopped => None,
                () = tokio::time::sleep(at_most) => None,
            }
        })
    }

    pub fn status(&self) -> Status {
        let live = &self.wiring.liveness;
        let last = live.last_event.load(Ordering::Relaxed);
        Status {
            connected: live.connected.load(Ordering::Relaxed),
            detail: live.detail.lock().map(|d| d.clone()).unwrap_or_default(),
            last_event_at: (last > 0).then_some(last),
        }
    }

    /// How long the connection has received nothing at all (no message, ack, receipt or
    /// pong), if it is up and has received before.
    pub fn silent_for(&self, now: i64) -> Option<i64> {
        let last = self.client.stats().last_data_received_ms as i64;
        silence(self.client.is_connected(), last, now)
    }

    /// Drops the transport for the library's reconnect (which redelivers what it did
    /// not acknowledge), saying why in the log and the heartbeat.
    pub fn reconnect(&self, why: &str) {
        log::warn!("reconnecting: {why}");
        self.wiring
            .liveness
            .set(false, format!("reconnecting: {why}"));
        self.wiring.liveness.set_sendable(false);
        let client = Arc::clone(&self.client);
        if let Some(runtime) = &self.runtime {
            runtime.spawn(async move { client.reconnect_immediately().await });
        }
    }

    /// The outbox's transport over this connection, for a thread of its own.
    pub fn sender(&self, pacing: &PacingSection) -> Result<ClientSender> {
        Ok(ClientSender {
            runtime: self.handle()?,
            client: Arc::clone(&self.client),
            liveness: Arc::clone(&self.wiring.liveness),
            pacer: Pacer::new(pacing),
        })
    }

    /// On-demand history and media downloads over this connection (once: it takes the
    /// answers' channel).
    pub fn live(&mut self) -> Result<Live> {
        let answers = self
            .answers
            .take()
            .context("the session's history source was taken already")?;
        Ok(Live {
            runtime: self.handle()?,
            client: Arc::clone(&self.client),
            answers,
        })
    }

    /// Closes the connection after what was received is stored (each wait bounded by
    /// [`SHUTDOWN_GRACE`]); `why` is what the status says afterwards. Threads using a
    /// [`ClientSender`] or [`Live`] must have stopped: their calls fail from now on.
    pub fn close(&mut self, why: &str) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if let Some(handle) = self.handle.take() {
            if !runtime.block_on(self.wiring.settle(SHUTDOWN_GRACE)) {
                log::warn!("received history was still being stored at shutdown");
            }
            if bounded(runtime.handle(), SHUTDOWN_GRACE, handle.shutdown()).is_err() {
                log::warn!("the connection did not close in time");
            }
        }
        self.wiring.liveness.set(false, why);
        // Do not wait for the library's retry loops.
        runtime.shutdown_timeout(Duration::from_secs(1));
    }

    fn handle(&self) -> Result<tokio::runtime::Handle> {
        Ok(self
            .runtime
            .as_ref()
            .context("the WhatsApp session is closed")?
            .handle()
            .clone())
    }

    fn block_on<F: Future>(&self, future: F) -> Result<F::Output> {
        Ok(self
            .runtime
            .as_ref()
            .context("the WhatsApp session is closed")?
            .block_on(future))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close("closed");
    }
}

/// A ban, a logout or a refusal is recorded the moment it arrives, whoever owns the
/// session (`listen`, or a job connecting by itself), so the next command refuses to
/// connect instead of trying again.
async fn record_standing(verdict: Verdict, sink: &Arc<dyn Sink>) {
    if verdict.as_standing().is_none() {
        return;
    }
    let sink = Arc::clone(sink);
    off_the_runtime("account standing", move || match verdict.as_standing() {
        Some(standing) => sink.record_standing(standing),
        None => Ok(()),
    })
    .await;
}

/// How long a connection that is up has been silent, from the instant it last received
/// anything (0: never yet, as right after connecting).
fn silence(connected: bool, last_received: i64, now: i64) -> Option<i64> {
    (connected && last_received > 0).then(|| (now - last_received).max(0))
}

/// Acks, receipts and reconnects, applied to the outbox through the sink; and on every
/// connect, the group chats' current names. The outbox writes again only once a
/// reconnect's requeue committed (or failed: then the ack timeout resends).
pub(crate) async fn settle_sends(
    event: Arc<Event>,
    sink: &Arc<dyn Sink>,
    client: Arc<Client>,
    live: &Liveness,
) {
    if !confirm::concerns_sends(&event) {
        return;
    }
    let connected = matches!(&*event, Event::Connected(_));
    if confirm::refuses_reachout(&event) {
        tokio::spawn(standing::learn_reachout(
            Arc::clone(&client),
            Arc::clone(sink),
        ));
    }
    if connected {
        live.set_sendable(false);
        tokio::spawn(refresh_groups(client, Arc::clone(sink)));
    }
    let sink = Arc::clone(sink);
    let at = clock::now_ms();
    off_the_runtime("outbox confirmation", move || {
        confirm::settle(&event, at, &*sink)
    })
    .await;
    if connected {
        live.set_sendable(true);
    }
}

/// Keeps group chats named after their current subjects, their admins known (who may
/// revoke others' messages), and the LIDs their participant lists reveal mapped.
async fn refresh_groups(client: Arc<Client>, sink: Arc<dyn Sink>) {
    let groups = match client.groups().get_participating().await {
        Ok(groups) => groups,
        Err(e) => {
            log::warn!("could not fetch the groups: {e}");
            return;
        }
    };
    let groups: Vec<Group> = groups
        .into_iter()
        .map(|(jid, meta)| group(jid, meta))
        .collect();
    off_the_runtime("groups", move || sink.groups(groups)).await;
}

/// What wabot keeps of a group's metadata.
fn group(jid: Jid, meta: GroupMetadata) -> Group {
    let identity =
        |p: &GroupParticipant| p.phone_number.as_ref().unwrap_or(&p.jid).to_non_ad_string();
    Group {
        jid: jid.to_non_ad_string(),
        subject: meta.subject,
        admins: meta
            .participants
            .iter()
            .filter(|p| p.is_admin())
            .map(identity)
            .collect(),
        identities: meta
            .participants
            .iter()
            .filter_map(|p| {
                let lid = p.lid.as_ref().or(p.jid.is_lid().then_some(&p.jid))?;
                let phone = p.phone_number.as_ref()?;
                Some((lid.to_non_ad_string(), phone.to_non_ad_string()))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_up_but_silent_is_noticed() {
        const MIN: i64 = 60_000;
        let now = 100 * MIN;
        assert_eq!(silence(true, now - 6 * MIN, now), Some(6 * MIN));
        assert_eq!(silence(true, now, now), Some(0), "just received");
        assert_eq!(
            silence(false, now - 6 * MIN, now),
            None,
            "down: reconnecting anyway"
        );
        assert_eq!(silence(true, 0, now), None, "nothing received yet");
    }

    #[test]
    fn a_reconnect_keeps_the_outbox_from_writing_until_requeued() {
        let live = Liveness::default();
        assert!(!live.sendable(), "not before the first connect settled");
        live.set_sendable(true);
        assert!(live.sendable());
        live.set_sendable(false);
        assert!(!live.sendable());
    }
}
