//! `wabot pair`: link this machine as a WhatsApp device, by QR code or pair code, with
//! bounded waits so a missing network ends in a clear error instead of a hang.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::mpsc;
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::prelude::*;

use super::wiring::{Pushed, Wiring};
use super::{device, qr, runtime};
use crate::config::Config;
use crate::db::Db;
use crate::error::{self, Kind};
use crate::policy::Policy;

pub struct Options {
    /// Link by 8-character code for this phone number instead of a QR code.
    pub phone: Option<String>,
    /// How long to wait for WhatsApp's servers to answer at all.
    pub connect_timeout: Duration,
}

/// What the person at the terminal needs to see.
pub enum Prompt {
    Qr {
        art: String,
        valid_for: Duration,
    },
    Code(String),
    /// The chat history WhatsApp sends a new device, as it is stored.
    History {
        messages: usize,
        percent: Option<u32>,
    },
}

enum Step {
    Show(Prompt),
    Paired,
    Connected,
    Exhausted,
    Unreachable,
    Failed(String),
}

/// How long a person gets to scan or type before we give up.
const PAIRING_WINDOW: Duration = Duration::from_secs(300);
/// After linking, the phone sends recent history; we store it while it keeps coming.
/// What has not arrived when we stop stays queued on the server for `listen`.
const HISTORY_IDLE: Duration = Duration::from_secs(30);
const HISTORY_MAX: Duration = Duration::from_secs(600);
/// How long to wait for the library's own startup sync (offline queue, history blobs in
/// download) after the history went quiet.
const STARTUP_SYNC_WAIT: Duration = Duration::from_secs(60);

/// Links the device; returns the linked account's JID.
pub fn run(config: &Config, options: &Options, show: &dyn Fn(Prompt)) -> Result<String> {
    let rt = runtime()?;
    let result = rt.block_on(link(config, options, show));
    // Do not wait for the library's retry loops once we have an answer.
    rt.shutdown_timeout(Duration::from_secs(2));
    result
}

async fn link(config: &Config, options: &Options, show: &dyn Fn(Prompt)) -> Result<String> {
    let store_path = config.device_store_path();
    device::prepare(&store_path)?;
    let store = SqliteStore::new(&store_path.to_string_lossy())
        .await
        .context("opening the device store")?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Step>();
    let events = tx.clone();
    let (mut wiring, _answers) = Wiring::new(Db::open(&config.database_path)?, Policy::new(config));
    let pushed = wiring.report_pushed();
    let bot = wiring
        .apply(Bot::builder().with_backend(store))
        .on_event(move |event, _client| {
            let tx = events.clone();
            async move {
                let step = match &*event {
                    Event::PairingQrCode(q) => qr::render(&q.code).map(|art| {
                        Step::Show(Prompt::Qr {
                            art,
                            valid_for: q.timeout,
                        })
                    }),
                    Event::PairingCode(c) => Some(Step::Show(Prompt::Code(c.code.clone()))),
                    Event::PairSuccess(_) => Some(Step::Paired),
                    Event::Connected(_) => Some(Step::Connected),
                    Event::PairingQrCodesExhausted(_) => Some(Step::Exhausted),
                    Event::PairError(e) => Some(Step::Failed(e.error.clone())),
                    Event::PairingCodeError(e) => Some(Step::Failed(e.error.clone())),
                    _ => None,
                };
                if let Some(step) = step {
                    let _ = tx.send(step);
                }
            }
        })
        .build()
        .await
        .context("starting the WhatsApp client")?;
    let client = bot.client();
    let handle = bot.spawn();
    let watcher = Arc::clone(&client);
    let timeout = options.connect_timeout;
    let phone = options.phone.clone();
    tokio::spawn(async move {
        if watcher.wait_for_socket(timeout).await.is_err() {
            let _ = tx.send(Step::Unreachable);
            return;
        }
        if let Some(phone_number) = phone
            && let Err(e) = watcher
                .pair_with_code(PairCodeOptions {
                    phone_number,
                    ..Default::default()
                })
                .await
        {
            let _ = tx.send(Step::Failed(format!("pair code: {e}")));
        }
    });
    let mut paired = false;
    let outcome = loop {
        let step = tokio::time::timeout(PAIRING_WINDOW, rx.recv()).await;
        match step {
            Ok(Some(Step::Show(prompt))) => show(prompt),
            Ok(Some(Step::Paired)) => paired = true,
            Ok(Some(Step::Connected)) if paired || client.pn().is_some() => break Ok(()),
            Ok(Some(Step::Connected)) => {}
            Ok(Some(Step::Exhausted)) => {
                break Err(error::failure(
                    Kind::Temporary,
                    "the QR codes expired without a scan: run `wabot pair` again when your phone is at hand, or use --phone NUMBER to link with a code",
                ));
            }
            Ok(Some(Step::Unreachable)) => {
                break Err(error::failure(
                    Kind::Temporary,
                    format!(
                        "could not reach WhatsApp within {} s: check the network (DNS, firewall, proxy) and try again",
                        timeout.as_secs()
                    ),
                ));
            }
            Ok(Some(Step::Failed(reason))) => {
                break Err(error::failure(
                    Kind::Temporary,
                    format!("pairing failed: {reason}"),
                ));
            }
            Ok(None) | Err(_) => {
                break Err(error::failure(
                    Kind::Temporary,
                    "pairing did not complete in time: run `wabot pair` again",
                ));
            }
        }
    };
    if outcome.is_ok() {
        receive_history(&pushed, show).await;
        // WhatsApp acknowledges a history blob before the library downloads it: one not
        // stored before we stop is never sent again. Wait for the library's startup sync
        // and for our own stores to finish.
        if let Err(e) = client.wait_for_startup_sync(STARTUP_SYNC_WAIT).await {
            log::warn!("the startup sync did not finish: {e}");
        }
        if !wiring.settle(super::listen::SHUTDOWN_GRACE).await {
            log::warn!("history was still being stored when pairing stopped");
        }
    }
    let account = client.pn().map(|j| j.to_string());
    let _ = tokio::time::timeout(super::listen::SHUTDOWN_GRACE, handle.shutdown()).await;
    outcome?;
    account.context("paired, but the client did not report its number")
}

/// Stores the history the phone sends after linking until it says it is done, goes
/// quiet, or [`HISTORY_MAX`] passes.
async fn receive_history(pushed: &std::sync::mpsc::Receiver<Pushed>, show: &dyn Fn(Prompt)) {
    let started = Instant::now();
    let mut last = Instant::now();
    let mut messages = 0;
    while started.elapsed() < HISTORY_MAX && last.elapsed() < HISTORY_IDLE {
        match pushed.try_recv() {
            Ok(blob) => {
                last = Instant::now();
                messages += blob.messages;
                show(Prompt::History {
                    messages,
                    percent: blob.percent,
                });
                if blob.percent == Some(100) {
                    return;
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
