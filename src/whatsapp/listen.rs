//! `wabot listen`: owns the connection, stores what arrives, sends the outbox, and
//! tells everyone through its heartbeat how it is doing.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::mpsc;
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::events::ConnectFailure;

use super::pacing::{self, Pacer};
use super::standing::{self, Verdict};
use super::wiring::Wiring;
use super::{device, jobs, presence, receipts, runtime};
use crate::arrival::{self, Arrival};
use crate::clock;
use crate::config::{Config, Presence};
use crate::db::{Db, Heartbeat, OutboxRow};
use crate::error::{self, Kind};
use crate::outbox::{FailureKind, SendFailure, Sent, Transport};
use crate::pipeline::drain;
use crate::policy::Policy;
use crate::status::HeartbeatState;

const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
const DRAIN_EVERY: Duration = Duration::from_millis(500);
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long stopping may wait for each of: received content still being stored, and the
/// connection's close. The library's own close flushes inbound commits (5 s), outbound
/// (5 s) and the device store: cutting it short can lose keys or acknowledged
/// messages. systemd's `TimeoutStopSec` must exceed twice this (deploy/).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// Why the listener stops.
#[derive(Debug)]
enum Exit {
    Signal,
    /// A ban, a logout or an outdated client: needs a human (or a new version).
    Standing(Verdict),
    Replaced,
    Failed(String),
    Ended,
}

/// What the connection is doing, shared between the event handler and the heartbeat.
struct Live {
    connected: AtomicBool,
    last_event: Arc<AtomicI64>,
    detail: Mutex<String>,
}

impl Live {
    fn set(&self, connected: bool, detail: impl Into<String>) {
        self.connected.store(connected, Ordering::Relaxed);
        if let Ok(mut d) = self.detail.lock() {
            *d = detail.into();
        }
    }
}

/// Runs until a signal or a terminal connection event; `reload` re-reads app.json.
pub fn run(
    config: Config,
    reload: impl Fn() -> Result<Config> + Send + Sync + 'static,
) -> Result<()> {
    let _lock = crate::lock::acquire(&config.database_path)?;
    let account = super::session::require_device(&config)?;
    let state = Db::open(&config.database_path)?.account_state()?;
    // A ban or a logout stands until it ends or the device is paired again: reconnecting
    // now would only make WhatsApp's view of this number worse.
    if let Some(verdict) = standing::refusal(&state, clock::now_ms()) {
        return Err(standing::failure(&verdict, config.timezone()));
    }
    let version = state
        .client_version
        .as_deref()
        .and_then(standing::parse_version);
    log::info!("listening as {}", device::display_number(&account));
    let arrival = arrival::for_listener(&config)?;
    let rt = runtime()?;
    let reload = Arc::new(reload);
    let started = |version| {
        serve(
            &config,
            Arc::clone(&reload),
            &account,
            version,
            arrival.clone(),
        )
    };
    let mut exit = rt.block_on(started(version));
    if matches!(exit, Ok(Exit::Standing(Verdict::Outdated))) {
        // WhatsApp wants a newer web client: fetch its version and try once more.
        let db = std::sync::Mutex::new(Db::open(&config.database_path)?);
        match rt.block_on(standing::fetch_current_version(&db)) {
            Ok(current) => exit = rt.block_on(started(Some(current))),
            Err(e) => log::warn!("could not fetch the current WhatsApp Web version: {e:#}"),
        }
    }
    if let Some(arrival) = arrival {
        // Received messages are all stored by now: no run is started after this.
        arrival.shutdown(arrival::LISTENER_GRACE);
    }
    rt.shutdown_timeout(SHUTDOWN_GRACE);
    outcome(exit?, config.timezone())
}

