//! `wabot pair`: link this machine as a WhatsApp device, by QR code or pair code, with
//! bounded waits so a missing network ends in a clear error instead of a hang.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::mpsc;
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::prelude::*;
use whatsapp_rust::wacore::store::DevicePropsOverride;

use wabot_core::account::{Standing, Verdict};
use wabot_core::clock;
use wabot_core::config::{Config, Presence};
use wabot_core::error::{self, Kind};
use wabot_core::sink::Sink;

use crate::standing;
use crate::wiring::{Pushed, Wiring};
use crate::{SHUTDOWN_GRACE, presence, qr, runtime};

pub struct Options {
    /// Link by 8-character code for this phone number instead of a QR code.
    pub phone: Option<String>,
    /// How long to wait for WhatsApp's servers to answer at all.
    pub connect_timeout: Duration,
    /// Ask the phone for its whole history (up to a year) rather than the recent part:
    /// peers measured about twelve times the messages, at the cost of a longer transfer
    /// and a bigger database.
    pub full_history: bool,
}

/// The device properties that ask for the full history, as WhatsApp's desktop client
/// sends them (the library's documented row: UWP, full sync, a year's limit). They
/// travel only in the registration, so they count only when pairing.
fn full_history_props() -> DevicePropsOverride {
    use whatsapp_rust::wacore::store::device::default_history_sync_config;
    use whatsapp_rust::waproto::whatsapp::device_props::{HistorySyncConfig, PlatformType};
    DevicePropsOverride::new()
        .with_platform_type(PlatformType::UWP)
        .with_require_full_sync(true)
        .with_history_sync_config(HistorySyncConfig {
            full_sync_days_limit: Some(365),
            on_demand_ready: Some(true),
            complete_on_demand_ready: Some(true),
            ..default_history_sync_config()
        })
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
    /// The pair code expired or the server asked for a new one: request it again.
    RefreshCode,
    Unreachable,
    Failed(String),
    /// A ban, a logout or an outdated client: stop at once.
    Standing(Verdict),
}

