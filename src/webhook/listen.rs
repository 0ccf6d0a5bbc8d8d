//! `wabot listen` on `twilio` and `cloud-api`: the webhook server, a sender thread
//! (the outbox, read marks, media downloads) and the heartbeat, until SIGTERM/SIGINT.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Result;

use super::server::{self, Shared};
use super::spool;
use super::store::Stored;
use crate::config::{Config, Transport};
use crate::db::{Db, Heartbeat, MediaRow};
use crate::media::Fetch;
use crate::pipeline::drain;
use crate::policy::Policy;
use crate::status::HeartbeatState;
use crate::{arrival, clock, interrupt};
use wabot_webhooks::{Api, Cloud, Twilio};

const WORKERS: usize = 4;
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
const IDLE: Duration = Duration::from_millis(500);

/// A provider's REST side: sends, read marks, file downloads.
pub trait Outgoing: Api + Fetch + Send {}
impl<T: Api + Fetch + Send> Outgoing for T {}

impl Fetch for Twilio {
    fn fetch(&mut self, row: &MediaRow) -> Result<Vec<u8>> {
        Twilio::fetch(self, row.remote.as_ref(), &row.message_id)
    }
}

impl Fetch for Cloud {
    fn fetch(&mut self, row: &MediaRow) -> Result<Vec<u8>> {
        Cloud::fetch(self, row.remote.as_ref(), &row.message_id)
    }
}

/// The REST side of the configured transport (also `media fetch` without a listener).
pub fn rest(config: &Config) -> Result<(Box<dyn Outgoing>, String)> {
    Ok(match config.file.transport {
        Transport::Twilio => {
            let twilio = Twilio::new(config)?;
            let own = twilio.own_jid();
            (Box::new(twilio), own)
        }
        _ => (
            Box::new(Cloud::new(config)?),
            config.self_jid().ok_or_else(|| {
                crate::error::config(
                    "whatsapp.phone_number: the business number is needed on the Cloud API",
                )
            })?,
        ),
    })
}

pub fn run(config: Config, reload: impl Fn() -> Result<Config>) -> Result<()> {
    let _lock = crate::lock::acquire(&config.database_path)?;
    let provider: Box<dyn super::Provider> = match config.file.transport {
        Transport::Twilio => Box::new(Twilio::new(&config)?),
        _ => Box::new(Cloud::new(&config)?),
    };
    let (mut api, own_jid) = rest(&config)?;
    let public = wabot_webhooks::public_url(&config)?;
    let addr = config.file.webhook.listen.clone();
    let stop = interrupt::flag()?;
    let shared = Arc::new(Shared {
        http: server::bind(&addr)?,
        provider,
        path: public.path().to_string(),
        max_body: usize::try_from(config.file.webhook.max_body_bytes).unwrap_or(usize::MAX),
        policy: Arc::new(RwLock::new(Policy::new(&config))),
        own_jid: own_jid.clone(),
        stop: Arc::clone(&stop),
        last_event: AtomicI64::new(0),
        arrival: arrival::for_listener(&config)?,
        spool: spool::dir(&config.database_path),
    });
    let transport = config.file.transport.name();
    log::info!(
        "listening for {transport} webhooks on {addr}, path {}",
        shared.path
    );
    let (stored_tx, stored_rx) = mpsc::channel::<Stored>();
    let mut threads = Vec::new();
    for _ in 0..WORKERS {
        let db = Db::open(&config.database_path)?;
        db.set_busy_timeout(server::STORE_PATIENCE)?;
        let (shared, tx) = (Arc::clone(&shared), stored_tx.clone());
        threads.push(std::thread::spawn(move || server::work(&shared, db, &tx)));
    }
    drop(stored_tx);
    let mut sender_db = Db::open(&config.database_path)?;
    let media_dir = config.media_dir();
    let max_bytes = wabot_webhooks::max_bytes(&config);
    let sender_stop = Arc::clone(&stop);
    threads.push(std::thread::spawn(move || {
        while !sender_stop.load(Ordering::Relaxed) {
            let busy = step(
                &mut sender_db,
                api.as_mut(),
                &own_jid,
                &stored_rx,
                &media_dir,
                max_bytes,
            )
            .unwrap_or_else(|e| {
                log::warn!("outbox: {e:#}");
                false
            });
            if !busy {
                std::thread::sleep(IDLE);
            }
        }
    }));
    let mut db = Db::open(&config.database_path)?;
    let started = clock::now_ms();
    let detail = format!("{transport} webhook on {addr}");
    let mut hash = config.hash.clone();
    while !stop.load(Ordering::Relaxed) {
        beat(&mut db, &shared, started, HeartbeatState::Running, &detail)?;
        if let Err(e) = replay_spool(&shared, &mut db) {
            log::warn!("webhooks kept on disk are not stored yet: {e:#}");
        }
        match reload() {
            Ok(new) if new.hash != hash => {
                log::info!(
                    "app.json changed: now monitoring {} entities",
                    new.entities.len()
                );
                if let Ok(mut policy) = shared.policy.write() {
                    *policy = Policy::new(&new);
                }
                hash = new.hash;
            }
            Ok(_) => {}
            Err(e) => log::warn!("app.json could not be reloaded, keeping the old one: {e:#}"),
        }
        crate::clock::poll_until(
            Some(std::time::Instant::now() + HEARTBEAT_EVERY),
            Duration::from_millis(100),
            &stop,
            || Ok(None::<()>),
        )?;
    }
    log::info!("stopping: signal");
    for thread in threads {
        if thread.join().is_err() {
            log::error!("a listener thread panicked");
        }
    }
    if let Some(arrival) = &shared.arrival {
        // Every request is answered by now: no run is started after this.
        arrival.shutdown(arrival::LISTENER_GRACE);
    }
    beat(&mut db, &shared, started, HeartbeatState::Stopped, &detail)
}

