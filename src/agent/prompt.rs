//! What the LLM is sent: system prompt, memory, and the new turn, shaped so that
//! Perplexity accepts it (after the system message, roles alternate user/assistant,
//! starting and ending with the user).

use crate::config::Entity;
use crate::db::QueuedMessage;
use crate::jid;
use crate::llm::{ChatMessage, Role};

use super::memory::Entry;

pub fn system_prompt(entity: &Entity) -> String {
    let persona = entity.persona.trim();
    if persona.is_empty() {
        entity.prompt.trim().to_string()
    } else {
        format!("{}\n\nPersona: {persona}", entity.prompt.trim())
    }
}

/// The user turn: one message as is; several joined; in groups each line says who spoke.
pub fn turn_text(messages: &[QueuedMessage], group: bool) -> String {
    let lines: Vec<String> = messages
        .iter()
        .filter(|m| !m.content.trim().is_empty())
        .map(|m| {
            if group {
                format!("{}: {}", speaker(m), m.content.trim())
            } else {
                m.content.trim().to_string()
            }
        })
        .collect();
    lines.join("\n")
}

fn speaker(m: &QueuedMessage) -> String {
    m.push_name
        .clone()
        .or_else(|| jid::phone(&m.sender).map(|p| format!("+{p}")))
        .unwrap_or_else(|| m.sender.clone())
}

/// Builds the request messages. Memory entries of the wrong role order are merged or
/// dropped, so the result always alternates and ends with the user.
pub fn build(system: &str, memory: &[Entry], turn: &str) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = Vec::with_capacity(memory.len() + 2);
    let history = memory
        .iter()
        .filter(|e| matches!(e.role, Role::User | Role::Assistant))
        .map(|e| (e.role, e.content.as_str()));
    for (role, content) in history.chain(std::iter::once((Role::User, turn))) {
        let content = content.trim();
        if content.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.role == role => {
                last.content.push_str("\n\n");
                last.content.push_str(content);
            }
            // The first message after the system prompt must be the user's.
            None if role == Role::Assistant => {}
            _ => out.push(ChatMessage::text(role, content)),
        }
    }
    let mut messages = vec![ChatMessage::text(Role::System, system)];
    messages.extend(out);
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(role: Role, content: &str) -> Entry {
        Entry {
            role,
            content: content.into(),
            timestamp: 0,
            sent_as: Vec::new(),
        }
    }

    fn roles(messages: &[ChatMessage]) -> Vec<Role> {
        messages.iter().map(|m| m.role).collect()
    }

    #[test]
    fn always_alternates_and_ends_with_the_user() {
        use Role::*;
        let cases: Vec<(Vec<Entry>, Vec<Role>)> = vec![
            (vec![], vec![System, User]),
            (
                vec![entry(User, "a"), entry(Assistant, "b")],
                vec![System, User, Assistant, User],
            ),
            // Trimmed memory that starts with the assistant.
            (
                vec![
                    entry(Assistant, "b"),
                    entry(User, "c"),
                    entry(Assistant, "d"),
                ],
                vec![System, User, Assistant, User],
            ),
            // A previous reply failed: two user entries in a row, then the new turn.
            (
                vec![entry(User, "a"), entry(User, "again")],
                vec![System, User],
            ),
            (
                vec![entry(User, "a"), entry(Assistant, " "), entry(User, "x")],
                vec![System, User],
            ),
            (
                vec![
                    entry(System, "old"),
                    entry(User, "a"),
                    entry(Assistant, "b"),
                ],
                vec![System, User, Assistant, User],
            ),
        ];
        for (memory, want) in cases {
            let built = build("sys", &memory, "new");
            assert_eq!(roles(&built), want, "{memory:?}");
            assert!(built.last().unwrap().content.ends_with("new"));
        }
        let merged = build("sys", &[entry(User, "a"), entry(User, "b")], "c");
        assert_eq!(merged[1].content, "a\n\nb\n\nc");
    }

    fn msg(content: &str, mentions: &[&str]) -> QueuedMessage {
        QueuedMessage {
            id: "x".into(),
            sender: "15550002222@s.whatsapp.net".into(),
            push_name: None,
            content: content.into(),
            timestamp: 0,
            mentions: mentions.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn group_turns_name_the_speaker() {
        let mut a = msg("Dinner at 8?", &[]);
        a.push_name = Some("Bob".into());
        let b = msg("ok", &[]);
        assert_eq!(
            turn_text(&[a.clone(), b], true),
            "Bob: Dinner at 8?\n+15550002222: ok"
        );
        assert_eq!(turn_text(&[a], false), "Dinner at 8?");
    }
}
