//! Shaping an LLM answer into WhatsApp messages: sources appended, long text split at
//! natural boundaries, each part with its own pre-assigned message id.

use crate::db::{OutboxKind, Outgoing};
use crate::message_id;

/// Sources shown at most; answers rarely cite more that matter.
const MAX_SOURCES: usize = 5;
/// An answer longer than this many `replies.max_chars` messages is cut.
pub const MAX_PARTS: usize = 4;

/// `answer` cut to `max` characters at a word boundary, with a note saying so.
pub fn capped(answer: &str, max: usize) -> String {
    let total = answer.chars().count();
    if total <= max {
        return answer.to_string();
    }
    let limit = answer
        .char_indices()
        .nth(max)
        .map_or(answer.len(), |(i, _)| i);
    let head = &answer[..limit];
    let head = head
        .rfind(char::is_whitespace)
        .filter(|&i| i >= limit / 2)
        .map_or(head, |i| &head[..i]);
    let dropped = total - head.chars().count();
    format!(
        "{}\n\n[… {dropped} more characters of this answer were left out]",
        head.trim_end()
    )
}

/// `text` as the outbox rows that carry it: split like every reply, each part with its
/// own pre-assigned WhatsApp message id.
pub fn outgoing(
    chat_jid: &str,
    text: &str,
    max_chars: usize,
    kind: OutboxKind,
    reply_to: Option<&str>,
) -> Vec<Outgoing> {
    split(text, max_chars)
        .into_iter()
        .map(|content| Outgoing {
            message_id: message_id::new(),
            chat_jid: chat_jid.to_string(),
            content,
            kind,
            reply_to_id: reply_to.map(str::to_string),
        })
        .collect()
}

pub fn with_sources(answer: &str, citations: &[String]) -> String {
    if citations.is_empty() {
        return answer.to_string();
    }
    let list: Vec<String> = citations
        .iter()
        .take(MAX_SOURCES)
        .enumerate()
        .map(|(i, url)| format!("[{}] {url}", i + 1))
        .collect();
    format!("{answer}\n\nSources:\n{}", list.join("\n"))
}

/// Splits `text` into parts of at most `max` characters, preferring paragraph, then
/// line, then sentence, then word boundaries.
pub fn split(text: &str, max: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > max {
        let limit = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..limit];
        let cut = ["\n\n", "\n", ". ", "! ", "? ", " "]
            .iter()
            .find_map(|sep| {
                window
                    .rfind(sep)
                    .filter(|&i| i >= limit / 3)
                    .map(|i| i + sep.trim_end().len())
            })
            .unwrap_or(limit);
        let (head, tail) = rest.split_at(cut);
        parts.push(head.trim().to_string());
        rest = tail.trim();
    }
    if !rest.is_empty() {
        parts.push(rest.to_string());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_best_boundary_and_loses_nothing() {
        let para = format!("{}\n\n{}", "a".repeat(150), "b".repeat(150));
        assert_eq!(split(&para, 200), ["a".repeat(150), "b".repeat(150)]);
        let sentences = "One sentence here. Another one follows. And a third one.";
        assert_eq!(
            split(sentences, 40),
            [
                "One sentence here. Another one follows.",
                "And a third one."
            ]
        );
        let words = "word ".repeat(30);
        for part in split(&words, 42) {
            assert!(part.chars().count() <= 42 && !part.starts_with(' '));
        }
        let unbroken = "é".repeat(250);
        let parts = split(&unbroken, 100);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.concat(), unbroken);
        assert_eq!(split("short", 100), ["short"]);
    }

    #[test]
    fn a_runaway_answer_is_capped_with_a_note() {
        let long = "word ".repeat(5000);
        let capped = capped(&long, 1000);
        assert!(capped.chars().count() < 1100, "{}", capped.len());
        assert!(capped.ends_with("more characters of this answer were left out]"));
        assert!(capped.starts_with("word word"));
        assert_eq!(super::capped("short", 1000), "short");
    }

    #[test]
    fn sources_are_numbered() {
        let text = with_sources("Answer.", &["https://a".into(), "https://b".into()]);
        assert_eq!(text, "Answer.\n\nSources:\n[1] https://a\n[2] https://b");
        assert_eq!(with_sources("Answer.", &[]), "Answer.");
    }
}
