//! What a message and a chat look like in JSON, to scripts (`search`, `show`, `chats`,
//! `export --format json`) and to assistants (the MCP tools) alike: one shape each, in
//! the one dialect ([`super::json`]).

use serde_json::{Value, json};

use super::json::time;
use crate::chats::{Names, Written};
use crate::config::Config;
use crate::db::{ChatRow, Hit, MessageRow};

/// `me` for the account's own messages, `other` for everyone else's: what tells an
/// assistant whose words it reads.
fn author(from_me: bool) -> &'static str {
    if from_me { "me" } else { "other" }
}

/// `text` cut to `cap` characters when a cap is given; whether it was cut.
fn capped(text: &str, cap: Option<usize>) -> (String, bool) {
    match cap {
        Some(cap) if text.chars().count() > cap => (text.chars().take(cap).collect(), true),
        _ => (text.to_string(), false),
    }
}

/// A message's own columns, as a row and a hit both have them.
struct Said<'a> {
    id: &'a str,
    at: i64,
    text: &'a str,
    kind: &'a str,
}

/// The fields every message has, from the columns a row and a hit share.
fn common(written: Written<'_>, said: Said<'_>, names: &mut Names, cap: Option<usize>) -> Value {
    let Said { id, at, text, kind } = said;
    let (text, cut) = capped(text, cap);
    let mut shown = json!({
        "id": id,
        "chat": chat_ref(written.chat, names),
        "sender": {"jid": written.sender, "name": names.author_of(written)},
        "author": author(written.from_me),
        "sent_at": time(at),
        "text": text,
        "type": kind,
    });
    if cut {
        shown["text_truncated"] = json!(true);
    }
    shown
}

/// A stored message; `cap` limits its text (the MCP tools' budget).
pub fn message(row: &MessageRow, names: &mut Names, cap: Option<usize>) -> Value {
    let said = Said {
        id: &row.id,
        at: row.timestamp,
        text: &row.content,
        kind: row.message_type.as_str(),
    };
    let mut shown = common(Written::of_row(row), said, names, cap);
    if let Some(quoted) = &row.quoted_id {
        shown["quoted_id"] = json!(quoted);
    }
    if let Some(at) = row.edited_at {
        shown["edited_at"] = time(at);
    }
    if let Some(at) = row.revoked_at {
        shown["deleted_at"] = time(at);
    }
    shown
}

/// A search hit: a message with the part that matched.
pub fn hit(hit: &Hit, names: &mut Names, cap: Option<usize>) -> Value {
    let said = Said {
        id: &hit.id,
        at: hit.timestamp,
        text: &hit.content,
        kind: hit.message_type.as_str(),
    };
    let mut shown = common(Written::of_hit(hit), said, names, cap);
    shown["snippet"] = json!(hit.snippet);
    if let Some(transcript) = &hit.transcript {
        shown["transcript"] = json!(transcript);
    }
    if hit.deleted {
        shown["deleted"] = json!(true);
    }
    shown
}

/// A chat as `wabot chats` and the MCP `list_chats` tool list it.
pub fn chat(row: &ChatRow, names: &mut Names, config: &Config, unanswered: i64) -> Value {
    json!({
        "jid": row.jid,
        "name": names.of(&row.jid),
        "kind": if row.is_group { "group" } else { "user" },
        "monitored": config.entity_for_chat(&row.jid).is_some(),
        "excluded": row.excluded,
        "last_activity_at": row.last_activity.map_or(Value::Null, time),
        "messages": row.messages,
        "unanswered": unanswered,
    })
}

/// A reference to a chat: its JID and the name every table gives it.
pub fn chat_ref(jid: &str, names: &mut Names) -> Value {
    json!({"jid": jid, "name": names.of(jid)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_capped_only_when_asked() {
        let long = "é".repeat(10);
        let (text, cut) = capped(&long, Some(4));
        assert!(cut);
        assert_eq!(text.chars().count(), 4);
        assert_eq!(capped(&long, None), (long.clone(), false));
        assert_eq!(capped("short", Some(4000)), ("short".to_string(), false));
    }
}
