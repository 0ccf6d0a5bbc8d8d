//! The one way wabot makes HTTP clients (LLM, transcription, the official WhatsApp
//! APIs): bounded in time, statuses read by the caller (each API has its own error
//! bodies), a user agent that names wabot, and `Retry-After` read one way.
//!
//! # What it may use
//! `wabot-core` (the clock) and ureq; no other crate of the workspace.

use std::time::Duration;

use chrono::DateTime;

/// A client whose calls end within `timeout`; connecting gets at most 10 s of it.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent(concat!("wabot/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// The longest a provider's `Retry-After` may hold a send or a turn back.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Retry-After is either seconds or an HTTP date; never more than [`MAX_RETRY_AFTER`].
pub fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(seconds) = value.parse::<f64>() {
        if !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64()))
    } else {
        let at = DateTime::parse_from_rfc2822(value).ok()?;
        let ms = at
            .timestamp_millis()
            .saturating_sub(wabot_core::clock::now_ms());
        Duration::from_millis(ms.max(0).unsigned_abs())
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_a_date_and_is_capped() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
        assert_eq!(retry_after("-5"), None);
        for huge in [
            "86400",
            "9e15",
            "18446744073709551615",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            assert_eq!(retry_after(huge), Some(MAX_RETRY_AFTER), "{huge}");
        }
    }
}
