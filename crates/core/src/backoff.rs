//! The one back-off every retry in wabot uses: exponential, capped, with jitter so that
//! many chats failing together do not retry together.

use std::time::Duration;

/// 2 s, 4 s, 8 s, … for attempts 1, 2, 3, …, at most `cap`, each ±20 %.
pub fn delay(attempt: i64, cap: Duration) -> Duration {
    let base = 2f64
        .powi(attempt.clamp(1, 30) as i32)
        .min(cap.as_secs_f64());
    Duration::from_secs_f64(base * (0.8 + 0.4 * fastrand::f64())).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_per_attempt_within_jitter_and_never_exceeds_the_cap() {
        let cap = Duration::from_secs(300);
        for attempt in 1..=8 {
            let d = delay(attempt, cap).as_secs_f64();
            let base = 2f64.powi(attempt as i32).min(300.0);
            assert!((base * 0.8..=base * 1.2).contains(&d), "{attempt}: {d}");
        }
        for attempt in [9, 40, i64::MAX, i64::MIN] {
            assert!(delay(attempt, cap) <= cap);
        }
    }
}
