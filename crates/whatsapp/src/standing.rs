//! Failures that need a human: a temporary ban, a logout, an outdated client. What an
//! event means is decided here, from the library's real event values; `listen` and
//! `pair` act on it (see [`wabot_core::account`]), and refuse to reconnect while a ban
//! or a logout stands, so that systemd's restarts never hammer WhatsApp.

use std::sync::Arc;

use anyhow::Result;
use wabot_core::account::Standing;
pub use wabot_core::account::Verdict;
use wabot_core::sink::Sink;
use whatsapp_rust::features::ReachoutTimelock;
use whatsapp_rust::prelude::*;
use whatsapp_rust::types::events::ConnectFailureReason;

pub fn verdict(event: &Event, now: i64) -> Option<Verdict> {
    match event {
        Event::TemporaryBan(ban) => {
            let mut reason = ban.code.to_string();
            if let Some(message) = ban.message.as_deref().filter(|m| !m.is_empty()) {
                reason.push_str(&format!(" ({message})"));
            }
            Some(Verdict::Banned {
                until: now.saturating_add(ban.expire.num_milliseconds().max(0)),
                reason,
            })
        }
        Event::LoggedOut(out) => {
            let said = out
                .logout_message
                .as_ref()
                .and_then(|m| m.header.clone().or_else(|| m.subtext.clone()));
            Some(Verdict::LoggedOut {
                reason: said.unwrap_or_else(|| format!("{:?}", out.reason)),
            })
        }
        Event::ClientOutdated(_) => Some(Verdict::Outdated),
        Event::ConnectFailure(failure) => refusal(&failure.reason, failure.message.as_deref(), now),
        _ => None,
    }
}

/// How long a ban WhatsApp gave no end for is assumed to last.
const BAN_ASSUMED_MS: i64 = 24 * 3_600_000;

/// What a `<failure>` at connect means. Only the server's own trouble (500, 503) is
/// left to the library's reconnects; every other reason is recorded and stops the
/// restart loop, because reconnecting every few seconds into a refusal only makes
/// WhatsApp's view of the number worse.
fn refusal(reason: &ConnectFailureReason, message: Option<&str>, now: i64) -> Option<Verdict> {
    use ConnectFailureReason as R;
    if reason.should_reconnect() {
        return None;
    }
    let code = reason.code();
    let said = message
        .filter(|m| !m.is_empty())
        .map_or(String::new(), |m| format!(": {m}"));
    let why = format!("{reason:?}, code {code}{said}");
    Some(match reason {
        // The device is no longer (or never was) known to WhatsApp: link it again.
        R::LoggedOut
        | R::AccountLocked
        | R::UnknownLogout
        | R::CatExpired
        | R::CatInvalid
        | R::ClientUnknown => Verdict::LoggedOut { reason: why },
        R::TempBanned => Verdict::Banned {
            until: now.saturating_add(BAN_ASSUMED_MS),
            reason: format!("{why}; WhatsApp gave no end, a day is assumed"),
        },
        R::ClientOutdated => Verdict::Outdated,
        _ => Verdict::Refused { reason: why },
    })
}

/// Asks WhatsApp's web client for its current version.
pub async fn fetch_latest_version() -> Result<(u32, u32, u32)> {
    let http: Arc<dyn whatsapp_rust::http::HttpClient> =
        Arc::new(whatsapp_rust::http::UreqHttpClient::new());
    let version = whatsapp_rust::version::fetch_latest_app_version(&http).await?;
    Ok(version)
}

/// [`fetch_latest_version`] for a caller without a runtime.
pub fn latest_version() -> Result<(u32, u32, u32)> {
    crate::runtime()?.block_on(fetch_latest_version())
}

/// When the reachout timelock WhatsApp reports ends (its end is Unix seconds, as a
/// string), `None` when none holds. An active lock without an end is left to the
/// store's assumption.
pub fn reachout_end(lock: &ReachoutTimelock) -> Option<Option<i64>> {
    if lock.is_active != Some(true) {
        return Some(None);
    }
    let end = lock
        .time_enforcement_ends
        .as_deref()?
        .trim()
        .parse::<i64>()
        .ok()?;
    Some(Some(end * 1000))
}

/// After a 463 refusal: asks WhatsApp about the timelock and records its end.
pub async fn learn_reachout(client: Arc<Client>, sink: Arc<dyn Sink>) {
    let lock = match client.mex().fetch_reachout_timelock().await {
        Ok(lock) => lock,
        Err(e) => {
            log::warn!("could not ask WhatsApp about the reachout timelock: {e}");
            return;
        }
    };
    let Some(until) = reachout_end(&lock) else {
        return;
    };
    log::warn!(
        "WhatsApp restricts first messages to new contacts{}",
        until.map_or(String::new(), |u| format!(
            " until {}",
            wabot_core::clock::display(u, chrono_tz::UTC)
        ))
    );
    crate::off_the_runtime("reachout timelock", move || {
        sink.record_standing(Standing::Reachout { until })
    })
    .await;
}

