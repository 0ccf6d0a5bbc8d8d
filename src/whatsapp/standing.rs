//! Failures that need a human: a temporary ban, a logout, an outdated client. What an
//! event means is decided here, from the library's real event values; `listen` and
//! `pair` act on it, and refuse to reconnect while a ban or a logout stands, so that
//! systemd's restarts never hammer WhatsApp.

use std::sync::Arc;

use anyhow::Result;
use whatsapp_rust::prelude::*;

use crate::clock;
use crate::db::{AccountState, Db, Standing};
use crate::error::{self, Kind};

/// What a connection event means for the account, if it means anything lasting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Banned { until: i64, reason: String },
    LoggedOut { reason: String },
    Outdated,
}

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
        _ => None,
    }
}

/// Remembers a ban or logout, so the next start refuses instead of reconnecting.
pub fn record(db: &mut Db, verdict: &Verdict) -> crate::db::Result<()> {
    let now = clock::now_ms();
    match verdict {
        Verdict::Banned { until, reason } => db.record_standing(
            Standing::Banned {
                until: *until,
                reason,
            },
            now,
        ),
        Verdict::LoggedOut { reason } => db.record_standing(Standing::LoggedOut { reason }, now),
        Verdict::Outdated => Ok(()),
    }
}

/// The error a verdict ends `listen` or `pair` with: exit 69, the "needs a human" code,
/// which the systemd unit does not restart on.
pub fn failure(verdict: &Verdict, tz: chrono_tz::Tz) -> anyhow::Error {
    match verdict {
        Verdict::Banned { until, reason } => error::failure(
            Kind::Unavailable,
            format!(
                "WhatsApp temporarily banned this account ({reason}) until {}; wabot will not \
                 reconnect before then",
                clock::display(*until, tz)
            ),
        ),
        Verdict::LoggedOut { reason } => error::failure(
            Kind::Unavailable,
            format!(
                "WhatsApp logged this device out ({reason}): run `wabot pair --force` to link \
                 it again"
            ),
        ),
        Verdict::Outdated => error::failure(
            Kind::Unavailable,
            "WhatsApp still calls this client outdated after wabot fetched the current WhatsApp \
             Web version: upgrade wabot",
        ),
    }
}

/// Why connecting now would be wrong, if it would.
pub fn refusal(state: &AccountState, now: i64) -> Option<Verdict> {
    if let (Some(until), reason) = (state.banned_until, &state.ban_reason)
        && until > now
    {
        return Some(Verdict::Banned {
            until,
            reason: reason.clone().unwrap_or_default(),
        });
    }
    state.logged_out_at.map(|_| Verdict::LoggedOut {
        reason: state.logout_reason.clone().unwrap_or_default(),
    })
}

/// `major.minor.patch` as stored.
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next()??, parts.next()??, parts.next()??, parts.next()) {
        (a, b, c, None) => Some((a, b, c)),
        _ => None,
    }
}

/// Asks WhatsApp's web client for its current version, and stores it for every later
/// start.
pub async fn fetch_current_version(db: &std::sync::Mutex<Db>) -> Result<(u32, u32, u32)> {
    let http: Arc<dyn whatsapp_rust::http::HttpClient> =
        Arc::new(whatsapp_rust::http::UreqHttpClient::new());
    let (a, b, c) = whatsapp_rust::version::fetch_latest_app_version(&http).await?;
    let text = format!("{a}.{b}.{c}");
    db.lock()
        .map_err(|_| anyhow::anyhow!("database lock poisoned"))?
        .record_standing(Standing::ClientVersion(&text), clock::now_ms())?;
    log::info!("WhatsApp Web version {text} fetched; it is used from now on");
    Ok((a, b, c))
}

#[cfg(test)]
mod tests {
    use whatsapp_rust::types::events::{
        ClientOutdated, ConnectFailureReason, LoggedOut, LogoutMessage, TempBanReason, TemporaryBan,
    };

    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn a_temporary_ban_is_recorded_with_its_end_and_stops_reconnecting() {
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
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        record(&mut db, &verdict).unwrap();
        let state = db.account_state().unwrap();
        assert_eq!(refusal(&state, NOW + 60_000), Some(verdict.clone()));
        assert_eq!(refusal(&state, NOW + 91 * 60_000), None, "the ban ran out");
        let err = failure(&verdict, chrono_tz::UTC);
        assert_eq!(crate::error::exit_code(&err), 69);
    }

    #[test]
    fn a_logout_says_how_to_pair_again_until_the_device_is_linked() {
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
        let verdict = verdict(&event, NOW).unwrap();
        assert_eq!(
            verdict,
            Verdict::LoggedOut {
                reason: "Device removed".into()
            }
        );
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        record(&mut db, &verdict).unwrap();
        assert!(refusal(&db.account_state().unwrap(), NOW).is_some());
        let said = failure(&verdict, chrono_tz::UTC).to_string();
        assert!(said.contains("wabot pair --force"), "{said}");
        db.record_standing(Standing::Linked, NOW).unwrap();
        assert_eq!(refusal(&db.account_state().unwrap(), NOW), None);
    }

    #[test]
    fn an_outdated_client_asks_for_the_current_version() {
        let event = Event::ClientOutdated(ClientOutdated::builder().build());
        assert_eq!(verdict(&event, NOW), Some(Verdict::Outdated));
        assert_eq!(parse_version("2.3000.1027"), Some((2, 3000, 1027)));
        assert_eq!(parse_version("2.3000"), None);
        assert_eq!(parse_version("2.x.1"), None);
        let connected = whatsapp_rust::types::events::Connected::builder().build();
        assert_eq!(verdict(&Event::Connected(connected), NOW), None);
    }
}
