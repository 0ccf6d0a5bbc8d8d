//! The account's standing with WhatsApp: what a ban, a logout or an outdated client
//! means ([`Verdict`]), how it is remembered ([`Standing`]), and the error that ends
//! `listen` or `pair` because of it.

use crate::clock;
use crate::error::{self, Kind};

/// What a connection event means for the account, if it means anything lasting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Banned {
        until: i64,
        reason: String,
    },
    LoggedOut {
        reason: String,
    },
    Outdated,
    /// WhatsApp refused the connection for a reason no reconnect cures (a bad request,
    /// a restriction it did not explain): a person must look, but the next start may try.
    Refused {
        reason: String,
    },
}

/// One change to the stored account state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing<'a> {
    Banned {
        until: i64,
        reason: &'a str,
    },
    LoggedOut {
        reason: &'a str,
    },
    /// Linked (again): bans, logouts and refusals are history.
    Linked,
    /// A refusal of the connection, recorded for `doctor`.
    Refused {
        reason: &'a str,
    },
    /// Connected: a refusal recorded before is over.
    Connected,
    ClientVersion(&'a str),
    /// WhatsApp's answer about the reachout timelock (after an error 463): when it
    /// ends, or `None` when none holds.
    Reachout {
        until: Option<i64>,
    },
}

impl Verdict {
    /// What the account state remembers of it, so the next start refuses instead of
    /// reconnecting; nothing for an outdated client (a new version is the cure).
    pub fn as_standing(&self) -> Option<Standing<'_>> {
        match self {
            Verdict::Banned { until, reason } => Some(Standing::Banned {
                until: *until,
                reason,
            }),
            Verdict::LoggedOut { reason } => Some(Standing::LoggedOut { reason }),
            Verdict::Refused { reason } => Some(Standing::Refused { reason }),
            Verdict::Outdated => None,
        }
    }

    /// The error a verdict ends `listen` or `pair` with: exit 69, the "needs a human"
    /// code, which the systemd unit does not restart on.
    pub fn failure(&self, tz: chrono_tz::Tz) -> anyhow::Error {
        match self {
            Verdict::Banned { until, reason } => error::failure(
                Kind::Unavailable,
                format!(
                    "WhatsApp temporarily banned this account ({reason}) until {}; wabot will \
                     not reconnect before then",
                    clock::display(*until, tz)
                ),
            ),
            Verdict::LoggedOut { reason } => error::failure(
                Kind::Unavailable,
                format!(
                    "WhatsApp logged this device out ({reason}): run `wabot pair --force` to \
                     link it again"
                ),
            ),
            Verdict::Outdated => error::failure(
                Kind::Unavailable,
                "WhatsApp still calls this client outdated after wabot fetched the current \
                 WhatsApp Web version: upgrade wabot",
            ),
            Verdict::Refused { reason } => error::failure(
                Kind::Unavailable,
                format!(
                    "WhatsApp refused the connection ({reason}); reconnecting would not help: \
                     check the account on the phone (`wabot doctor`), then start the listener again"
                ),
            ),
        }
    }
}

/// A WhatsApp Web version, `major.minor.patch` as stored.
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next()??, parts.next()??, parts.next()??, parts.next()) {
        (a, b, c, None) => Some((a, b, c)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_only_in_three_numbers() {
        assert_eq!(parse_version("2.3000.1021"), Some((2, 3000, 1021)));
        for bad in ["2.3000", "2.3000.1.4", "2.x.1", ""] {
            assert_eq!(parse_version(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bans_and_logouts_are_remembered_and_need_a_human() {
        let ban = Verdict::Banned {
            until: 0,
            reason: "101".into(),
        };
        assert_eq!(
            ban.as_standing(),
            Some(Standing::Banned {
                until: 0,
                reason: "101"
            })
        );
        assert_eq!(Verdict::Outdated.as_standing(), None);
        let err = ban.failure(chrono_tz::UTC);
        assert_eq!(error::classified_exit_code(&err), Some(69));
        assert!(err.to_string().contains("101"), "{err}");
    }
}
