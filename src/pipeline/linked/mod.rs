//! `wabot listen` on the linked device: the one listener loop ([`super::listen`]) over a
//! `wabot-whatsapp` session whose sink is the database, a drainer thread sending the
//! outbox (and read receipts), and a jobs thread (sync requests, media downloads).

#[cfg(test)]
mod bad_day_tests;
pub mod connect;
#[cfg(test)]
mod identity_tests;
mod jobs;
#[cfg(feature = "bench")]
pub mod replay;
pub mod sink;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Result;

use super::listen::{self, Listener};
use super::{drain, history, receipts};
use crate::account::{Standing, Verdict};
use crate::clock;
use crate::config::Config;
use crate::db::Db;
use crate::error::{self, Kind};
use crate::sink::Sink;
use crate::whatsapp::{self, ClientSender, Ended, SHUTDOWN_GRACE, Session, device};
use crate::{interrupt, lock};
use sink::DbSink;

const DRAIN_EVERY: Duration = Duration::from_millis(500);

/// Why the listener stopped: a signal, or the session's own end.
type Stop = Option<Ended>;

/// Runs until a signal or a terminal connection event; `reload` re-reads app.json.
pub fn run(config: Config, reload: impl Fn() -> Result<Config>) -> Result<()> {
    let _lock = lock::acquire(&config.database_path)?;
    let account = connect::require_device(&config)?;
    let mut db = Db::open(&config.database_path)?;
    connect::refuse_if_barred(&config, &db)?;
    let version = connect::client_version(&db)?;
    connect::learn_own_lid(&config, &mut db, &account)?;
    log::info!("listening as {}", device::display_number(&account));
    let mut listener = Listener::new(&config, reload)?;
    let sink = Arc::new(DbSink::new(
        Db::open(&config.database_path)?,
        Arc::clone(&listener.policy),
        connect::own_jid(&account),
        listener.arrival.clone(),
    ));
    let stop = interrupt::flag()?;
    let mut ended = serve(&config, &mut listener, &sink, version, &stop)?;
    if ended == Some(Ended::Standing(Verdict::Outdated)) {
        // WhatsApp wants a newer web client: fetch its version and try once more.
        match whatsapp::standing::latest_version() {
            Ok((a, b, c)) => {
                let text = format!("{a}.{b}.{c}");
                sink.record_standing(Standing::ClientVersion(&text))?;
                log::info!("WhatsApp Web version {text} fetched; it is used from now on");
                ended = serve(&config, &mut listener, &sink, Some((a, b, c)), &stop)?;
            }
            Err(e) => log::warn!("could not fetch the current WhatsApp Web version: {e:#}"),
        }
    }
    listener.finish();
    outcome(ended, config.timezone())
}

/// One session: connect, serve until it ends or a signal, stop in order.
fn serve<R: Fn() -> Result<Config>>(
    config: &Config,
    listener: &mut Listener<R>,
    sink: &Arc<DbSink>,
    version: Option<(u32, u32, u32)>,
    stop: &AtomicBool,
) -> Result<Stop> {
    let mut session = connect::start(config, Arc::clone(sink), version)?;
    if let Ok(policy) = listener.policy.read() {
        let mut db = Db::open(&config.database_path)?;
        history::reask_broken_transfer(&mut db, &policy, clock::now_ms())?;
    }
    let quit = Arc::new(AtomicBool::new(false));
    let drainer = spawn_drainer(
        config,
        session.sender(&config.file.whatsapp.pacing)?,
        sink,
        &quit,
    )?;
    let worker = jobs::spawn(config, session.live()?, Arc::clone(&listener.policy), &quit)?;
    let mut linked = Linked::new(&mut session, config);
    let ended = listener.serve(&mut linked, stop);
    log::info!(
        "stopping: {}",
        ended.as_ref().map_or("signal".into(), |e| format!("{e:?}"))
    );
    // Let the send in flight finish before the connection goes, but not for long.
    quit.store(true, Ordering::Relaxed);
    if !joined([drainer, worker], SHUTDOWN_GRACE / 2) {
        log::warn!("a send was still in flight at shutdown; it is retried with the same id");
    }
    let why = ended
        .as_ref()
        .map_or("stopped".into(), |e| format!("{e:?}"));
    session.close(&why);
    if let Some(standing) = ended.as_ref().and_then(|e| match e {
        Ended::Standing(verdict) => verdict.as_standing(),
        _ => None,
    }) {
        sink.record_standing(standing)?;
    }
    listener.stopped(&session.status());
    Ok(ended)
}