async fn serve(
    config: &Config,
    reload: Arc<impl Fn() -> Result<Config> + Send + Sync + 'static>,
    account: &str,
    version: Option<(u32, u32, u32)>,
    arrival: Option<Arc<Arrival>>,
) -> Result<Exit> {
    let (mut wiring, answers) = Wiring::new(Db::open(&config.database_path)?, Policy::new(config));
    if let Some(arrival) = arrival {
        wiring.answer_on_arrival(arrival);
    }
    let db = Arc::clone(&wiring.db);
    let policy = Arc::clone(&wiring.policy);
    let live = Arc::new(Live {
        connected: AtomicBool::new(false),
        last_event: Arc::clone(&wiring.last_event),
        detail: Mutex::new("connecting".into()),
    });
    let (exit_tx, mut exit_rx) = mpsc::unbounded_channel::<Exit>();
    let store_path = config.device_store_path();
    device::prepare(&store_path)?;
    let store = SqliteStore::new(&store_path.to_string_lossy())
        .await
        .context("opening the device store")?;
    let events_live = Arc::clone(&live);
    let events_db = Arc::clone(&db);
    let invisible = config.file.whatsapp.presence == Presence::Unavailable;
    let mut builder = Bot::builder().with_backend(store);
    if let Some(version) = version {
        builder = builder.with_version(version);
    }
    let own_jid = crate::jid::normalize(account).unwrap_or_else(|_| account.to_string());
    let events_own_jid = own_jid.clone();
    let bot = wiring
        .apply(builder)
        .on_event(move |event, client| {
            let live = Arc::clone(&events_live);
            let exit = exit_tx.clone();
            let db = Arc::clone(&events_db);
            let own = events_own_jid.clone();
            async move {
                if matches!(&*event, Event::Connected(_)) {
                    tokio::spawn(refresh_group_names(Arc::clone(&client), Arc::clone(&db)));
                }
                if invisible && presence::announces_available(&event) {
                    tokio::spawn(presence::stay_unavailable(client));
                }
                on_event(&event, &live, &exit);
                if matches!(
                    &*event,
                    Event::ServerAck(_) | Event::Receipt(_) | Event::Connected(_)
                ) {
                    confirm_sends(db, event, own).await;
                }
            }
        })
        .build()
        .await
        .context("starting the WhatsApp client")?;
    let client = bot.client();
    let mut handle = bot.spawn();

    let stop = Arc::new(AtomicBool::new(false));
    let drainer = spawn_drainer(
        config,
        Arc::clone(&client),
        Arc::clone(&stop),
        own_jid.clone(),
    )?;
    let worker = jobs::spawn(
        config,
        Arc::clone(&client),
        answers,
        Arc::clone(&policy),
        Arc::clone(&stop),
    )?;
    let beat = tokio::spawn(heartbeat_loop(
        Arc::clone(&db),
        Arc::clone(&live),
        Arc::clone(&policy),
        config.hash.clone(),
        reload,
    ));

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let exit = tokio::select! {
        () = &mut handle => Exit::Ended,
        e = exit_rx.recv() => e.unwrap_or(Exit::Ended),
        _ = terminate.recv() => Exit::Signal,
        _ = tokio::signal::ctrl_c() => Exit::Signal,
    };
    log::info!("stopping: {exit:?}");
    // Let the send in flight finish before the connection goes, but not for long.
    stop.store(true, Ordering::Relaxed);
    let drained = tokio::task::spawn_blocking(move || (drainer.join(), worker.join()));
    if tokio::time::timeout(SHUTDOWN_GRACE / 2, drained)
        .await
        .is_err()
    {
        log::warn!("a send was still in flight at shutdown; it is retried with the same id");
    }
    beat.abort();
    if !wiring.settle(SHUTDOWN_GRACE).await {
        log::warn!("received history was still being stored at shutdown");
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, handle.shutdown())
        .await
        .is_err()
    {
        log::warn!("the connection did not close in time");
    }
    let state = format!("{exit:?}");
    live.set(false, state.clone());
    let db = Arc::clone(&db);
    let live2 = Arc::clone(&live);
    let verdict = match &exit {
        Exit::Standing(v) => Some(v.clone()),
        _ => None,
    };
    tokio::task::spawn_blocking(move || -> Result<()> {
        if let Some(verdict) = verdict {
            let mut db = db
                .lock()
                .map_err(|_| anyhow::anyhow!("database lock poisoned"))?;
            standing::record(&mut db, &verdict)?;
        }
        write_heartbeat(&db, &live2, HeartbeatState::Stopped)
    })
    .await??;
    Ok(exit)
}

fn outcome(exit: Exit, tz: chrono_tz::Tz) -> Result<()> {
    match exit {
        Exit::Signal => Ok(()),
        Exit::Standing(verdict) => Err(standing::failure(&verdict, tz)),
        Exit::Replaced => Err(error::failure(
            Kind::Unavailable,
            "another client took over this WhatsApp session (stream replaced); is a second wabot running elsewhere with a copy of the device store?",
        )),
        Exit::Failed(detail) => Err(anyhow::anyhow!("WhatsApp refused the connection: {detail}")),
        Exit::Ended => Err(error::failure(
            Kind::Temporary,
            "the WhatsApp connection ended; restart to reconnect",
        )),
    }
}

