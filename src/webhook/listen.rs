//! `wabot listen` on `twilio` and `cloud-api`: the one listener loop
//! ([`crate::pipeline::listen`]) over the webhook server, with a sender thread (the
//! outbox, read marks) and a media thread (downloads), until SIGTERM/SIGINT.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use anyhow::Result;

use super::http::{self, Front};
use super::server::{self, Job, Shared};
use super::spool;
use super::store::Stored;
use crate::config::{Config, Transport};
use crate::db::{Db, MediaRow};
use crate::media::Fetch;
use crate::pipeline::drain;
use crate::pipeline::listen::{self, Connection as _, Listener};
use crate::{clock, interrupt};
use wabot_webhooks::{Api, Cloud, Twilio};

const WORKERS: usize = 4;
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
    let mut listener = Listener::new(&config, reload)?;
    let provider: Box<dyn super::Provider> = match config.file.transport {
        Transport::Twilio => Box::new(Twilio::new(&config)?),
        _ => Box::new(Cloud::new(&config)?),
    };
    let (mut api, own_jid) = rest(&config)?;
    let public = wabot_webhooks::public_url(&config)?;
    let addr = config.file.webhook.listen.clone();
    let stop = interrupt::flag()?;
    let socket = http::bind(&addr)?;
    let path = public.path().to_string();
    let shared = Arc::new(Shared {
        provider,
        policy: Arc::clone(&listener.policy),
        own_jid: own_jid.clone(),
        last_event: AtomicI64::new(0),
        arrival: listener.arrival.clone(),
        spool: spool::dir(&config.database_path),
        busy_until: AtomicI64::new(0),
    });
    let transport = config.file.transport.name();
    log::info!("listening for {transport} webhooks on {addr}, path {path}");
    let (stored_tx, stored_rx) = mpsc::channel::<Stored>();
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let jobs = Arc::new(Mutex::new(jobs_rx));
    let mut threads = Vec::new();
    for _ in 0..WORKERS {
        let db = Db::open(&config.database_path)?;
        db.set_busy_timeout(server::STORE_PATIENCE)?;
        let (shared, tx, jobs) = (Arc::clone(&shared), stored_tx.clone(), Arc::clone(&jobs));
        threads.push(std::thread::spawn(move || {
            server::work(&shared, db, &jobs, &tx)
        }));
    }
    drop(stored_tx);
    let front = Front {
        path,
        max_body: usize::try_from(config.file.webhook.max_body_bytes).unwrap_or(usize::MAX),
        jobs: jobs_tx,
    };
    let front_stop = Arc::clone(&stop);
    // The workers end once the front has answered its last request and dropped the queue.
    threads.insert(
        0,
        std::thread::spawn(move || {
            if let Err(e) = http::serve(socket, front, &front_stop) {
                log::error!("webhook server: {e:#}; stopping");
                front_stop.store(true, Ordering::Relaxed);
            }
        }),
    );
    let mut sender_db = Db::open(&config.database_path)?;
    let sender_stop = Arc::clone(&stop);
    threads.push(std::thread::spawn(move || {
        while !sender_stop.load(Ordering::Relaxed) {
            let busy =
                step(&mut sender_db, api.as_mut(), &own_jid, &stored_rx).unwrap_or_else(|e| {
                    log::warn!("outbox: {e:#}");
                    false
                });
            if !busy {
                std::thread::sleep(IDLE);
            }
        }
    }));
    // Downloads on a thread of their own: a file that stalls until its timeout must not
    // hold the replies queued behind it.
    let (mut fetcher, _) = rest(&config)?;
    let mut media_db = Db::open(&config.database_path)?;
    let media_dir = config.media_dir();
    let max_bytes = wabot_webhooks::max_bytes(&config);
    let media_stop = Arc::clone(&stop);
    threads.push(std::thread::spawn(move || {
        while !media_stop.load(Ordering::Relaxed) {
            let busy = download_next(&mut media_db, fetcher.as_mut(), &media_dir, max_bytes)
                .unwrap_or_else(|e| {
                    log::warn!("media: {e:#}");
                    false
                });
            if !busy {
                std::thread::sleep(IDLE);
            }
        }
    }));
    let mut server = Server {
        shared: &shared,
        detail: format!("{transport} webhook on {addr}"),
    };
    listener.serve(&mut server, &stop);
    log::info!("stopping: signal");
    for thread in threads {
        if thread.join().is_err() {
            log::error!("a listener thread panicked");
        }
    }
    // Every request is answered by now.
    listener.finish();
    listener.stopped(&server.status());
    Ok(())
}

/// The webhook server as the listener loop drives it: it never ends by itself.
struct Server<'a> {
    shared: &'a Shared,
    detail: String,
}

impl listen::Connection for Server<'_> {
    type Ended = Infallible;

    fn status(&self) -> listen::Status {
        let last = self.shared.last_event.load(Ordering::Relaxed);
        listen::Status {
            connected: true,
            detail: self.detail.clone(),
            last_event_at: (last > 0).then_some(last),
        }
    }

    fn wait(&mut self, stop: &AtomicBool, at_most: Duration) -> Option<Infallible> {
        let waited = clock::poll_until(
            Some(std::time::Instant::now() + at_most),
            Duration::from_millis(100),
            stop,
            || Ok(None::<()>),
        );
        if let Err(e) = waited {
            log::warn!("listener: {e:#}");
        }
        None
    }

    fn every_beat(&mut self, db: &mut Db) {
        if let Err(e) = replay_spool(self.shared, db) {
            log::warn!("webhooks kept on disk are not stored yet: {e:#}");
        }
    }
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
) -> Result<bool> {
    let mut busy = false;
    while let Ok(outcome) = stored.try_recv() {
        for id in &outcome.pending_ids {
            api.mark_read(id);
        }
        busy = true;
    }
    busy |= drain::drain_once(db, api, own_jid, clock::now_ms(), 1)?.attempted() > 0;
    Ok(busy)
}

/// One download of the media thread; returns whether there was one to do.
fn download_next(
    db: &mut Db,
    fetcher: &mut dyn Outgoing,
    media_dir: &std::path::Path,
    max_bytes: u64,
) -> Result<bool> {
    let Some(row) = db.next_media_download(clock::now_ms())? else {
        return Ok(false);
    };
    match crate::media::download(db, fetcher, media_dir, max_bytes, &row) {
        Ok(path) => log::info!("media of {} saved as {}", row.message_id, path.display()),
        Err(e) => log::warn!("media of {} not downloaded: {e:#}", row.message_id),
    }
    Ok(true)
}