#[cfg(test)]
mod tests {
    use whatsapp_rust::types::events::{
        ClientOutdated, ConnectFailureReason, LoggedOut, LogoutMessage, TempBanReason, TemporaryBan,
    };

    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn a_temporary_ban_ends_when_whatsapp_says_and_says_why() {
        let event = Event::TemporaryBan(
            TemporaryBan::builder()
                .code(TempBanReason::BlockedByUsers)
                .expire(chrono::Duration::minutes(90))
                .message("too many blocks".to_string())
                .build(),
        );
        let verdict = verdict(&event, NOW).unwrap();
        let Verdict::Banned { until, reason } = &verdict else {
            panic!("{verdict:?}");
        };
        assert_eq!(*until, NOW + 90 * 60_000);
        assert!(reason.contains("too many blocks"), "{reason}");
    }

    #[test]
    fn a_logout_carries_whatsapps_own_words() {
        let event = Event::LoggedOut(
            LoggedOut::builder()
                .on_connect(false)
                .reason(ConnectFailureReason::LoggedOut)
                .logout_message(
                    LogoutMessage::builder()
                        .header("Device removed".to_string())
                        .build(),
                )
                .build(),
        );
        assert_eq!(
            verdict(&event, NOW),
            Some(Verdict::LoggedOut {
                reason: "Device removed".into()
            })
        );
    }

    #[test]
    fn an_outdated_client_is_a_verdict_and_a_connect_is_none() {
        let event = Event::ClientOutdated(ClientOutdated::builder().build());
        assert_eq!(verdict(&event, NOW), Some(Verdict::Outdated));
        let connected = whatsapp_rust::types::events::Connected::builder().build();
        assert_eq!(verdict(&Event::Connected(connected), NOW), None);
    }

    #[test]
    fn every_refusal_is_honoured() {
        use ConnectFailureReason as R;
        let failure = |reason: R, message: Option<&str>| {
            let failure = whatsapp_rust::types::events::ConnectFailure::builder().reason(reason);
            Event::ConnectFailure(match message {
                Some(m) => failure.message(m.to_string()).build(),
                None => failure.build(),
            })
        };
        // A 402 without a code or an end: a ban all the same, for an assumed day.
        let Some(Verdict::Banned { until, reason }) = verdict(&failure(R::TempBanned, None), NOW)
        else {
            panic!("a 402 is a ban");
        };
        assert_eq!(until, NOW + BAN_ASSUMED_MS);
        assert!(
            reason.contains("402") && reason.contains("no end"),
            "{reason}"
        );
        for repair in [
            R::LoggedOut,
            R::AccountLocked,
            R::CatExpired,
            R::CatInvalid,
            R::ClientUnknown,
        ] {
            assert!(
                matches!(
                    verdict(&failure(repair, None), NOW),
                    Some(Verdict::LoggedOut { .. })
                ),
                "{repair:?} needs pairing again"
            );
        }
        for refused in [R::Generic, R::BadUserAgent, R::NotFound, R::Unknown(499)] {
            let v = verdict(&failure(refused, Some("bad request")), NOW);
            let Some(Verdict::Refused { reason }) = v else {
                panic!("{refused:?}: {v:?}");
            };
            assert!(reason.contains("bad request"), "{reason}");
        }
        assert_eq!(
            verdict(&failure(R::ClientOutdated, None), NOW),
            Some(Verdict::Outdated)
        );
        for passing in [R::InternalServerError, R::ServiceUnavailable] {
            assert_eq!(
                verdict(&failure(passing, None), NOW),
                None,
                "the library reconnects"
            );
        }
    }

    #[test]
    fn the_reachout_timelocks_end_is_read_from_whatsapps_answer() {
        let lock = |active, ends: Option<&str>| ReachoutTimelock {
            is_active: active,
            time_enforcement_ends: ends.map(str::to_string),
            enforcement_type: None,
        };
        assert_eq!(
            reachout_end(&lock(Some(true), Some("1770000000"))),
            Some(Some(1_770_000_000_000))
        );
        assert_eq!(
            reachout_end(&lock(Some(false), None)),
            Some(None),
            "none holds"
        );
        assert_eq!(reachout_end(&lock(None, None)), Some(None));
        assert_eq!(
            reachout_end(&lock(Some(true), Some("soon"))),
            None,
            "an end it cannot read changes nothing"
        );
    }
}
