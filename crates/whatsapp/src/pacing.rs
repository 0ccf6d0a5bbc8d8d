//! Sending like a person would: never faster than a configured pace (overall and per
//! chat, with jitter), and "typing…" for a moment scaled to the reply's length first.
//! Bursts of replies are how automated numbers get flagged.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use wabot_core::config::PacingSection;

/// Typing speed shown before a reply, and its bounds.
const TYPING_PER_CHAR: Duration = Duration::from_millis(30);
const TYPING_MIN: Duration = Duration::from_millis(600);
const TYPING_MAX: Duration = Duration::from_secs(5);

pub struct Pacer {
    overall: Duration,
    per_chat: Duration,
    jitter: f64,
    pub typing: bool,
    last_any: Option<Instant>,
    last_in: HashMap<String, Instant>,
}

impl Pacer {
    pub fn new(pace: &PacingSection) -> Self {
        Self {
            overall: Duration::from_secs_f64(pace.min_seconds_between_sends),
            per_chat: Duration::from_secs_f64(pace.min_seconds_between_sends_per_chat),
            jitter: pace.jitter,
            typing: pace.typing,
            last_any: None,
            last_in: HashMap::new(),
        }
    }

    /// How long to wait before the next send to `chat` may go out, at `now`; `spread`
    /// in 0..1 picks the jitter (random in use, fixed in tests).
    pub fn wait_before(&self, chat: &str, now: Instant, spread: f64) -> Duration {
        let since = |at: Option<&Instant>, gap: Duration| {
            at.map_or(Duration::ZERO, |t| {
                gap.saturating_sub(now.duration_since(*t))
            })
        };
        let base = since(self.last_any.as_ref(), self.overall)
            .max(since(self.last_in.get(chat), self.per_chat));
        if base.is_zero() {
            return base;
        }
        base.mul_f64(1.0 + self.jitter * spread.clamp(0.0, 1.0))
    }

    pub fn sent(&mut self, chat: &str, at: Instant) {
        self.last_any = Some(at);
        self.last_in.insert(chat.to_string(), at);
    }
}

/// How long "typing…" shows before `text` is sent.
pub fn typing_for(text: &str) -> Duration {
    let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    TYPING_PER_CHAR
        .saturating_mul(chars)
        .clamp(TYPING_MIN, TYPING_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace() -> PacingSection {
        PacingSection {
            min_seconds_between_sends: 1.0,
            min_seconds_between_sends_per_chat: 4.0,
            jitter: 0.5,
            typing: true,
        }
    }

    #[test]
    fn replies_are_paced_per_chat_and_overall_with_jitter() {
        let mut p = Pacer::new(&pace());
        let t0 = Instant::now();
        assert_eq!(
            p.wait_before("a", t0, 1.0),
            Duration::ZERO,
            "the first send goes at once"
        );
        p.sent("a", t0);
        let later = t0 + Duration::from_millis(500);
        assert_eq!(
            p.wait_before("b", later, 0.0),
            Duration::from_millis(500),
            "overall gap"
        );
        assert_eq!(
            p.wait_before("a", later, 0.0),
            Duration::from_millis(3500),
            "per-chat gap"
        );
        assert_eq!(
            p.wait_before("a", later, 1.0),
            Duration::from_millis(5250),
            "with jitter"
        );
        assert_eq!(
            p.wait_before("b", t0 + Duration::from_secs(2), 1.0),
            Duration::ZERO
        );
    }

    #[test]
    fn typing_lasts_with_the_length_of_the_reply_within_bounds() {
        assert_eq!(typing_for("ok"), TYPING_MIN);
        assert_eq!(typing_for(&"x".repeat(100)), Duration::from_secs(3));
        assert_eq!(typing_for(&"x".repeat(10_000)), TYPING_MAX);
    }
}
