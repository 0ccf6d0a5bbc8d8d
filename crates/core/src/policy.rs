//! Who is answered: the one rule that every transport, the importer and the agent
//! apply. A stored message becomes a pending turn, history, or is not stored; a claimed
//! turn is answered or set aside with a [`SkipReason`] that is stored as data.

use std::collections::HashSet;

use crate::config::{Config, Entity, EntityKind, Statuses};
use crate::jid;
use crate::kind::MessageKind;
use crate::message::{MessageStatus, NewMessage};

/// Why a message is not answered; stored in `messages.skip_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The account's own message outside the self chat, or the echo of wabot's send.
    OwnMessage,
    /// The chat is not (or no longer) a monitored entity.
    NotMonitored,
    /// A group that requires a mention, and nobody mentioned the bot.
    NotMentioned,
    /// Nothing in the turn has text to answer.
    NoText,
    /// The sender deleted it for everyone before it was answered.
    Revoked,
    /// It arrived while answering was paused or the chat excluded, and the resume said
    /// to start from now.
    ArrivedWhileOff,
}

impl SkipReason {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::OwnMessage => "own_message",
            SkipReason::NotMonitored => "not_monitored",
            SkipReason::NotMentioned => "not_mentioned",
            SkipReason::NoText => "no_text",
            SkipReason::Revoked => "revoked",
            SkipReason::ArrivedWhileOff => "arrived_while_off",
        }
    }

    /// The same for people (`last_error`, logs).
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::OwnMessage => "own message",
            SkipReason::NotMonitored => "chat is not monitored",
            SkipReason::NotMentioned => "not mentioned",
            SkipReason::NoText => "no text to answer",
            SkipReason::Revoked => "revoked",
            SkipReason::ArrivedWhileOff => "arrived while not answering",
        }
    }
}

/// The rule, resolved from the configuration once per run (or per config reload).
#[derive(Debug, Clone)]
pub struct Policy {
    entities: Vec<Entity>,
    monitored: HashSet<String>,
    self_jid: Option<String>,
    bot_name: Option<String>,
    store_all: bool,
    download_media: bool,
    /// Contacts' status updates are kept (never answered) rather than skipped.
    store_statuses: bool,
    /// A revoked message's text is kept among its versions (`archive.keep_deleted`).
    keep_deleted: bool,
    /// Everything stored is history, never answered (history sync, plain imports).
    history: bool,
}

impl Policy {
    pub fn new(config: &Config) -> Self {
        let entities = answered_entities(config);
        Self {
            monitored: entities.iter().map(|e| e.jid.clone()).collect(),
            entities,
            self_jid: config.self_jid(),
            bot_name: config.file.whatsapp.bot_name.clone(),
            store_all: config.file.whatsapp.store_all_chats,
            download_media: config.file.media.download,
            store_statuses: config.file.whatsapp.statuses == Statuses::Store,
            keep_deleted: config.file.archive.keep_deleted,
            history: false,
        }
    }

    /// The same, with each answered entity named the way the store names its chat: an
    /// entity configured by LID or business-scoped user id whose phone number is known
    /// is answered in the phone number's chat, where its messages are stored.
    pub fn named_by(mut self, canonical: impl Fn(&str) -> String) -> Self {
        for entity in &mut self.entities {
            entity.jid = canonical(&entity.jid);
        }
        self.monitored = self.entities.iter().map(|e| e.jid.clone()).collect();
        self
    }

    /// Whether the listener downloads the files of this chat's media messages.
    pub fn downloads_media(&self, chat_jid: &str) -> bool {
        self.download_media && self.monitored.contains(chat_jid)
    }

    /// The same chats, for history: stored as context, never answered.
    pub fn for_history(&self) -> Self {
        Self {
            history: true,
            ..self.clone()
        }
    }

    /// Whether a revoke keeps the message's text among its versions.
    pub fn keeps_deleted(&self) -> bool {
        self.keep_deleted
    }

    /// The answered chats, sorted.
    pub fn monitored(&self) -> Vec<String> {
        let mut chats: Vec<String> = self.monitored.iter().cloned().collect();
        chats.sort();
        chats
    }

    pub fn self_jid(&self) -> Option<&str> {
        self.self_jid.as_deref()
    }

