//! Shaping an LLM answer into WhatsApp messages: sources appended, long text split at
//! natural boundaries, each part with its own pre-assigned message id.

use sha2::{Digest, Sha256};

/// Sources shown at most; answers rarely cite more that matter.
const MAX_SOURCES: usize = 10;

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

/// A fresh WhatsApp-style message id (`3EB0` + 20 hex digits), as WhatsApp Web uses.
pub fn new_message_id() -> String {
    let mut id = String::from("3EB0");
    for _ in 0..20 {
        id.push(char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'));
    }
    id.to_ascii_uppercase()
}

/// A message id derived from `key`, so queuing the same thing twice yields one row.
pub fn stable_message_id(key: &str) -> String {
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    format!("3EB0{}", digest[..20].to_ascii_uppercase())
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
    fn sources_are_numbered() {
        let text = with_sources("Answer.", &["https://a".into(), "https://b".into()]);
        assert_eq!(text, "Answer.\n\nSources:\n[1] https://a\n[2] https://b");
        assert_eq!(with_sources("Answer.", &[]), "Answer.");
    }

    #[test]
    fn ids_look_like_whatsapp_ids() {
        let id = new_message_id();
        assert_eq!(id.len(), 24);
        assert!(id.starts_with("3EB0") && id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(new_message_id(), id);
        assert_eq!(stable_message_id("k"), stable_message_id("k"));
        assert_ne!(stable_message_id("k"), stable_message_id("l"));
    }
}