/// Stores the requests the workers had to keep on disk, now that they may go in.
fn replay_spool(shared: &Shared, db: &mut Db) -> Result<()> {
    let stored = spool::replay(&shared.spool, |url, headers, body| {
        match shared.provider.read(url, headers, body) {
            Ok(inbound) => server::store_verified(shared, db, inbound).map(|_| None),
            Err(refusal) => Ok(Some(format!("{refusal:?}"))),
        }
    })?;
    if stored > 0 {
        log::info!("{stored} webhook request(s) kept on disk are stored now");
    }
    Ok(())
}

/// One round of the sender thread; returns whether it did something.
fn step(
    db: &mut Db,
    api: &mut dyn Outgoing,
    own_jid: &str,
    stored: &Receiver<Stored>,
    media_dir: &std::path::Path,
    max_bytes: u64,
) -> Result<bool> {
    let mut busy = false;
    while let Ok(outcome) = stored.try_recv() {
        for id in &outcome.pending_ids {
            api.mark_read(id);
        }
        busy = true;
    }
    busy |= drain::drain_once(db, api, own_jid, clock::now_ms(), 1)?.attempted() > 0;
    if let Some(row) = db.next_media_download(clock::now_ms())? {
        match crate::media::download(db, api, media_dir, max_bytes, &row) {
            Ok(path) => log::info!("media of {} saved as {}", row.message_id, path.display()),
            Err(e) => log::warn!("media of {} not downloaded: {e:#}", row.message_id),
        }
        busy = true;
    }
    Ok(busy)
}

fn beat(
    db: &mut Db,
    shared: &Shared,
    started: i64,
    state: HeartbeatState,
    detail: &str,
) -> Result<()> {
    let last = shared.last_event.load(Ordering::Relaxed);
    db.write_heartbeat(&Heartbeat {
        pid: i64::from(std::process::id()),
        started_at: started,
        updated_at: clock::now_ms(),
        connected: state == HeartbeatState::Running,
        state,
        detail: Some(detail.into()),
        last_event_at: (last > 0).then_some(last),
    })?;
    Ok(())
}
