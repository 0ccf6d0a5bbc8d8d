//! The webhook server's front: HTTP/1.1 (hyper on a small tokio runtime of its own).
//! It reads every request whole, within deadlines, before a worker sees it: a client
//! dripping its headers or body costs one task, never a worker, and is cut off when a
//! deadline passes. Only requests for the webhook path get their body read at all.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::Duration;

use anyhow::Result;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, oneshot};

use super::Headers;
use super::server::{Answer, Job, Received, Verb};

/// How long a client may take to send a request's headers (Twilio and Meta send theirs
/// at once; a slow reader is an attack or a broken link).
pub const HEADER_DEADLINE: Duration = Duration::from_secs(10);
/// How long a client may take to send the body after its headers.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);
/// Connections open at once; beyond, new ones are closed at once.
const MAX_CONNECTIONS: usize = 256;
/// How long in-flight requests may take to be answered once the listener stops.
const GRACE: Duration = Duration::from_secs(10);

/// What the front needs: where webhooks are posted, the body cap, the workers' queue.
pub struct Front {
    pub path: String,
    pub max_body: usize,
    pub jobs: Sender<Job>,
}

/// Binds `addr`; the address in use or not allowed is exit 69.
pub fn bind(addr: &str) -> Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        crate::error::failure(
            crate::error::Kind::Unavailable,
            format!("webhook.listen: cannot listen on {addr}: {e}"),
        )
    })?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves until `stop`, then lets the requests in flight finish (within [`GRACE`]).
pub fn serve(listener: std::net::TcpListener, front: Front, stop: &AtomicBool) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("webhook-http")
        .enable_all()
        .build()?;
    runtime.block_on(accept(listener, Arc::new(front), stop))
}

async fn accept(
    listener: std::net::TcpListener,
    front: Arc<Front>,
    stop: &AtomicBool,
) -> Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let open = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut check = tokio::time::interval(Duration::from_millis(100));
    while !stop.load(Ordering::Relaxed) {
        let (stream, from) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    log::warn!("webhook server: {e}");
                    continue;
                }
            },
            _ = check.tick() => continue,
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            log::warn!(
                "webhook server: {MAX_CONNECTIONS} connections open; closing one from {from}"
            );
            continue;
        };
        let front = Arc::clone(&front);
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(Arc::clone(&front), from, request));
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_DEADLINE)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                log::debug!("webhook connection from {from}: {e}");
            }
            drop(permit);
        });
    }
    // Every permit back means every connection ended.
    let all = u32::try_from(MAX_CONNECTIONS).unwrap_or(u32::MAX);
    if tokio::time::timeout(GRACE, open.acquire_many(all))
        .await
        .is_err()
    {
        log::warn!("webhook server: requests still in flight after {GRACE:?}; closing them");
    }
    Ok(())
}

async fn answer(
    front: Arc<Front>,
    from: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let url = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_string(),
        |p| p.as_str().to_string(),
    );
    if request.uri().path() != front.path {
        return Ok(respond(Answer::text(404, "not found")));
    }
    let verb = match *request.method() {
        Method::GET => Verb::Get,
        Method::POST => Verb::Post,
        _ => return Ok(respond(Answer::text(405, "method not allowed"))),
    };
    let headers = Headers(
        request
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
    );
    let body = match read_body(request.into_body(), front.max_body).await {
        Ok(body) => body,
        Err(refusal) => {
            log::warn!(
                "refused a webhook from {from} (HTTP {}): {}",
                refusal.status,
                refusal.body.trim_end()
            );
            return Ok(respond(refusal));
        }
    };
    let (reply, answered) = oneshot::channel();
    let job = Job {
        request: Received {
            verb,
            url,
            from: from.to_string(),
            headers,
            body,
        },
        reply,
    };
    let busy = || Answer::text(503, "the listener is stopping; retry");
    if front.jobs.send(job).is_err() {
        return Ok(respond(busy()));
    }
    Ok(respond(answered.await.unwrap_or_else(|_| busy())))
}

/// The whole body, within [`BODY_DEADLINE`] and `max` bytes.
async fn read_body(body: Incoming, max: usize) -> Result<Vec<u8>, Answer> {
    let too_large = || {
        Answer::text(
            413,
            &format!("the body is larger than webhook.max_body_bytes ({max})"),
        )
    };
    if hyper::body::Body::size_hint(&body)
        .exact()
        .is_some_and(|n| n > max as u64)
    {
        return Err(too_large());
    }
    match tokio::time::timeout(BODY_DEADLINE, Limited::new(body, max).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Ok(Err(e)) => Err(Answer::text(400, &format!("reading the body: {e}"))),
        Err(_) => Err(Answer::text(
            408,
            &format!("the body did not arrive within {BODY_DEADLINE:?}"),
        )),
    }
}

fn respond(answer: Answer) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = hyper::header::HeaderValue::from_str(answer.content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