fn on_event(event: &Event, live: &Live, exit: &mpsc::UnboundedSender<Exit>) {
    live.last_event.store(clock::now_ms(), Ordering::Relaxed);
    let stop = |e: Exit| {
        let _ = exit.send(e);
    };
    match event {
        Event::Connected(_) => {
            log::info!("connected");
            live.set(true, "connected");
        }
        Event::Disconnected(d) => {
            log::warn!("disconnected ({:?}); reconnecting", d.reason);
            live.set(false, format!("disconnected: {:?}", d.reason));
        }
        Event::LoggedOut(_) | Event::TemporaryBan(_) | Event::ClientOutdated(_) => {
            if let Some(verdict) = standing::verdict(event, clock::now_ms()) {
                stop(Exit::Standing(verdict));
            }
        }
        Event::StreamReplaced(_) => stop(Exit::Replaced),
        Event::ConnectFailure(ConnectFailure {
            reason, message, ..
        }) if !reason.should_reconnect() => {
            stop(Exit::Failed(format!(
                "{reason:?} {}",
                message.as_deref().unwrap_or("")
            )));
        }
        _ => {}
    }
}

/// Applies acks, receipts and reconnects to the outbox (see [`super::confirm`]).
async fn confirm_sends(db: Arc<Mutex<Db>>, event: Arc<Event>, own: String) {
    let applied = tokio::task::spawn_blocking(move || -> Result<()> {
        let mut db = db
            .lock()
            .map_err(|_| anyhow::anyhow!("database lock poisoned"))?;
        super::confirm::apply(&mut db, &event, &own, clock::now_ms())
    })
    .await;
    if let Ok(Err(e)) | Err(e) = applied.map_err(anyhow::Error::from) {
        log::warn!("outbox confirmation: {e:#}");
    }
}

/// Keeps group chats named after their current subjects (on every connect).
async fn refresh_group_names(client: Arc<Client>, db: Arc<Mutex<Db>>) {
    let groups = match client.groups().get_participating().await {
        Ok(groups) => groups,
        Err(e) => {
            log::warn!("could not fetch group subjects: {e}");
            return;
        }
    };
    let subjects: Vec<(String, String)> = groups
        .into_iter()
        .map(|(jid, meta)| (jid.to_non_ad_string(), meta.subject))
        .filter(|(_, subject)| !subject.is_empty())
        .collect();
    let stored = tokio::task::spawn_blocking(move || -> Result<()> {
        db.lock()
            .map_err(|_| anyhow::anyhow!("database lock poisoned"))?
            .name_groups(&subjects)?;
        Ok(())
    })
    .await;
    if let Ok(Err(e)) | Err(e) = stored.map_err(anyhow::Error::from) {
        log::warn!("could not store group subjects: {e:#}");
    }
}

fn write_heartbeat(db: &Mutex<Db>, live: &Live, state: HeartbeatState) -> Result<()> {
    static STARTED: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let started = *STARTED.get_or_init(clock::now_ms);
    let last = live.last_event.load(Ordering::Relaxed);
    let beat = Heartbeat {
        pid: i64::from(std::process::id()),
        started_at: started,
        updated_at: clock::now_ms(),
        connected: live.connected.load(Ordering::Relaxed),
        state,
        detail: live.detail.lock().ok().map(|d| d.clone()),
        last_event_at: (last > 0).then_some(last),
    };
    db.lock()
        .map_err(|_| anyhow::anyhow!("database lock poisoned"))?
        .write_heartbeat(&beat)?;
    Ok(())
}