/// The session as the listener loop drives it, with the two watches of its beat.
struct Linked<'a> {
    session: &'a mut Session,
    /// An accepted send without a receipt for this long is unconfirmed.
    delivery_timeout_ms: i64,
    /// A connection silent for this long is reconnected.
    silent_ms: i64,
}

impl<'a> Linked<'a> {
    fn new(session: &'a mut Session, config: &Config) -> Self {
        let minutes = |m: u32| i64::from(m.max(1)) * 60_000;
        let whatsapp = &config.file.whatsapp;
        Linked {
            session,
            delivery_timeout_ms: minutes(whatsapp.delivery_timeout_minutes),
            silent_ms: minutes(whatsapp.silent_minutes),
        }
    }
}

impl listen::Connection for Linked<'_> {
    type Ended = Ended;

    fn status(&self) -> listen::Status {
        self.session.status()
    }

    fn wait(&mut self, stop: &AtomicBool, at_most: Duration) -> Option<Ended> {
        self.session.wait(stop, at_most)
    }

    fn every_beat(&mut self, db: &mut Db) {
        let now = clock::now_ms();
        match db.mark_unconfirmed(now - self.delivery_timeout_ms, now) {
            Ok(0) => {}
            Ok(n) => log::warn!(
                "{n} accepted sends got no delivery receipt within {} min: unconfirmed, sent again after the next reconnect",
                self.delivery_timeout_ms / 60_000
            ),
            Err(e) => log::warn!("outbox: {e:#}"),
        }
        if let Some(silent) = self.session.silent_for(now)
            && silent >= self.silent_ms
        {
            // The library pings every 15-30 s when idle: this silence is a dead session
            // that still looks connected, not a quiet account.
            self.session.reconnect(&format!(
                "nothing received for {} s while connected",
                silent / 1000
            ));
        }
    }
}

/// Waits at most `limit` for the threads; false when one was still running.
fn joined<const N: usize>(threads: [JoinHandle<()>; N], limit: Duration) -> bool {
    let (done, all) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for thread in threads {
            if thread.join().is_err() {
                log::error!("a listener thread panicked");
            }
        }
        let _ = done.send(());
    });
    all.recv_timeout(limit).is_ok()
}

fn outcome(ended: Stop, tz: chrono_tz::Tz) -> Result<()> {
    match ended {
        None => Ok(()),
        Some(Ended::Standing(verdict)) => Err(verdict.failure(tz)),
        Some(Ended::Replaced) => Err(error::failure(
            Kind::Unavailable,
            "another client took over this WhatsApp session (stream replaced); is a second wabot running elsewhere with a copy of the device store?",
        )),
        Some(Ended::Closed) => Err(error::failure(
            Kind::Temporary,
            "the WhatsApp connection ended; restart to reconnect",
        )),
    }
}

/// The outbox drainer: a plain thread with its own database connection, polling for new
/// rows (they appear within about a second) while the client is logged in.
fn spawn_drainer(
    config: &Config,
    mut sender: ClientSender,
    sink: &DbSink,
    quit: &Arc<AtomicBool>,
) -> Result<JoinHandle<()>> {
    let mut db = Db::open(&config.database_path)?;
    let own_jid = sink.own_jid().to_string();
    let read_receipts = config.file.whatsapp.read_receipts;
    let quit = Arc::clone(quit);
    Ok(std::thread::spawn(move || {
        // One row at a time, so a stop request waits for one send at most.
        while !quit.load(Ordering::Relaxed) {
            if !sender.ready() {
                std::thread::sleep(DRAIN_EVERY);
                continue;
            }
            let attempted = drain::drain_once(&mut db, &mut sender, &own_jid, clock::now_ms(), 1)
                .map(|r| r.attempted())
                .unwrap_or_else(|e| {
                    log::warn!("outbox: {e:#}");
                    0
                });
            if read_receipts {
                receipts::send_read(&mut db, &mut sender);
            }
            if attempted == 0 {
                std::thread::sleep(DRAIN_EVERY);
            }
        }
    }))
}
