//! Turning header stamps into times: which date field is the day, the month and the
//! year (decided once per file), calendar eras, 12-hour clocks and the time zone.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use serde::Serialize;

use super::header::Stamp;
use super::locale::{self, Period};

/// The order of a date's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DateOrder {
    /// 15/01/2024
    Dmy,
    /// 01/15/2024
    Mdy,
    /// 2024-01-15
    Ymd,
    /// 2024/15/01
    Ydm,
    /// 15/2024/01
    Dym,
    /// 01/2024/15
    Myd,
}

const ORDERS: [DateOrder; 6] = [
    DateOrder::Dmy,
    DateOrder::Mdy,
    DateOrder::Ymd,
    DateOrder::Ydm,
    DateOrder::Dym,
    DateOrder::Myd,
];

impl DateOrder {
    /// Positions of (year, month, day) among the written fields.
    fn positions(self) -> (usize, usize, usize) {
        match self {
            DateOrder::Dmy => (2, 1, 0),
            DateOrder::Mdy => (2, 0, 1),
            DateOrder::Ymd => (0, 1, 2),
            DateOrder::Ydm => (0, 2, 1),
            DateOrder::Dym => (1, 2, 0),
            DateOrder::Myd => (1, 0, 2),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DateOrder::Dmy => "day/month/year",
            DateOrder::Mdy => "month/day/year",
            DateOrder::Ymd => "year/month/day",
            DateOrder::Ydm => "year/day/month",
            DateOrder::Dym => "day/year/month",
            DateOrder::Myd => "month/year/day",
        }
    }
}

/// A year field as written: its number, digit count and era letter.
fn year(field: &str, buddhist: bool) -> Option<i32> {
    let (era, digits) = match field.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => (Some(c.to_ascii_uppercase()), &field[1..]),
        _ => (None, field),
    };
    let value: i32 = digits.parse().ok()?;
    if let Some(letter) = era {
        let (_, base) = locale::ERA_PREFIXES.iter().find(|(c, _)| *c == letter)?;
        return Some(base + value);
    }
    Some(match digits.len() {
        // WhatsApp began in 2009: a two-digit year is this century's.
        1 | 2 => 2000 + value,
        3 => locale::MINGUO_OFFSET + value,
        // No phone writes a Gregorian year past 2400: such a year is Buddhist-era.
        _ if buddhist || value >= 2400 => value - locale::BUDDHIST_OFFSET,
        _ => value,
    })
}

/// A day or month field: at most two plain digits.
fn small(field: &str) -> Option<u32> {
    (field.len() <= 2 && field.bytes().all(|b| b.is_ascii_digit()))
        .then(|| field.parse().ok())
        .flatten()
}

/// Where a stamp's own fields put the year: a field of more than two digits or with
/// an era letter can only be a year.
fn year_place(stamp: &Stamp) -> Option<usize> {
    stamp
        .fields
        .iter()
        .position(|f| f.len() > 2 || f.starts_with(|c: char| c.is_ascii_alphabetic()))
}

/// `order` with its year moved to `place`: year-first dates are ISO (year, month, day);
/// elsewhere day and month keep their order.
fn with_year_at(order: DateOrder, place: usize) -> DateOrder {
    let (_, month, day) = order.positions();
    let day_first = day < month;
    match (place, day_first) {
        (0, _) => DateOrder::Ymd,
        (1, true) => DateOrder::Dym,
        (1, false) => DateOrder::Myd,
        (_, true) => DateOrder::Dmy,
        (_, false) => DateOrder::Mdy,
    }
}

/// The date of a stamp read in `order`, if it is one. A stamp that shows its own year
/// elsewhere (a lone ISO date among short ones) is read with the year where it is.
pub fn date(stamp: &Stamp, order: DateOrder) -> Option<NaiveDate> {
    let order = match year_place(stamp) {
        Some(place) if place != order.positions().0 => with_year_at(order, place),
        _ => order,
    };
    let (y, m, d) = order.positions();
    let year = year(&stamp.fields[y], stamp.buddhist)?;
    NaiveDate::from_ymd_opt(year, small(&stamp.fields[m])?, small(&stamp.fields[d])?)
}

/// The wall-clock time of a stamp, 12-hour periods applied.
pub fn time(stamp: &Stamp) -> Option<NaiveTime> {
    let mut hour = stamp.hour;
    match stamp.period {
        Some(Period::Am) if hour == 12 => hour = 0,
        Some(Period::Pm) if hour < 12 => hour += 12,
        Some(Period::Night) if (6..12).contains(&hour) => hour += 12,
        Some(Period::Night) if hour == 12 => hour = 0,
        _ => {}
    }
    NaiveTime::from_hms_opt(hour, stamp.minute, stamp.second)
}

/// The order chosen for a file and whether it was a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub order: DateOrder,
    /// Another order also reads every date, with a different result.
    pub guessed: bool,
}

/// How well an order reads a file, best lowest: impossible dates, a two-digit year
/// not in last place, total movement of the timeline, rank among the usual orders.
type Score = (usize, bool, i64, usize);

/// Chooses the date order of a file from all its header stamps, in file order. Orders
/// under which fewer dates are impossible win; a two-digit year is taken to be last
/// unless that makes more dates impossible; then, because an export is chronological,
/// the order under which the times run forward most smoothly (the least total
/// movement back and forth); a remaining tie goes to the usual order for the file's
/// separators and clock.
/// The order under which every dated attachment's header agrees with the date in the
/// attachment's name (a photo is saved the day it is sent), if the orders that agree
/// read every date of the file alike.
pub fn settled_by(dated: &[(&Stamp, NaiveDate)], stamps: &[Stamp]) -> Option<DateOrder> {
    if dated.is_empty() {
        return None;
    }
    let agreeing: Vec<DateOrder> = ORDERS
        .into_iter()
        .filter(|order| {
            dated
                .iter()
                .all(|(stamp, day)| date(stamp, *order) == Some(*day))
        })
        .collect();
    let first = *agreeing.first()?;
    agreeing
        .iter()
        .all(|order| stamps.iter().all(|s| date(s, *order) == date(s, first)))
        .then_some(first)
}

