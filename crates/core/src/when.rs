//! Instants as people write them on a command line: `2025-03-13`, `2025-03-13 10:00`,
//! RFC 3339, `today`, `yesterday`, `now`, or an age (`30m`, `2h`, `3d`, `1w` ago), in the
//! configured zone. A bare day is inclusive at both ends: `--since 2025-03-13 --until
//! 2025-03-13` is that whole day.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone};

/// Which end of a range an instant bounds: a day given as an end means its last moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// `--since`: the first instant included.
    From,
    /// `--until`: the first instant no longer included.
    Until,
}

/// The forms accepted, for error messages.
pub const FORMS: &str = "YYYY-MM-DD, \"YYYY-MM-DD HH:MM\", RFC 3339, today, yesterday, now, or an age like 30m, 2h, 3d, 1w";

/// Unix ms of `text` as the `end` of a range, `now_ms` being now; `None` when it is none
/// of [`FORMS`].
pub fn parse(text: &str, tz: chrono_tz::Tz, now_ms: i64, end: End) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    let today = DateTime::from_timestamp_millis(now_ms)?
        .with_timezone(&tz)
        .date_naive();
    let day = match text.to_ascii_lowercase().as_str() {
        "now" => return Some(now_ms),
        "today" => Some(today),
        "yesterday" => today.pred_opt(),
        _ => NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
    };
    if let Some(day) = day {
        let day = match end {
            End::From => day,
            End::Until => day.succ_opt()?,
        };
        return local(day.and_hms_opt(0, 0, 0)?, tz);
    }
    for format in [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return local(t, tz);
        }
    }
    let age = age(text)?;
    now_ms.checked_sub(age.num_milliseconds())
}

/// A local time in `tz`; the earlier one when a clock change makes it ambiguous, the
/// moment after the gap when it does not exist.
fn local(t: NaiveDateTime, tz: chrono_tz::Tz) -> Option<i64> {
    tz.from_local_datetime(&t)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(t + Duration::hours(1))).earliest())
        .map(|t| t.timestamp_millis())
}

/// `30m`, `2h`, `3d`, `1w` (also `90s`).
fn age(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let n: i64 = text[..text.len() - unit.len_utf8()].trim().parse().ok()?;
    if n < 0 {
        return None;
    }
    match unit {
        's' => Duration::try_seconds(n),
        'm' => Duration::try_minutes(n),
        'h' => Duration::try_hours(n),
        'd' => Duration::try_days(n),
        'w' => Duration::try_weeks(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE: chrono_tz::Tz = chrono_tz::Europe::Berlin;

    fn at(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn a_day_is_inclusive_at_both_ends_in_the_configured_zone() {
        let now = at("2025-03-14T12:00:00Z");
        assert_eq!(
            parse("2025-03-13", ZONE, now, End::From),
            Some(at("2025-03-13T00:00:00+01:00"))
        );
        assert_eq!(
            parse("2025-03-13", ZONE, now, End::Until),
            Some(at("2025-03-14T00:00:00+01:00"))
        );
        assert_eq!(
            parse("yesterday", ZONE, now, End::From),
            Some(at("2025-03-13T00:00:00+01:00"))
        );
        assert_eq!(
            parse("today", ZONE, now, End::Until),
            Some(at("2025-03-15T00:00:00+01:00"))
        );
    }

    #[test]
    fn local_times_ages_and_rfc3339() {
        let now = at("2025-03-14T12:00:00Z");
        assert_eq!(
            parse("2025-03-13 10:00", ZONE, now, End::From),
            Some(at("2025-03-13T10:00:00+01:00"))
        );
        assert_eq!(
            parse("2h", ZONE, now, End::From),
            Some(at("2025-03-14T10:00:00Z"))
        );
        assert_eq!(
            parse("1w", ZONE, now, End::Until),
            Some(at("2025-03-07T12:00:00Z"))
        );
        assert_eq!(
            parse("2025-03-13T10:00:00Z", ZONE, now, End::Until),
            Some(at("2025-03-13T10:00:00Z"))
        );
        assert_eq!(parse("now", ZONE, now, End::Until), Some(now));
        // The spring-forward gap: 02:30 does not exist in Berlin on 2025-03-30.
        assert_eq!(
            parse("2025-03-30 02:30", ZONE, now, End::From),
            Some(at("2025-03-30T03:30:00+02:00"))
        );
        for bad in ["last tuesday", "2h ago", "-3d", "2025-13-01", "", "5y"] {
            assert_eq!(parse(bad, ZONE, now, End::From), None, "{bad}");
        }
    }
}
