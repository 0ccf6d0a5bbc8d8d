//! A clock that only moves when a test advances it, and that tells the test when the
//! threads sleeping on it have seen the time it shows: how a test proves that nothing
//! happens before an instant without waiting for that instant.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{Clock, Wakeup};

/// How a thread sleeps on a [`ManualClock`].
#[derive(Debug, PartialEq, Eq)]
pub enum Asleep {
    /// Until the clock reads this instant (or it is rung).
    Until(i64),
    /// Until it is rung.
    UntilWoken,
}

pub struct ManualClock {
    state: Mutex<State>,
    /// Notified whenever a thread starts sleeping.
    asleep: Condvar,
}

struct State {
    now: i64,
    sleepers: Vec<Sleeper>,
    next_ticket: u64,
}

/// A thread inside [`ManualClock::sleep_until`] that has seen the current time.
struct Sleeper {
    ticket: u64,
    until: Option<i64>,
    wakeup: Wakeup,
}

impl ManualClock {
    pub fn new(now: i64) -> Self {
        Self {
            state: Mutex::new(State {
                now,
                sleepers: Vec::new(),
                next_ticket: 0,
            }),
            asleep: Condvar::new(),
        }
    }

    /// Moves time on and wakes every sleeper to look at it.
    pub fn advance(&self, by: Duration) {
        let woken = {
            let mut state = self.state();
            state.now += i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            std::mem::take(&mut state.sleepers)
        };
        // Outside the state's lock: a sleeper takes its bell's lock, then the state's.
        for sleeper in woken {
            sleeper.wakeup.nudge();
        }
    }

    /// Waits at most `within` (real time) until some thread sleeps on this clock having
    /// seen the time it shows now and no ring since; the earliest instant any such
    /// thread waits for. `None` if none fell asleep in time.
    pub fn asleep(&self, within: Duration) -> Option<Asleep> {
        let deadline = Instant::now() + within;
        let mut state = self.state();
        loop {
            let earliest = state
                .sleepers
                .iter()
                .filter(|s| !s.wakeup.is_rung())
                .map(|s| s.until)
                .min_by_key(|until| until.unwrap_or(i64::MAX));
            if let Some(until) = earliest {
                return Some(until.map_or(Asleep::UntilWoken, Asleep::Until));
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self
                .asleep
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A few plain fields, consistent after any panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fall_asleep(&self, until: Option<i64>, wakeup: &Wakeup) -> Option<u64> {
        let mut state = self.state();
        if until.is_some_and(|until| until <= state.now) {
            return None;
        }
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.sleepers.push(Sleeper {
            ticket,
            until,
            wakeup: wakeup.clone(),
        });
        self.asleep.notify_all();
        Some(ticket)
    }

    fn wake_up(&self, ticket: u64) {
        self.state().sleepers.retain(|s| s.ticket != ticket);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.state().now
    }

    fn sleep_until(&self, until: Option<i64>, wakeup: &Wakeup) {
        let mut held = wakeup.lock();
        loop {
            if wakeup.answer() {
                return;
            }
            // Seen the time and signed in under the bell's lock: an advance or a ring
            // after this finds the sleeper waiting.
            let Some(ticket) = self.fall_asleep(until, wakeup) else {
                return;
            };
            held = wakeup.wait(held, None);
            // Signed out before the ring is answered, so that `asleep` never reports a
            // sleeper that is on its way out.
            self.wake_up(ticket);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const WITHIN: Duration = Duration::from_secs(10);

    fn sleeping(
        clock: &Arc<ManualClock>,
        until: Option<i64>,
        wakeup: &Wakeup,
    ) -> std::thread::JoinHandle<i64> {
        let (clock, wakeup) = (Arc::clone(clock), wakeup.clone());
        std::thread::spawn(move || {
            clock.sleep_until(until, &wakeup);
            clock.now_ms()
        })
    }

    #[test]
    fn a_sleeper_wakes_when_advanced_to_its_instant_and_not_before() {
        let clock = Arc::new(ManualClock::new(1_000));
        let wakeup = Wakeup::default();
        let sleeper = sleeping(&clock, Some(1_500), &wakeup);
        assert_eq!(clock.asleep(WITHIN), Some(Asleep::Until(1_500)));
        clock.advance(Duration::from_millis(499));
        assert_eq!(
            clock.asleep(WITHIN),
            Some(Asleep::Until(1_500)),
            "looked at 1499 and slept on"
        );
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_millis(1));
        assert_eq!(sleeper.join().unwrap(), 1_500);
        assert_eq!(clock.asleep(Duration::ZERO), None, "nobody sleeps any more");
    }

    #[test]
    fn a_ring_wakes_a_sleeper_even_one_that_came_before_it_slept() {
        let clock = Arc::new(ManualClock::new(0));
        let wakeup = Wakeup::default();
        let sleeper = sleeping(&clock, None, &wakeup);
        assert_eq!(clock.asleep(WITHIN), Some(Asleep::UntilWoken));
        wakeup.ring();
        assert_eq!(
            clock.asleep(Duration::ZERO),
            None,
            "a rung sleeper is not asleep"
        );
        assert_eq!(sleeper.join().unwrap(), 0);
        wakeup.ring();
        clock.sleep_until(None, &wakeup);
    }

    #[test]
    fn an_instant_already_reached_does_not_sleep() {
        let clock = ManualClock::new(10);
        clock.sleep_until(Some(10), &Wakeup::default());
        clock.sleep_until(Some(3), &Wakeup::default());
        assert_eq!(clock.asleep(Duration::ZERO), None);
    }
}