/// What a pairing event means; `by_phone` when linking with a pair code, where the QR
/// codes are neither shown nor their running out the end.
fn step_of(event: &Event, by_phone: bool, now: i64) -> Option<Step> {
    if let Some(verdict) = standing::verdict(event, now) {
        return Some(Step::Standing(verdict));
    }
    match event {
        Event::PairingQrCode(q) if !by_phone => qr::render(&q.code).map(|art| {
            Step::Show(Prompt::Qr {
                art,
                valid_for: q.timeout,
            })
        }),
        Event::PairingCode(c) => Some(Step::Show(Prompt::Code(c.code.clone()))),
        Event::PairingCodeRefresh(_) => Some(Step::RefreshCode),
        Event::PairSuccess(_) => Some(Step::Paired),
        Event::Connected(_) => Some(Step::Connected),
        // The library keeps the socket open while a pair-code flow is pending.
        Event::PairingQrCodesExhausted(e) if !by_phone || e.disconnected => Some(Step::Exhausted),
        Event::PairError(e) => Some(Step::Failed(e.error.clone())),
        Event::PairingCodeError(e) => Some(Step::Failed(e.error.clone())),
        _ => None,
    }
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

/// Links the device (its store at `config.device_store_path()`, prepared by the
/// caller); returns the linked account's JID. `version` is the WhatsApp Web version to
/// claim, when the server asked for a newer one than the library's.
pub fn run(
    config: &Config,
    version: Option<(u32, u32, u32)>,
    options: &Options,
    sink: Arc<dyn Sink>,
    show: &dyn Fn(Prompt),
) -> Result<String> {
    let rt = runtime()?;
    let result = rt.block_on(link(config, version, options, sink, show));
    // Do not wait for the library's retry loops once we have an answer.
    rt.shutdown_timeout(Duration::from_secs(2));
    result
}

async fn link(
    config: &Config,
    version: Option<(u32, u32, u32)>,
    options: &Options,
    sink: Arc<dyn Sink>,
    show: &dyn Fn(Prompt),
) -> Result<String> {
    let store_path = config.device_store_path();
    let store = SqliteStore::new(&store_path.to_string_lossy())
        .await
        .context("opening the device store")?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Step>();
    let events = tx.clone();
    let (mut wiring, _answers) = Wiring::new(Arc::clone(&sink));
    let pushed = wiring.report_pushed();
    let mut builder = Bot::builder().with_backend(store);
    if let Some(version) = version {
        builder = builder.with_version(version);
    }
    if options.full_history {
        builder = builder.with_device_props(full_history_props());
    }
    let by_phone = options.phone.is_some();
    let invisible = config.file.whatsapp.presence == Presence::Unavailable;
    let bot = wiring
        .apply(builder)
        .on_event(move |event, client| {
            let tx = events.clone();
            presence::follow(invisible, &event, &client);
            async move {
                if let Some(step) = step_of(&event, by_phone, clock::now_ms()) {
                    let _ = tx.send(step);
                }
            }
        })
        .build()
        .await
        .context("starting the WhatsApp client")?;
    let client = bot.client();
    let handle = bot.spawn();
    let timeout = options.connect_timeout;
    let request_code = |client: Arc<Client>, tx: mpsc::UnboundedSender<Step>| {
        let phone = options.phone.clone();
        tokio::spawn(async move {
            if client.wait_for_socket(timeout).await.is_err() {
                let _ = tx.send(Step::Unreachable);
                return;
            }
            if let Some(phone_number) = phone
                && let Err(e) = client
                    .pair_with_code(PairCodeOptions {
                        phone_number,
                        ..Default::default()
                    })
                    .await
            {
                let _ = tx.send(Step::Failed(format!("pair code: {e}")));
            }
        });
    };
    request_code(Arc::clone(&client), tx.clone());
    let mut paired = false;
    let mut shown_code = None;
    let outcome = loop {
        let step = tokio::time::timeout(PAIRING_WINDOW, rx.recv()).await;
        match step {
            // A code is shown once, and again only when it changes.
            Ok(Some(Step::Show(Prompt::Code(code)))) => {
                if shown_code.as_ref() != Some(&code) {
                    show(Prompt::Code(code.clone()));
                    shown_code = Some(code);
                }
            }
            Ok(Some(Step::Show(prompt))) => show(prompt),
            Ok(Some(Step::RefreshCode)) => request_code(Arc::clone(&client), tx.clone()),
            Ok(Some(Step::Standing(Verdict::Outdated))) => {
                let fetched = standing::fetch_latest_version()
                    .await
                    .and_then(|(a, b, c)| {
                        sink.record_standing(Standing::ClientVersion(&format!("{a}.{b}.{c}")))?;
                        Ok((a, b, c))
                    });
                break Err(error::failure(
                    Kind::Temporary,
                    match fetched {
                        Ok((a, b, c)) => format!(
                            "WhatsApp asked for a newer web client; wabot now uses version {a}.{b}.{c}: run `wabot pair` again"
                        ),
                        Err(e) => format!(
                            "WhatsApp asked for a newer web client and its version could not be fetched ({e:#}); try again later"
                        ),
                    },
                ));
            }
            Ok(Some(Step::Standing(verdict))) => {
                if let Some(standing) = verdict.as_standing() {
                    sink.record_standing(standing)?;
                }
                break Err(verdict.failure(config.timezone()));
            }
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
        // Before the history wait: a process killed during it must not leave the old
        // logout standing, or `listen` would refuse to start.
        sink.record_standing(Standing::Linked)?;
        receive_history(&pushed, show).await;
        // WhatsApp acknowledges a history blob before the library downloads it: one not
        // stored before we stop is never sent again. Wait for the library's startup sync
        // and for our own stores to finish.
        if let Err(e) = client.wait_for_startup_sync(STARTUP_SYNC_WAIT).await {
            log::warn!("the startup sync did not finish: {e}");
        }
        if !wiring.settle(SHUTDOWN_GRACE).await {
            log::warn!("history was still being stored when pairing stopped");
        }
    }
    let account = client.pn().map(|j| j.to_string());
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, handle.shutdown()).await;
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

#[cfg(test)]
mod tests {
    use whatsapp_rust::types::events::ConnectFailureReason;
    use whatsapp_rust::types::events::{
        LoggedOut, PairingCode, PairingCodeRefresh, PairingQrCodesExhausted, TempBanReason,
        TemporaryBan,
    };

    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn exhausted(disconnected: bool) -> Event {
        Event::PairingQrCodesExhausted(
            PairingQrCodesExhausted::builder()
                .disconnected(disconnected)
                .build(),
        )
    }

    #[test]
    fn a_pair_code_flow_keeps_waiting_when_the_qr_codes_run_out() {
        assert!(step_of(&exhausted(false), true, NOW).is_none());
        assert!(matches!(
            step_of(&exhausted(true), true, NOW),
            Some(Step::Exhausted)
        ));
        assert!(matches!(
            step_of(&exhausted(false), false, NOW),
            Some(Step::Exhausted)
        ));
    }

    #[test]
    fn a_pairing_code_refresh_requests_a_new_code_and_codes_are_shown() {
        let refresh =
            Event::PairingCodeRefresh(PairingCodeRefresh::builder().force_manual(true).build());
        assert!(matches!(
            step_of(&refresh, true, NOW),
            Some(Step::RefreshCode)
        ));
        let code = Event::PairingCode(
            PairingCode::builder()
                .code("ABCD1234".to_string())
                .timeout(Duration::from_secs(180))
                .build(),
        );
        assert!(matches!(
            step_of(&code, true, NOW),
            Some(Step::Show(Prompt::Code(c))) if c == "ABCD1234"
        ));
    }

    #[test]
    fn a_ban_or_logout_during_pairing_ends_it_at_once() {
        let ban = Event::TemporaryBan(
            TemporaryBan::builder()
                .code(TempBanReason::BlockedByUsers)
                .expire(chrono::Duration::hours(1))
                .build(),
        );
        assert!(matches!(
            step_of(&ban, true, NOW),
            Some(Step::Standing(Verdict::Banned { until, .. })) if until == NOW + 3_600_000
        ));
        let out = Event::LoggedOut(
            LoggedOut::builder()
                .on_connect(true)
                .reason(ConnectFailureReason::LoggedOut)
                .build(),
        );
        assert!(matches!(
            step_of(&out, false, NOW),
            Some(Step::Standing(Verdict::LoggedOut { .. }))
        ));
    }

    #[test]
    fn full_history_at_pairing_asks_for_a_year() {
        use whatsapp_rust::waproto::whatsapp::device_props::PlatformType;
        let props = full_history_props();
        assert_eq!(props.require_full_sync, Some(true));
        assert_eq!(props.platform_type, Some(PlatformType::UWP));
        let config = props.history_sync_config.expect("a history config");
        assert_eq!(config.full_sync_days_limit, Some(365));
        assert_eq!(
            config.inline_initial_payload_in_e2_ee_msg,
            Some(true),
            "the library's defaults kept"
        );
    }
}
