//! When a conversation memory expires: pure functions of (instant, rule, time zone).
//! Local times that do not exist (spring forward) resolve to the first instant after the
//! gap; local times that occur twice (fall back) resolve to the earlier one.

use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::{Config, SessionMode, TimeOfDay};

/// The rule a session expires by, from `session_memory`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub mode: SessionMode,
    pub reset_time: TimeOfDay,
    pub reset_hours: i64,
    pub zone: Tz,
}

impl Rule {
    /// The rule `session_memory` configures.
    pub fn of(config: &Config) -> Self {
        let m = &config.file.session_memory;
        Self {
            mode: m.mode,
            reset_time: m.reset_time,
            reset_hours: m.reset_hours,
            zone: m.timezone.0,
        }
    }
}

/// The expiry instant (Unix ms) of a session started at `created_ms`; always after it.
pub fn expires_at(created_ms: i64, rule: &Rule) -> i64 {
    let created = DateTime::<Utc>::from_timestamp_millis(created_ms).unwrap_or_default();
    match rule.mode {
        SessionMode::Duration => created_ms + rule.reset_hours * 3_600_000,
        SessionMode::Time => {
            let at = NaiveTime::from_hms_opt(rule.reset_time.hour, rule.reset_time.minute, 0)
                .unwrap_or_default();
            next_local(created, at, rule.zone)
        }
        SessionMode::SameDay => next_local(created, NaiveTime::MIN, rule.zone),
    }
}

/// The first instant strictly after `after` whose local wall-clock time in `zone` is
/// `at` (or, on a day where `at` is skipped, the end of the skipped stretch).
fn next_local(after: DateTime<Utc>, at: NaiveTime, zone: Tz) -> i64 {
    let today = after.with_timezone(&zone).date_naive();
    // Three days always reach the next occurrence, even across a skipped calendar day.
    (0..=3)
        .filter_map(|days| today.checked_add_days(Days::new(days)))
        .map(|day| resolve(day, at, zone))
        .find(|t| *t > after)
        .unwrap_or(after + chrono::Duration::days(1))
        .timestamp_millis()
}

