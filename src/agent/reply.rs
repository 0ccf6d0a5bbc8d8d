//! Shaping an LLM answer before it is queued: sources appended, a runaway answer capped.
//! Splitting it into messages is the outbox's ([`crate::outbox::Outgoing::parts`]).

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

#[cfg(test)]
mod tests {
    use super::*;

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
