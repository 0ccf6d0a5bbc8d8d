//! Shaping an LLM answer into WhatsApp messages: sources appended, long text split at
//! natural boundaries, each part with its own pre-assigned message id.

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
}
