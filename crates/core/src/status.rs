//! The states stored rows move through, as types. The store maps them to and from the
//! words the schema holds (its CHECK constraints name the same words); nothing above the
//! store compares those words.

use std::fmt;

/// A stored word that names no state of its kind: a database written by a newer wabot,
/// or edited by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown status {:?}", self.0)
    }
}

impl std::error::Error for UnknownStatus {}

/// An enum of states, each stored as one word: `ALL`, `as_str`, `Display`, `FromStr`
/// and `Serialize` (as the word) from one list, so the words are written once.
macro_rules! stored_states {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownStatus;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($word => Ok(Self::$variant),)+
                    _ => Err(UnknownStatus(text.to_string())),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

stored_states! {
    /// Where one outbox row is on its way out.
    OutboxStatus {
        /// Queued and not yet handed to the transport, or handed back to be tried again.
        Pending = "pending",
        /// Handed to the transport; its answer (a server ack, a provider id) has not come.
        Written = "written",
        /// Taken by WhatsApp's server (its ack) or by the provider: not yet proof that
        /// anyone received it.
        Accepted = "accepted",
        /// A delivery (or read) receipt came: someone's phone has it.
        Delivered = "delivered",
        /// Accepted, but no receipt came within the delivery timeout: sent again with
        /// its id after the next reconnect (the linked device only).
        Unconfirmed = "unconfirmed",
        /// Given up on; the reason is in the row's `last_error`.
        Failed = "failed",
        /// Withdrawn before it was sent.
        Cancelled = "cancelled",
    }
}

impl OutboxStatus {
    /// Not settled yet: a sender may still (re)send the row.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Written)
    }

    /// At least accepted: what a conversation's memory may count as said.
    pub fn is_taken(self) -> bool {
        matches!(self, Self::Accepted | Self::Delivered)
    }
}

stored_states! {
    /// Why an outbox row exists.
    OutboxKind {
        /// The agent's answer to a turn.
        Reply = "reply",
        /// A `--debug` line about a turn.
        Debug = "debug",
        /// `wabot vitality`'s daily sign of life.
        Vitality = "vitality",
        /// Queued by a person: `wabot send`, an MCP client.
        Manual = "manual",
    }
}

stored_states! {
    /// What the agent does, or did, with a stored message.
    MessageStatus {
        /// Archive only: context and search, never answered.
        History = "history",
        /// Waiting for the agent.
        Pending = "pending",
        /// The agent's turn that covered it ended with a reply queued.
        Answered = "answered",
        /// The agent gave up on it (the reason is in `last_error`).
        Failed = "failed",
        /// Set aside without an answer (a rule changed, a chat was paused).
        Skipped = "skipped",
    }
}

stored_states! {
    /// Where an attachment's file is.
    DownloadState {
        /// Nothing to fetch (no reference, or media kept as metadata only).
        None = "none",
        /// To be fetched by `wabot media` or the listener.
        Pending = "pending",
        /// On disk at the row's `local_path`.
        Done = "done",
        /// Given up after the attempts; the reason is in `last_error`.
        Failed = "failed",
    }
}

stored_states! {
    /// What a listener said of itself in its last heartbeat.
    HeartbeatState {
        Running = "running",
        /// Shut down cleanly.
        Stopped = "stopped",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T>(all: &[T])
    where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + std::str::FromStr<Err = UnknownStatus>,
    {
        for state in all {
            assert_eq!(state.to_string().parse::<T>(), Ok(*state));
        }
    }

    #[test]
    fn every_state_reads_back_from_its_word_and_strangers_are_named() {
        round_trips(OutboxStatus::ALL);
        round_trips(OutboxKind::ALL);
        round_trips(MessageStatus::ALL);
        round_trips(DownloadState::ALL);
        round_trips(HeartbeatState::ALL);
        assert_eq!(
            "sent".parse::<OutboxStatus>(),
            Err(UnknownStatus("sent".into()))
        );
        let open: Vec<_> = OutboxStatus::ALL.iter().filter(|s| s.is_open()).collect();
        assert_eq!(open, [&OutboxStatus::Pending, &OutboxStatus::Written]);
        assert_eq!(
            serde_json::to_string(&MessageStatus::Answered).unwrap(),
            "\"answered\""
        );
    }
}