/// Every few seconds: the heartbeat, and a look at app.json for changed entities.
async fn heartbeat_loop(
    db: Arc<Mutex<Db>>,
    live: Arc<Live>,
    policy: Arc<RwLock<Policy>>,
    mut hash: String,
    reload: Arc<impl Fn() -> Result<Config> + Send + Sync + 'static>,
) {
    loop {
        let (db2, live2, policy2, reload2, seen) = (
            Arc::clone(&db),
            Arc::clone(&live),
            Arc::clone(&policy),
            Arc::clone(&reload),
            hash.clone(),
        );
        let result = tokio::task::spawn_blocking(move || -> Result<String> {
            write_heartbeat(&db2, &live2, HeartbeatState::Running)?;
            match reload2() {
                Ok(config) if config.hash != seen => {
                    log::info!(
                        "app.json changed: now monitoring {} entities",
                        config.entities.len()
                    );
                    if let Ok(mut p) = policy2.write() {
                        *p = Policy::new(&config);
                    }
                    Ok(config.hash)
                }
                Ok(_) => Ok(seen),
                Err(e) => {
                    log::warn!("app.json could not be reloaded, keeping the old one: {e:#}");
                    Ok(seen)
                }
            }
        })
        .await;
        match result {
            Ok(Ok(new)) => hash = new,
            Ok(Err(e)) => log::warn!("heartbeat: {e:#}"),
            Err(e) => log::warn!("heartbeat task: {e}"),
        }
        tokio::time::sleep(HEARTBEAT_EVERY).await;
    }
}

/// Sends through the live client, paced, waiting at most [`SEND_TIMEOUT`].
struct ClientSender {
    runtime: tokio::runtime::Handle,
    client: Arc<Client>,
    pacer: Pacer,
}

impl Transport for ClientSender {
    fn name(&self) -> &'static str {
        "WhatsApp"
    }

    fn send(&mut self, row: &OutboxRow) -> Result<Sent, SendFailure> {
        let (chat_jid, text) = (row.chat_jid.as_str(), row.content.as_str());
        let to: Jid = chat_jid.parse().map_err(|e| {
            SendFailure::new(
                FailureKind::Final,
                format!("{chat_jid} is not a JID: {e:?}"),
            )
        })?;
        std::thread::sleep(self.pacer.wait_before(
            chat_jid,
            std::time::Instant::now(),
            fastrand::f64(),
        ));
        if self.pacer.typing {
            // Best effort: a chat state that does not arrive only loses the "typing…".
            let composing = self.client.chatstate();
            let _ = self.runtime.block_on(tokio::time::timeout(
                Duration::from_secs(5),
                composing.send_composing(&to),
            ));
            std::thread::sleep(pacing::typing_for(text));
        }
        self.pacer.sent(chat_jid, std::time::Instant::now());
        let options = SendOptions::default().with_message_id(row.message_id.clone());
        let send = self
            .client
            .send_message_with_options(&to, wa::Message::text(text), options);
        let passing = FailureKind::Passing {
            retry_after_ms: None,
        };
        match self
            .runtime
            .block_on(tokio::time::timeout(SEND_TIMEOUT, send))
        {
            Ok(Ok(_)) => Ok(Sent::Written),
            Ok(Err(e @ whatsapp_rust::SendError::InvalidRequest(_))) => {
                Err(SendFailure::new(FailureKind::Final, e.to_string()))
            }
            Ok(Err(e)) => Err(SendFailure::new(passing, e.to_string())),
            Err(_) => Err(SendFailure::new(
                passing,
                format!("no answer from WhatsApp within {SEND_TIMEOUT:?}"),
            )),
        }
    }
}

/// The outbox drainer: a plain thread with its own database connection, polling for new
/// rows (they appear within about a second) while the client is logged in.
fn spawn_drainer(
    config: &Config,
    client: Arc<Client>,
    stop: Arc<AtomicBool>,
    own_jid: String,
) -> Result<std::thread::JoinHandle<()>> {
    let mut db = Db::open(&config.database_path)?;
    let mut sender = ClientSender {
        runtime: tokio::runtime::Handle::current(),
        client: Arc::clone(&client),
        pacer: Pacer::new(&config.file.whatsapp.pacing),
    };
    let read_receipts = config.file.whatsapp.read_receipts;
    Ok(std::thread::spawn(move || {
        // One row at a time, so a stop request waits for one send at most.
        while !stop.load(Ordering::Relaxed) {
            let attempted = if client.is_logged_in() {
                drain::drain_once(&mut db, &mut sender, &own_jid, clock::now_ms(), 1)
                    .map(|r| r.attempted())
                    .unwrap_or_else(|e| {
                        log::warn!("outbox: {e:#}");
                        0
                    })
            } else {
                0
            };
            if read_receipts && client.is_logged_in() {
                receipts::send_read(&mut db, &client, &sender.runtime);
            }
            if attempted == 0 {
                std::thread::sleep(DRAIN_EVERY);
            }
        }
    }))
}
