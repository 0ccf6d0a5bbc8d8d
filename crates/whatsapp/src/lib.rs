//! wabot's linked device: whatsapp-rust connected, paired, converted and sent through,
//! behind blocking functions. The only crate with async code.
//!
//! # Layout
//! - [`session`]: a connection ([`Session`]): start, wait for events, status, close;
//!   [`events`] says what a connection event means, [`pair`] links a new device.
//! - [`wiring`]: what every connection does with what arrives: the durability hook
//!   ([`hook`]), history blobs ([`history`]), batches outside the hook, all handed to a
//!   [`wabot_core::sink::Sink`] before the library acknowledges anything.
//! - [`convert`]: the library's messages → `wabot_core` records; [`confirm`]: acks and
//!   receipts → delivery updates.
//! - [`sender`]: the outbox's [`wabot_core::outbox::Transport`] over the socket, paced
//!   ([`pacing`]); [`on_demand`]: on-demand history and media downloads.
//! - [`standing`], [`presence`], [`device`], [`qr`]: the account's standing, staying
//!   invisible, the device store, QR codes in a terminal.
//!
//! # What it may use
//! `wabot-core`, whatsapp-rust, tokio, and rusqlite to read the library's own device
//! store. Never `wabot-store`, `wabot-llm` or `wabot-webhooks`: what it receives goes
//! through the sink, and what it sends comes as outbox rows.

pub mod confirm;
pub mod convert;
pub mod device;
pub mod events;
#[cfg(feature = "bench")]
pub mod generated;
pub mod history;
pub mod hook;
pub mod on_demand;
mod pacing;
pub mod pair;
mod presence;
mod qr;
pub mod sender;
pub mod session;
pub mod standing;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod wiring;

pub use events::Ended;
pub use on_demand::Live;
pub use sender::ClientSender;
pub use session::{SHUTDOWN_GRACE, Session};

/// The one tokio runtime of a process that talks to WhatsApp (the library needs the
/// multi-threaded kind).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Blocks on `future` for at most `limit`, from a thread outside the runtime (the
/// drainer, the jobs thread, a job's main thread). The timer is made inside the
/// runtime: `tokio::time::timeout` built outside it panics ("no reactor running").
fn bounded<F: Future>(
    runtime: &tokio::runtime::Handle,
    limit: std::time::Duration,
    future: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    runtime.block_on(async { tokio::time::timeout(limit, future).await })
}

/// Runs `work` on a blocking thread (it may wait for the database) and logs what failed:
/// what the event handlers do with everything but the durability hook, whose error the
/// library must see.
async fn off_the_runtime(
    what: &'static str,
    work: impl FnOnce() -> anyhow::Result<()> + Send + 'static,
) {
    let done = tokio::task::spawn_blocking(work).await;
    if let Ok(Err(e)) | Err(e) = done.map_err(anyhow::Error::from) {
        log::warn!("{what}: {e:#}");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn a_bounded_wait_works_from_a_thread_outside_the_runtime() {
        let runtime = super::runtime().unwrap();
        let handle = runtime.handle().clone();
        let waited = std::thread::spawn(move || {
            let quick = super::bounded(&handle, Duration::from_secs(5), async { 7 });
            let slow = super::bounded(
                &handle,
                Duration::from_millis(10),
                std::future::pending::<()>(),
            );
            (quick.ok(), slow.is_err())
        })
        .join()
        .expect("no panic outside the runtime");
        assert_eq!(waited, (Some(7), true));
    }
}