    /// The entity a chat is answered as.
    pub fn entity(&self, chat_jid: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.jid == chat_jid)
    }

    /// On arrival: pending for the agent, history, or not stored at all (`None`).
    /// Reactions, placeholders, protocol notices and the owner's own messages (outside
    /// the self chat) are never turns.
    pub fn on_arrival(&self, m: &NewMessage) -> Option<MessageStatus> {
        if m.message_type == MessageKind::Status {
            // A status update is never a turn, wherever it was posted.
            return self.store_statuses.then_some(MessageStatus::History);
        }
        let monitored = self.monitored.contains(&m.chat_jid);
        let in_self_chat = self.self_jid.as_deref() == Some(m.chat_jid.as_str());
        let asks = (!m.is_from_me || in_self_chat) && m.message_type.asks_for_an_answer();
        match (monitored, asks && !self.history) {
            (true, true) => Some(MessageStatus::Pending),
            (true, false) => Some(MessageStatus::History),
            (false, _) if self.store_all => Some(MessageStatus::History),
            (false, _) => None,
        }
    }

    /// For an imported archive, which is stored whole: history, except that with
    /// `as_new` what would be a turn on arrival is one.
    pub fn on_import(&self, m: &NewMessage, as_new: bool) -> MessageStatus {
        match self.on_arrival(m) {
            Some(MessageStatus::Pending) if as_new => MessageStatus::Pending,
            _ => MessageStatus::History,
        }
    }

    /// At answer time: whether a claimed turn of `chat_jid` is answered, given what its
    /// messages say; the reason when it is not.
    pub fn answers<'m>(
        &self,
        chat_jid: &str,
        mut messages: impl Iterator<Item = (&'m str, &'m [String])>,
    ) -> Result<&Entity, SkipReason> {
        let entity = self.entity(chat_jid).ok_or(SkipReason::NotMonitored)?;
        if entity.kind == EntityKind::Group
            && entity.require_mention
            && !messages.any(|(text, mentions)| self.mentions_bot(text, mentions))
        {
            return Err(SkipReason::NotMentioned);
        }
        Ok(entity)
    }

    /// Whether a group message addresses the bot: an @-mention of its number, or its
    /// name at the start ("wabot, …").
    pub fn mentions_bot(&self, text: &str, mentions: &[String]) -> bool {
        if let Some(own) = self.self_jid.as_deref() {
            let by_jid = mentions.iter().any(|j| j == own);
            let by_text = jid::phone(own).is_some_and(|p| text.contains(&format!("@{p}")));
            if by_jid || by_text {
                return true;
            }
        }
        let Some(name) = self
            .bot_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        else {
            return false;
        };
        let text = text.trim_start().trim_start_matches('@');
        let Some(head) = text.get(..name.len()) else {
            return false;
        };
        head.eq_ignore_ascii_case(name)
            && text[name.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric())
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Policy {
    /// The same, dropping a revoked message's text (`archive.keep_deleted: false`).
    pub fn dropping_deleted(self) -> Self {
        Self {
            keep_deleted: false,
            ..self
        }
    }

    /// The same, keeping status updates (`whatsapp.statuses: store`).
    pub fn storing_statuses(self) -> Self {
        Self {
            store_statuses: true,
            ..self
        }
    }

    /// Users `monitored` (no mention needed), media downloads on.
    pub fn for_tests(monitored: &[&str], self_jid: Option<&str>, store_all: bool) -> Self {
        let entities: Vec<Entity> = monitored
            .iter()
            .map(|jid| Entity {
                kind: EntityKind::User,
                jid: jid.to_string(),
                name: jid.to_string(),
                prompt: String::new(),
                persona: String::new(),
                debug: false,
                require_mention: false,
            })
            .collect();
        Self {
            monitored: entities.iter().map(|e| e.jid.clone()).collect(),
            entities,
            self_jid: self_jid.map(str::to_string),
            bot_name: None,
            store_all,
            download_media: true,
            store_statuses: false,
            keep_deleted: true,
            history: false,
        }
    }
}

/// The configured entities, plus the account's own chat when self-debugging is on, so
/// the owner can try the bot by messaging themselves.
pub fn answered_entities(config: &Config) -> Vec<Entity> {
    let mut entities = config.entities.clone();
    if let Some(own) = config.self_jid()
        && config.file.debug.self_debug
        && !entities.iter().any(|e| e.jid == own)
    {
        entities.push(Entity {
            kind: EntityKind::User,
            jid: own,
            name: "self".into(),
            prompt: "You are a helpful assistant.".into(),
            persona: String::new(),
            debug: true,
            require_mention: false,
        });
    }
    entities
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
