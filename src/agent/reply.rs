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

/// The answer with the sources it cites listed under it. The text's `[n]` markers name
/// the provider's sources (`citations[n-1]`); only the cited ones are listed, numbered
/// 1, 2, … in the order the text first cites them, one number per URL, and the markers
/// are rewritten to match. A marker naming no source is dropped. An answer citing
/// nothing lists its first distinct sources (providers that cite without markers).
pub fn with_sources(answer: &str, citations: &[String]) -> String {
    let mut urls: Vec<&str> = Vec::new();
    let text = MARKER.replace_all(answer, |caps: &regex::Captures| {
        let url = caps[1]
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| citations.get(i))
            .map(String::as_str)
            .filter(|u| !u.is_empty());
        match url {
            Some(url) => {
                let number = match urls.iter().position(|u| *u == url) {
                    Some(i) => i + 1,
                    None => {
                        urls.push(url);
                        urls.len()
                    }
                };
                format!("[{number}]")
            }
            None => String::new(),
        }
    });
    if urls.is_empty() && !MARKER.is_match(answer) {
        for url in citations.iter().filter(|u| !u.is_empty()) {
            if urls.len() < MAX_SOURCES && !urls.contains(&url.as_str()) {
                urls.push(url);
            }
        }
    }
    if urls.is_empty() {
        return text.into_owned();
    }
    let list: Vec<String> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| format!("[{}] {url}", i + 1))
        .collect();
    format!("{}\n\nSources:\n{}", text.trim_end(), list.join("\n"))
}

/// A citation marker: `[3]`.
static MARKER: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"\[(\d{1,3})\]").expect("a valid pattern"));

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
    fn citations_map_by_id_and_list_only_what_the_text_cites() {
        let sources: Vec<String> = ["https://a", "https://b", "https://a", "", "", "https://f"]
            .map(String::from)
            .to_vec();
        // [3] repeats [1]'s URL, [6] is beyond the first five, [4] names nothing.
        let text = with_sources("Fast [3], simple [6] and odd [4]. Also [1].", &sources);
        assert_eq!(
            text,
            "Fast [1], simple [2] and odd . Also [1].\n\nSources:\n[1] https://a\n[2] https://f"
        );
    }

    #[test]
    fn sources_are_numbered() {
        let text = with_sources("Answer.", &["https://a".into(), "https://b".into()]);
        assert_eq!(text, "Answer.\n\nSources:\n[1] https://a\n[2] https://b");
        assert_eq!(with_sources("Answer.", &[]), "Answer.");
    }
}
