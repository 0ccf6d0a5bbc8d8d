//! The webhook server: a few threads on one `tiny_http` listener. Each request is
//! verified, stored and committed before it is answered 200; a refused one stores
//! nothing. It never calls the LLM.

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Result;
use tiny_http::{Header, Method, Request, Response};

use super::store::{self, Stored};
use super::{Headers, Inbound, Provider, Refusal, spool};
use crate::arrival::Arrival;
use crate::clock;
use crate::db::Db;
use crate::policy::Policy;

/// What every worker shares.
pub struct Shared {
    pub http: tiny_http::Server,
    pub provider: Box<dyn Provider>,
    /// The path of `webhook.public_url`: the only one answered.
    pub path: String,
    pub max_body: usize,
    pub policy: Arc<RwLock<Policy>>,
    pub own_jid: String,
    pub stop: Arc<AtomicBool>,
    /// When the last request was stored (the heartbeat's "last event").
    pub last_event: AtomicI64,
    /// Starts `process-once` when a stored message waits for an answer (`polling.on_arrival`).
    pub arrival: Option<Arc<Arrival>>,
    /// Where requests the database could not take in time wait (see [`spool`]).
    pub spool: std::path::PathBuf,
}

/// How long a worker's write waits for another process's: well within the providers'
/// own timeouts (Twilio waits 15 s), so a busy database spools instead of timing out.
pub const STORE_PATIENCE: Duration = Duration::from_secs(5);

/// One worker: takes requests until `stop`, with its own database connection.
pub fn work(shared: &Shared, mut db: Db, stored: &Sender<Stored>) {
    while !shared.stop.load(Ordering::Relaxed) {
        match shared.http.recv_timeout(Duration::from_millis(250)) {
            Ok(Some(request)) => answer(shared, &mut db, request, stored),
            Ok(None) => {}
            Err(e) => log::warn!("webhook server: {e}"),
        }
    }
}

fn answer(shared: &Shared, db: &mut Db, mut request: Request, stored: &Sender<Stored>) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let from = request
        .remote_addr()
        .map_or_else(|| "?".into(), ToString::to_string);
    let (status, content_type, body): (u16, &str, String) = if path != shared.path {
        (404, "text/plain", "not found\n".into())
    } else {
        match request.method() {
            Method::Get => {
                let (status, body) = shared.provider.get(query);
                if status != 200 {
                    log::warn!("refused a webhook verification from {from}");
                }
                (status, "text/plain", body)
            }
            Method::Post => match post(shared, db, &mut request, &url, stored) {
                Ok(()) => {
                    let (content_type, body) = shared.provider.ok();
                    (200, content_type, body.to_string())
                }
                Err((status, why)) => {
                    log::warn!("refused a webhook from {from} (HTTP {status}): {why}");
                    (status, "text/plain", format!("{why}\n"))
                }
            },
            _ => (405, "text/plain", "method not allowed\n".into()),
        }
    };
    let mut response = Response::from_string(body).with_status_code(status);
    if let Ok(header) = Header::from_bytes("Content-Type", content_type) {
        response = response.with_header(header);
    }
    if let Err(e) = request.respond(response) {
        log::debug!("answering a webhook from {from}: {e}");
    }
}

/// Reads, verifies and stores one POST; the error is the status and reason to answer.
fn post(
    shared: &Shared,
    db: &mut Db,
    request: &mut Request,
    url: &str,
    stored: &Sender<Stored>,
) -> Result<(), (u16, String)> {
    let too_large = || {
        (
            413,
            format!(
                "the body is larger than webhook.max_body_bytes ({})",
                shared.max_body
            ),
        )
    };
    if request.body_length().is_some_and(|n| n > shared.max_body) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(shared.max_body as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| (400, format!("reading the body: {e}")))?;
    if body.len() > shared.max_body {
        return Err(too_large());
    }
    let headers = Headers(
        request
            .headers()
            .iter()
            .map(|h| (h.field.to_string(), h.value.to_string()))
            .collect(),
    );
    let inbound = shared
        .provider
        .read(url, &headers, &body)
        .map_err(|refusal| match refusal {
            Refusal::Unsigned(why) => (403, why.to_string()),
            Refusal::Malformed(why) => (400, why),
        })?;
    match store_verified(shared, db, inbound) {
        Ok(outcome) => {
            // The sender thread marks new turns read and looks for media; it may be gone
            // at shutdown, which loses nothing stored.
            let _ = stored.send(outcome);
            Ok(())
        }
        // The provider may never deliver it again (Twilio does not after a 500, by
        // default): keep it on disk, answer 200, store it once the database takes writes.
        Err(e) => match spool::keep(&shared.spool, url, &headers, &body) {
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
        },
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

/// Binds the server; the address in use or not allowed is exit 69.
pub fn bind(addr: &str) -> Result<tiny_http::Server> {
    tiny_http::Server::http(addr).map_err(|e| {
        crate::error::failure(
            crate::error::Kind::Unavailable,
            format!("webhook.listen: cannot listen on {addr}: {e}"),
        )
    })
}
