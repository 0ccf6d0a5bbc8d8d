//! The per-chat history sync checkpoint: its states and the only transitions allowed
//! between them. Everything that changes a checkpoint goes through [`State::after`], so
//! an invalid transition is refused in one place, with a reason a person can act on.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    NotStarted,
    InProgress,
    Completed,
    Interrupted,
    Cancelled,
    Failed,
}

/// What happens to a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A first sync of the chat.
    Start,
    /// Continue an interrupted or cancelled sync from its cursor.
    Resume,
    /// Start over from the oldest stored message, whatever happened before.
    Restart,
    /// The phone has nothing older, or the requested number arrived.
    Complete,
    /// Stopped from outside (Ctrl-C, the phone did not answer, the process stopped).
    Interrupt,
    /// Stopped on request (`sync --cancel`).
    Cancel,
    /// A failure that retrying the same request will not fix.
    Fail,
}

impl State {
    pub const ALL: [State; 6] = [
        State::NotStarted,
        State::InProgress,
        State::Completed,
        State::Interrupted,
        State::Cancelled,
        State::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::NotStarted => "not_started",
            State::InProgress => "in_progress",
            State::Completed => "completed",
            State::Interrupted => "interrupted",
            State::Cancelled => "cancelled",
            State::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// The state `step` leads to from here, or why it may not be taken.
    pub fn after(self, step: Step) -> Result<State, Refused> {
        use State::*;
        let next = match (self, step) {
            (NotStarted, Step::Start) => InProgress,
            (Interrupted | Cancelled, Step::Resume) => InProgress,
            (NotStarted | Completed | Failed | Interrupted | Cancelled, Step::Restart) => {
                InProgress
            }
            (InProgress, Step::Complete) => Completed,
            (InProgress, Step::Interrupt) => Interrupted,
            (InProgress, Step::Cancel) => Cancelled,
            (InProgress, Step::Fail) => Failed,
            _ => return Err(Refused { from: self, step }),
        };
        Ok(next)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transition the state machine does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub from: State,
    pub step: Step,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use State::*;
        let hint = match (self.from, self.step) {
            (InProgress, _) => {
                "a sync of this chat is already in progress (`sync --cancel` stops it)"
            }
            (Interrupted | Cancelled, Step::Start) => {
                "--resume continues it from where it stopped, --restart starts over"
            }
            (Completed, Step::Start | Step::Resume) => {
                "completed is final; --restart fetches the history again"
            }
            (Failed, Step::Start | Step::Resume) => {
                "failed is final; see the error with `sync --status` and --restart to try again"
            }
            (NotStarted, Step::Resume) => "nothing to resume; sync the chat without --resume",
            (_, Step::Cancel) => "only a sync in progress can be cancelled",
            _ => "that transition does not exist",
        };
        write!(
            f,
            "the sync is {}, so it cannot {}: {hint}",
            self.from,
            match self.step {
                Step::Start => "start",
                Step::Resume => "resume",
                Step::Restart => "restart",
                Step::Complete => "complete",
                Step::Interrupt => "be interrupted",
                Step::Cancel => "be cancelled",
                Step::Fail => "fail",
            }
        )
    }
}

impl std::error::Error for Refused {}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;

    const STEPS: [Step; 7] = [
        Step::Start,
        Step::Resume,
        Step::Restart,
        Step::Complete,
        Step::Interrupt,
        Step::Cancel,
        Step::Fail,
    ];

    /// Every valid transition; anything not listed must be refused.
    const VALID: &[(State, Step, State)] = &[
        (NotStarted, Step::Start, InProgress),
        (NotStarted, Step::Restart, InProgress),
        (InProgress, Step::Complete, Completed),
        (InProgress, Step::Interrupt, Interrupted),
        (InProgress, Step::Cancel, Cancelled),
        (InProgress, Step::Fail, Failed),
        (Interrupted, Step::Resume, InProgress),
        (Interrupted, Step::Restart, InProgress),
        (Cancelled, Step::Resume, InProgress),
        (Cancelled, Step::Restart, InProgress),
        (Completed, Step::Restart, InProgress),
        (Failed, Step::Restart, InProgress),
    ];

    #[test]
    fn every_state_and_step_pair_is_either_listed_or_refused() {
        let mut checked = 0;
        for from in State::ALL {
            for step in STEPS {
                let expected = VALID
                    .iter()
                    .find(|(f, s, _)| *f == from && *s == step)
                    .map(|(_, _, to)| *to);
                match (from.after(step), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{from} {step:?}"),
                    (Err(refused), None) => {
                        assert_eq!(refused, Refused { from, step });
                        assert!(
                            refused.to_string().contains(from.as_str()),
                            "the refusal names the state: {refused}"
                        );
                    }
                    (got, want) => panic!("{from} {step:?}: got {got:?}, want {want:?}"),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 42);
    }

    #[test]
    fn completed_and_failed_are_terminal_without_restart() {
        for state in [Completed, Failed] {
            for step in STEPS.into_iter().filter(|s| *s != Step::Restart) {
                assert!(state.after(step).is_err(), "{state} {step:?}");
            }
        }
    }

    #[test]
    fn refusals_say_what_to_do_instead() {
        let text = Interrupted.after(Step::Start).unwrap_err().to_string();
        assert!(text.contains("--resume"), "{text}");
        let text = Completed.after(Step::Resume).unwrap_err().to_string();
        assert!(text.contains("--restart"), "{text}");
        let text = InProgress.after(Step::Start).unwrap_err().to_string();
        assert!(text.contains("already in progress"), "{text}");
    }

    #[test]
    fn names_round_trip() {
        for state in State::ALL {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
        assert_eq!(State::parse("done"), None);
    }
}
