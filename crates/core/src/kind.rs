//! What a message is: text, a photo, a reaction, a notice. Stored as one lowercase word
//! in `messages.message_type`; the word is read and written only through this type.

use std::fmt;
use std::str::FromStr;

/// Declares the kinds wabot produces and their stored words, once.
macro_rules! kinds {
    ($($(#[$vmeta:meta])* $variant:ident = $word:literal,)+) => {
        /// The kind of a message. [`MessageKind::Other`] keeps a word this version does
        /// not produce (an archive written by a newer wabot, a hand-written import).
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
        pub enum MessageKind {
            $($(#[$vmeta])* $variant,)+
            Other(String),
        }

        impl MessageKind {
            /// Every kind this version produces.
            #[cfg(test)]
            const KNOWN: &'static [Self] = &[$(Self::$variant,)+];

            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $word,)+
                    Self::Other(word) => word,
                }
            }

            fn known(word: &str) -> Option<Self> {
                match word {
                    $($word => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

kinds! {
    #[default]
    Text = "text",
    Image = "image",
    Video = "video",
    Audio = "audio",
    Sticker = "sticker",
    Document = "document",
    /// An attachment an export left out without saying which kind.
    Media = "media",
    Album = "album",
    Location = "location",
    Contact = "contact",
    Contacts = "contacts",
    Poll = "poll",
    PollVote = "poll_vote",
    /// A tap on a button or list row (the Cloud API's interactive replies).
    Response = "response",
    Event = "event",
    GroupInvite = "group_invite",
    Reaction = "reaction",
    ReactionRemoved = "reaction_removed",
    Call = "call",
    /// Disappearing messages turned on or off.
    EphemeralSetting = "ephemeral_setting",
    /// A message its sender deleted (as an export shows it).
    Revoked = "revoked",
    /// A placeholder for a message that could not be decrypted yet.
    Undecryptable = "undecryptable",
    /// A placeholder for a message wabot cannot read; its protobuf is kept.
    Unsupported = "unsupported",
    /// A contact's status update or a mention in one: kept only by setting
    /// (`whatsapp.statuses`), never answered.
    Status = "status",
}

impl MessageKind {
    /// Whether a message of this kind says something to answer. Notices (a call, a
    /// disappearing-messages change, a vote, a reaction) do not; placeholders
    /// (`undecryptable`, `unsupported`) do not yet: the real copy replacing one is
    /// judged again when it arrives.
    pub fn asks_for_an_answer(&self) -> bool {
        !matches!(
            self,
            Self::Reaction
                | Self::ReactionRemoved
                | Self::Undecryptable
                | Self::Unsupported
                | Self::EphemeralSetting
                | Self::Call
                | Self::PollVote
                | Self::Status
        )
    }

    /// The kind of a message carrying an attachment of this media type (`image`,
    /// `audio`, …); an unknown media type is plain [`MessageKind::Media`].
    pub fn of_media(media_type: &str) -> Self {
        Self::known(media_type).unwrap_or(Self::Media)
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that cannot be a message kind: empty, too long, or not lowercase letters and
/// underscores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadKind(pub String);

impl fmt::Display for BadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a message type such as \"text\" or \"image\"",
            self.0
        )
    }
}

impl std::error::Error for BadKind {}

impl FromStr for MessageKind {
    type Err = BadKind;

    /// Accepts any case and surrounding blanks, as imports write them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let word = text.trim().to_ascii_lowercase();
        if word.is_empty()
            || word.len() > 32
            || !word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            return Err(BadKind(text.to_string()));
        }
        Ok(Self::known(&word).unwrap_or(Self::Other(word)))
    }
}

impl serde::Serialize for MessageKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_word_and_others_are_kept() {
        for kind in MessageKind::KNOWN {
            assert_eq!(kind.as_str().parse::<MessageKind>().as_ref(), Ok(kind));
            assert!(!matches!(kind, MessageKind::Other(_)));
        }
        assert_eq!(" Text ".parse(), Ok(MessageKind::Text));
        assert_eq!(
            "hologram".parse(),
            Ok(MessageKind::Other("hologram".into()))
        );
        for bad in ["", "two words", "x".repeat(33).as_str(), "émoji"] {
            assert_eq!(bad.parse::<MessageKind>(), Err(BadKind(bad.into())));
        }
        assert!(MessageKind::Text.asks_for_an_answer());
        assert!(!MessageKind::PollVote.asks_for_an_answer());
    }
}