pub fn decide(stamps: &[Stamp]) -> Decision {
    // When every stamp shows its year in the same place, only orders with the year
    // there are candidates; otherwise two-digit years are taken to be last.
    let places: Vec<Option<usize>> = stamps.iter().map(year_place).collect();
    let fixed_year = match places.first() {
        Some(Some(place)) if places.iter().all(|p| *p == Some(*place)) => Some(*place),
        _ => None,
    };
    let preferred = preference(stamps);
    let mut scored: Vec<(DateOrder, Score, Vec<Option<NaiveDate>>)> = Vec::new();
    for order in ORDERS {
        let (y, _, _) = order.positions();
        if fixed_year.is_some_and(|place| place != y) {
            continue;
        }
        let dates: Vec<Option<NaiveDate>> = stamps.iter().map(|s| date(s, order)).collect();
        let impossible = dates.iter().filter(|d| d.is_none()).count();
        let unusual_year = fixed_year.is_none() && y != 2;
        let rank = preferred
            .iter()
            .position(|o| *o == order)
            .unwrap_or(ORDERS.len());
        let key = (impossible, unusual_year, movement(stamps, &dates), rank);
        scored.push((order, key, dates));
    }
    scored.sort_by_key(|(_, key, _)| *key);
    let Some((order, best, dates)) = scored.first() else {
        // Year places contradict each other: let every date report itself.
        return Decision {
            order: preferred[0],
            guessed: false,
        };
    };
    let guessed = scored[1..]
        .iter()
        .any(|(_, key, other)| key.0 == best.0 && key.1 == best.1 && other != dates);
    Decision {
        order: *order,
        guessed,
    }
}

/// Total movement in seconds between consecutive readable stamps.
fn movement(stamps: &[Stamp], dates: &[Option<NaiveDate>]) -> i64 {
    let times: Vec<NaiveDateTime> = stamps
        .iter()
        .zip(dates)
        .filter_map(|(s, d)| Some(NaiveDateTime::new((*d)?, time(s).unwrap_or_default())))
        .collect();
    times
        .windows(2)
        .map(|w| (w[1] - w[0]).num_seconds().abs())
        .sum()
}

/// The usual order when the dates themselves cannot tell: dots and dashes are written
/// day-first; slashes with a 12-hour clock are the US month-first; other slashes day-first.
fn preference(stamps: &[Stamp]) -> Vec<DateOrder> {
    let slashes = stamps.first().is_some_and(|s| s.separator == '/');
    let twelve_hour = stamps.iter().any(|s| s.period.is_some());
    let mut orders = ORDERS.to_vec();
    if slashes && twelve_hour {
        orders.swap(0, 1);
    }
    orders
}

/// Milliseconds since the epoch of a wall-clock time in `zone`. A time skipped by a
/// daylight-saving change is read as the same wall time an hour later.
pub fn instant(local: NaiveDateTime, zone: chrono_tz::Tz) -> Result<i64, String> {
    zone.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| format!("{local} does not exist in {zone}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(a: &str, b: &str, c: &str, sep: char, period: Option<Period>) -> Stamp {
        Stamp {
            fields: [a.into(), b.into(), c.into()],
            separator: sep,
            buddhist: false,
            hour: 9,
            minute: 0,
            second: 0,
            period,
        }
    }

    #[test]
    fn an_impossible_day_decides_without_a_guess() {
        let s = [
            stamp("1", "29", "18", '/', None),
            stamp("1", "30", "18", '/', None),
        ];
        assert_eq!(
            decide(&s),
            Decision {
                order: DateOrder::Mdy,
                guessed: false
            }
        );
    }

    #[test]
    fn ambiguous_dates_follow_the_smoothest_timeline() {
        // Month-first these are Jan 5, Jan 9, Feb 1; day-first May 1, Sep 1, Jan 2.
        let s = [
            stamp("1", "5", "24", '.', None),
            stamp("1", "9", "24", '.', None),
            stamp("2", "1", "24", '.', None),
        ];
        assert_eq!(
            decide(&s),
            Decision {
                order: DateOrder::Mdy,
                guessed: true
            }
        );
    }

    #[test]
    fn year_in_the_middle_and_eras() {
        let s = [stamp("06", "2018", "13", '/', None)];
        assert_eq!(decide(&s).order, DateOrder::Myd);
        let mut japanese = stamp("3", "27", "R4", '/', None);
        assert_eq!(
            date(&japanese, DateOrder::Mdy),
            NaiveDate::from_ymd_opt(2022, 3, 27)
        );
        japanese.fields[2] = "2565".into();
        assert_eq!(
            date(&japanese, DateOrder::Mdy),
            NaiveDate::from_ymd_opt(2022, 3, 27)
        );
    }

    #[test]
    fn day_periods() {
        let mut s = stamp("1", "1", "24", '/', Some(Period::Pm));
        s.hour = 3;
        assert_eq!(time(&s), NaiveTime::from_hms_opt(15, 0, 0));
        s.period = Some(Period::Night);
        s.hour = 11;
        assert_eq!(time(&s), NaiveTime::from_hms_opt(23, 0, 0));
        s.hour = 2;
        assert_eq!(time(&s), NaiveTime::from_hms_opt(2, 0, 0));
        s.period = Some(Period::Am);
        s.hour = 12;
        assert_eq!(time(&s), NaiveTime::from_hms_opt(0, 0, 0));
    }
}
