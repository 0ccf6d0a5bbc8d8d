//! The one representation of instants across wabot: Unix milliseconds, UTC.

use chrono::{DateTime, TimeZone, Utc};

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The instant today began in `tz` (the first instant of the local date, DST-safe).
pub fn start_of_today(tz: chrono_tz::Tz) -> i64 {
    let date = Utc::now().with_timezone(&tz).date_naive();
    date.and_hms_opt(0, 0, 0)
        .and_then(|midnight| tz.from_local_datetime(&midnight).earliest())
        .or_else(|| {
            // A zone that skips midnight (DST at 00:00) starts the day at 01:00.
            date.and_hms_opt(1, 0, 0)
                .and_then(|t| tz.from_local_datetime(&t).earliest())
        })
        .map_or_else(
            || now_ms() - now_ms().rem_euclid(DAY_MS),
            |t| t.timestamp_millis(),
        )
}

/// An instant shown in the configured time zone, for people.
pub fn display(ms: i64, tz: chrono_tz::Tz) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(utc) => tz
            .from_utc_datetime(&utc.naive_utc())
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string(),
        None => format!("{ms} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_in_the_given_zone() {
        let jan_15_1430_utc = 1_705_329_000_000;
        assert_eq!(
            display(jan_15_1430_utc, chrono_tz::Europe::Berlin),
            "2024-01-15 15:30:00 CET"
        );
        assert_eq!(
            display(jan_15_1430_utc, chrono_tz::UTC),
            "2024-01-15 14:30:00 UTC"
        );
    }
}