fn resolve(day: NaiveDate, at: NaiveTime, zone: Tz) -> DateTime<Utc> {
    let mut local: NaiveDateTime = day.and_time(at);
    // Gaps are at most a day long (Samoa skipped 2011-12-30); step over them.
    for _ in 0..=(26 * 60) {
        match zone.from_local_datetime(&local) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(earlier, _) => return earlier.with_timezone(&Utc),
            LocalResult::None => local += chrono::Duration::minutes(1),
        }
    }
    day.and_time(at).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    fn rule(mode: SessionMode, time: &str, zone: Tz) -> Rule {
        Rule {
            mode,
            reset_time: TimeOfDay::parse(time).unwrap(),
            reset_hours: 24,
            zone,
        }
    }

    #[test]
    fn every_mode_on_ordinary_and_dst_days() {
        use SessionMode::*;
        use chrono_tz::{America::New_York, Australia::Lord_Howe, Europe::Berlin, Pacific::Apia};
        let cases = [
            // (mode, reset, zone, created, expected expiry)
            (
                Time,
                "02:00",
                Berlin,
                "2024-01-15T12:00:00Z",
                "2024-01-16T01:00:00Z",
            ),
            (
                Time,
                "02:00",
                Berlin,
                "2024-01-15T00:30:00Z",
                "2024-01-15T01:00:00Z",
            ),
            (
                Time,
                "02:00",
                Berlin,
                "2024-01-15T01:00:00Z",
                "2024-01-16T01:00:00Z",
            ),
            // Spring forward: Berlin 2024-03-31 02:00 → 03:00; 02:30 does not exist.
            (
                Time,
                "02:30",
                Berlin,
                "2024-03-30T22:00:00Z",
                "2024-03-31T01:00:00Z",
            ),
            (
                Time,
                "02:30",
                Berlin,
                "2024-03-31T01:00:00Z",
                "2024-04-01T00:30:00Z",
            ),
            // Fall back: Berlin 2024-10-27 02:30 occurs twice; the first one wins.
            (
                Time,
                "02:30",
                Berlin,
                "2024-10-26T22:00:00Z",
                "2024-10-27T00:30:00Z",
            ),
            (
                Time,
                "02:30",
                Berlin,
                "2024-10-27T00:30:00Z",
                "2024-10-28T01:30:00Z",
            ),
            (
                Time,
                "02:30",
                Berlin,
                "2024-10-27T00:45:00Z",
                "2024-10-28T01:30:00Z",
            ),
            // New York: 2024-03-10 02:00 → 03:00, 2024-11-03 02:00 → 01:00.
            (
                Time,
                "02:15",
                New_York,
                "2024-03-10T05:00:00Z",
                "2024-03-10T07:00:00Z",
            ),
            (
                Time,
                "01:30",
                New_York,
                "2024-11-03T04:00:00Z",
                "2024-11-03T05:30:00Z",
            ),
            // Lord Howe shifts by 30 minutes: 02:00 → 02:30 on 2024-10-06.
            (
                Time,
                "02:10",
                Lord_Howe,
                "2024-10-05T14:00:00Z",
                "2024-10-05T15:30:00Z",
            ),
            // Samoa skipped 2011-12-30 entirely.
            (
                Time,
                "09:00",
                Apia,
                "2011-12-29T12:00:00Z",
                "2011-12-29T19:00:00Z",
            ),
            (
                Time,
                "09:00",
                Apia,
                "2011-12-29T20:00:00Z",
                "2011-12-30T10:00:00Z",
            ),
            (
                SameDay,
                "00:00",
                Berlin,
                "2024-01-15T12:00:00Z",
                "2024-01-15T23:00:00Z",
            ),
            (
                SameDay,
                "00:00",
                Berlin,
                "2024-03-30T12:00:00Z",
                "2024-03-30T23:00:00Z",
            ),
            (
                SameDay,
                "00:00",
                Berlin,
                "2024-03-31T12:00:00Z",
                "2024-03-31T22:00:00Z",
            ),
            (
                SameDay,
                "00:00",
                Berlin,
                "2024-10-27T12:00:00Z",
                "2024-10-27T23:00:00Z",
            ),
            (
                SameDay,
                "00:00",
                New_York,
                "2024-03-10T12:00:00Z",
                "2024-03-11T04:00:00Z",
            ),
            // 24 hours are 24 hours, even across a DST change.
            (
                Duration,
                "02:00",
                Berlin,
                "2024-03-30T12:00:00Z",
                "2024-03-31T12:00:00Z",
            ),
            (
                Duration,
                "02:00",
                Berlin,
                "2024-10-26T12:00:00Z",
                "2024-10-27T12:00:00Z",
            ),
        ];
        for (mode, time, zone, created, want) in cases {
            let got = expires_at(utc(created), &rule(mode, time, zone));
            assert_eq!(
                got,
                utc(want),
                "{mode:?} {time} {zone} from {created}: got {}",
                DateTime::<Utc>::from_timestamp_millis(got).unwrap()
            );
        }
    }

    #[test]
    fn duration_counts_configured_hours() {
        let mut r = rule(SessionMode::Duration, "00:00", chrono_tz::UTC);
        r.reset_hours = 6;
        assert_eq!(expires_at(0, &r), 6 * 3_600_000);
    }

    #[test]
    fn expiry_is_always_in_the_future_minute_by_minute_across_a_dst_day() {
        let r = rule(SessionMode::Time, "02:30", chrono_tz::Europe::Berlin);
        let start = utc("2024-03-30T20:00:00Z");
        for minute in 0..(24 * 60) {
            let created = start + minute * 60_000;
            let expiry = expires_at(created, &r);
            assert!(
                expiry > created && expiry - created <= 25 * 3_600_000,
                "at {created}"
            );
        }
    }
}
