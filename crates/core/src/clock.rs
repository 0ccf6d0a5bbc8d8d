//! The one representation of instants across wabot: Unix milliseconds, UTC; and the
//! [`Clock`] that code whose behaviour hangs on time reads it from, so that tests can
//! move time on instead of waiting for it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

/// The system clock's time: for code that has no [`Clock`] to hand because no test
/// needs to control its time.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Where time comes from, and how a thread waits for an instant.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;

    /// Returns once this clock reads `until` (never, for `None`) or `wakeup` is rung,
    /// whichever comes first. A ring that came before the call counts, so a thread that
    /// decided to sleep cannot miss the news that changed its mind.
    fn sleep_until(&self, until: Option<i64>, wakeup: &Wakeup);
}

/// What cuts a [`Clock::sleep_until`] short: another thread rings it.
#[derive(Clone, Default)]
pub struct Wakeup(Arc<Bell>);

#[derive(Default)]
struct Bell {
    /// Guards the sleeper's look at the time and the ring against each other.
    lock: Mutex<()>,
    /// Atomic so that a [`ManualClock`] can see a rung sleeper without taking `lock`.
    rung: AtomicBool,
    ringing: Condvar,
}

impl Wakeup {
    pub fn ring(&self) {
        let _held = self.lock();
        self.0.rung.store(true, Ordering::SeqCst);
        self.0.ringing.notify_all();
    }

    /// Wakes the sleeper to look at the time again, without a ring.
    #[cfg(any(test, feature = "test-support"))]
    fn nudge(&self) {
        let _held = self.lock();
        self.0.ringing.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // The mutex guards no data: a panic elsewhere leaves nothing inconsistent.
        self.0.lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(any(test, feature = "test-support"))]
    fn is_rung(&self) -> bool {
        self.0.rung.load(Ordering::SeqCst)
    }

    /// The ring, consumed.
    fn answer(&self) -> bool {
        self.0.rung.swap(false, Ordering::SeqCst)
    }

    fn wait<'a>(
        &'a self,
        held: MutexGuard<'a, ()>,
        at_most: Option<Duration>,
    ) -> MutexGuard<'a, ()> {
        match at_most {
            Some(limit) => {
                self.0
                    .ringing
                    .wait_timeout(held, limit)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => self
                .0
                .ringing
                .wait(held)
                .unwrap_or_else(PoisonError::into_inner),
        }
    }
}

/// The real time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }

    fn sleep_until(&self, until: Option<i64>, wakeup: &Wakeup) {
        let mut held = wakeup.lock();
        loop {
            if wakeup.answer() {
                return;
            }
            let now = now_ms();
            let left = match until {
                Some(until) if until <= now => return,
                Some(until) => Some(Duration::from_millis((until - now).unsigned_abs())),
                None => None,
            };
            held = wakeup.wait(held, left);
        }
    }
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

/// How a [`poll_until`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Polled<T> {
    Done(T),
    TimedOut,
    Interrupted,
}

/// Calls `probe` every `every` until it returns a value, `stop` turns true, or
/// `deadline` (if any) passes: the one waiting loop of the jobs that wait on the
/// listener.
pub fn poll_until<T>(
    deadline: Option<std::time::Instant>,
    every: std::time::Duration,
    stop: &std::sync::atomic::AtomicBool,
    mut probe: impl FnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<Polled<T>> {
    loop {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(Polled::Interrupted);
        }
        if let Some(value) = probe()? {
            return Ok(Polled::Done(value));
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Ok(Polled::TimedOut);
        }
        std::thread::sleep(every);
    }
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

/// `YYYY-MM-DD` (local midnight in `tz`) or an RFC 3339 time, as Unix ms: how people
/// bound a search on the command line and over MCP.
pub fn parse_instant(text: &str, tz: chrono_tz::Tz) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.timestamp_millis())
}

#[cfg(any(test, feature = "test-support"))]
pub use manual::{Asleep, ManualClock};

#[cfg(any(test, feature = "test-support"))]
mod manual;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_ends_on_a_value_a_stop_or_the_deadline() {
        use std::sync::atomic::AtomicBool;
        use std::time::{Duration, Instant};
        let every = Duration::from_millis(1);
        let mut n = 0;
        let done = poll_until(None, every, &AtomicBool::new(false), || {
            n += 1;
            Ok((n == 3).then_some(n))
        });
        assert_eq!(done.unwrap(), Polled::Done(3));
        let stop = AtomicBool::new(true);
        let stopped = poll_until(None, every, &stop, || Ok(Some(1)));
        assert_eq!(stopped.unwrap(), Polled::Interrupted);
        let late = Some(Instant::now());
        let timed = poll_until::<()>(late, every, &AtomicBool::new(false), || Ok(None));
        assert_eq!(timed.unwrap(), Polled::TimedOut);
    }

    #[test]
    fn the_system_clock_sleeps_until_an_instant_or_a_ring() {
        let clock = SystemClock;
        let wakeup = Wakeup::default();
        let until = clock.now_ms() + 5;
        clock.sleep_until(Some(until), &wakeup);
        assert!(clock.now_ms() >= until);
        clock.sleep_until(Some(0), &wakeup);
        wakeup.ring();
        clock.sleep_until(None, &wakeup);
        let ringer = std::thread::spawn({
            let wakeup = wakeup.clone();
            move || wakeup.ring()
        });
        clock.sleep_until(None, &wakeup);
        ringer.join().unwrap();
    }

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
