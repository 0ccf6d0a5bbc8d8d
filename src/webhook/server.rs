//! The webhook server's workers. The front ([`super::http`]) hands each request over
//! whole; a worker verifies, stores and commits it before it is answered 200, and a
//! refused one stores nothing. It never calls the LLM.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Result;

use super::store::{self, Stored};
use super::{Headers, Inbound, Provider, Refusal, spool};
use crate::arrival::Arrival;
use crate::clock;
use crate::db::Db;
use crate::policy::Policy;

/// What every worker shares.
pub struct Shared {
    pub provider: Box<dyn Provider>,
    pub policy: Arc<RwLock<Policy>>,
    pub own_jid: String,
    /// When the last request was stored (the heartbeat's "last event").
    pub last_event: AtomicI64,
    /// Starts `process-once` when a stored message waits for an answer (`polling.on_arrival`).
    pub arrival: Option<Arc<Arrival>>,
    /// Where requests the database could not take in time wait (see [`spool`]).
    pub spool: std::path::PathBuf,
    /// Until when (Unix ms) requests go straight to the spool: a write just waited out
    /// [`STORE_PATIENCE`] on another process's lock, and every worker waiting as long in
    /// turn would keep later requests past the provider's timeout.
    pub busy_until: AtomicI64,
}

/// How long after a write timed out requests are spooled without trying the database.
const BUSY_SPELL_MS: i64 = 2_000;

/// How long a worker's write waits for another process's: well within the providers'
/// own timeouts (Twilio waits 15 s), so a busy database spools instead of timing out.
pub const STORE_PATIENCE: Duration = Duration::from_secs(5);

/// A request as the front read it: whole, body included.
pub struct Received {
    pub verb: Verb,
    /// The path and query it was sent to.
    pub url: String,
    /// The peer, for the log.
    pub from: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// The methods the webhook path answers: verification (GET) and deliveries (POST).
#[derive(Clone, Copy)]
pub enum Verb {
    Get,
    Post,
}

/// What a request is answered.
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Answer {
    pub fn text(status: u16, why: &str) -> Self {
        Answer {
            status,
            content_type: "text/plain",
            body: format!("{why}\n"),
        }
    }
}

/// A request for a worker, and where its answer goes.
pub struct Job {
    pub request: Received,
    pub reply: tokio::sync::oneshot::Sender<Answer>,
}

/// One worker, with its own database connection: takes requests until the front has
/// stopped and every queued one is answered.
pub fn work(shared: &Shared, mut db: Db, jobs: &Mutex<Receiver<Job>>, stored: &Sender<Stored>) {
    loop {
        let next = match jobs.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else { return };
        let answer = handle(shared, &mut db, &job.request, stored);
        // The client may have gone; what was stored stays stored.
        let _ = job.reply.send(answer);
    }
}

fn handle(shared: &Shared, db: &mut Db, request: &Received, stored: &Sender<Stored>) -> Answer {
    let from = &request.from;
    match request.verb {
        Verb::Get => {
            let query = request.url.split_once('?').map_or("", |(_, q)| q);
            let (status, body) = shared.provider.get(query);
            if status != 200 {
                log::warn!("refused a webhook verification from {from}");
            }
            Answer {
                status,
                content_type: "text/plain",
                body,
            }
        }
        Verb::Post => match post(shared, db, request, stored) {
            Ok(()) => {
                let (content_type, body) = shared.provider.ok();
                Answer {
                    status: 200,
                    content_type,
                    body: body.to_string(),
                }
            }
            Err((status, why)) => {
                // The reason may quote what the sender sent: bounded.
                let why = crate::error::bounded(&why, 300);
                log::warn!("refused a webhook from {from} (HTTP {status}): {why}");
                Answer::text(status, &why)
            }
        },
    }
}

/// Reads, verifies and stores one POST; the error is the status and reason to answer.
fn post(
    shared: &Shared,
    db: &mut Db,
    request: &Received,
    stored: &Sender<Stored>,
) -> Result<(), (u16, String)> {
    let (url, headers, body) = (&request.url, &request.headers, &request.body);
    let inbound = shared
        .provider
        .read(url, headers, body)
        .map_err(|refusal| match refusal {
            Refusal::Unsigned(why) => (403, why.to_string()),
            Refusal::Malformed(why) => (400, why),
        })?;
    let stored_now = if shared.busy_until.load(Ordering::Relaxed) > clock::now_ms() {
        Err(anyhow::anyhow!("the database was busy a moment ago"))
    } else {
        store_verified(shared, db, inbound)
    };
    match stored_now {
        Ok(outcome) => {
            // The sender thread marks new turns read and looks for media; it may be gone
            // at shutdown, which loses nothing stored.
            let _ = stored.send(outcome);
            Ok(())
        }
        // The provider may never deliver it again (Twilio does not after a 500, by
        // default): keep it on disk, answer 200, store it once the database takes writes.
        Err(e) => {
            if crate::db::is_busy(&e) {
                shared
                    .busy_until
                    .store(clock::now_ms() + BUSY_SPELL_MS, Ordering::Relaxed);
            }
            match spool::keep(&shared.spool, url, headers, body) {
                Ok(path) => {
                    log::warn!(
                        "storing a webhook failed ({e:#}): kept in {} to be stored later",
                        path.display()
                    );
                    Ok(())
                }
                Err(kept) => {
                    log::error!("storing a webhook failed ({e:#}), and keeping it too: {kept:#}");
                    Err((500, "not stored; retry".to_string()))
                }
            }
        }
    }
}

/// Stores a verified request (from the wire, or from the spool) and, when it brought a
/// turn, starts the answering run.
pub fn store_verified(shared: &Shared, db: &mut Db, inbound: Inbound) -> Result<Stored> {
    let policy = shared
        .policy
        .read()
        .map_err(|_| anyhow::anyhow!("policy lock poisoned"))?
        .clone();
    let outcome = store::store(db, &policy, &shared.own_jid, inbound)?;
    shared.last_event.store(clock::now_ms(), Ordering::Relaxed);
    if !outcome.pending_ids.is_empty()
        && let Some(arrival) = &shared.arrival
    {
        arrival.notify();
    }
    Ok(outcome)
}
