//! OpenAI-compatible chat completions (`POST {base_url}/chat/completions`): OpenAI,
//! OpenRouter, Groq, llama.cpp's server, Ollama's and vLLM's OpenAI endpoints.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ChatMessage, LlmError, Reply, Usage, answer_text, cut_short, numbered_sources, reported_cost,
    unreadable,
};
use crate::config::LlmSettings;

pub fn body(settings: &LlmSettings, messages: &[ChatMessage]) -> Value {
    let messages: Vec<Value> = messages.iter().map(message).collect();
    let mut body = json!({
        "model": settings.model.as_deref().unwrap_or_default(),
        "messages": messages,
    });
    body[settings.max_tokens_field.name()] = json!(settings.max_tokens);
    if let Some(t) = settings.temperature {
        body["temperature"] = json!(t);
    }
    body
}

/// Text alone is a string; with images, a `text` part and `image_url` parts.
fn message(m: &ChatMessage) -> Value {
    if m.images.is_empty() {
        return json!({"role": m.role, "content": m.content});
    }
    let mut parts = vec![json!({"type": "text", "text": m.content})];
    parts.extend(
        m.images
            .iter()
            .map(|uri| json!({"type": "image_url", "image_url": {"url": uri}})),
    );
    json!({"role": m.role, "content": parts})
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Value>,
    #[serde(default)]
    citations: Vec<String>,
    #[serde(default)]
    search_results: Vec<Value>,
    #[serde(default)]
    usage: Option<Value>,
}

pub fn parse(body: &str) -> Result<Reply, LlmError> {
    let completion: Completion = serde_json::from_str(body).map_err(|e| unreadable(&e, body))?;
    let choice = completion.choices.first();
    // Only `content` is read: `reasoning` / `reasoning_content` (vLLM, llama.cpp,
    // DeepSeek) is thinking, never an answer.
    let raw = choice
        .and_then(|c| c.pointer("/message/content"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let finish = choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(Value::as_str);
    let (content, note) = match finish {
        // The cap was spent (often by reasoning, before any text) or a filter cut in.
        Some(reason @ ("length" | "content_filter")) => {
            let advice = "raise llm.max_tokens (a reasoning model spends it thinking first)";
            let (content, note) = cut_short(raw, reason, advice)?;
            (content, Some(note))
        }
        _ => (answer_text(raw)?, None),
    };
    // Perplexity-style providers add `citations` (URLs) or `search_results` (objects).
    let citations = if completion.citations.is_empty() {
        completion
            .search_results
            .iter()
            .filter_map(|r| r.get("url").and_then(Value::as_str).map(str::to_string))
            .collect()
    } else {
        completion.citations
    };
    let usage = completion.usage.unwrap_or(Value::Null);
    Ok(Reply {
        content,
        citations: numbered_sources(citations.into_iter().map(|url| (None, url))),
        usage: Usage {
            model: completion.model,
            input_tokens: usage.get("prompt_tokens").and_then(Value::as_i64),
            output_tokens: usage.get("completion_tokens").and_then(Value::as_i64),
            cost: reported_cost(usage.get("cost")),
        },
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    #[test]
    fn images_become_image_url_parts() {
        let settings = crate::config::LlmSettings::from_llm(
            &serde_json::from_str(r#"{"api":"chat-completions","model":"gpt-4o-mini"}"#).unwrap(),
        );
        let mut question = ChatMessage::text(Role::User, "[image] my cat");
        question.images = vec!["data:image/jpeg;base64,/9j/".into()];
        let b = body(
            &settings,
            &[ChatMessage::text(Role::System, "sys"), question],
        );
        assert_eq!(
            b["messages"][0],
            json!({"role": "system", "content": "sys"})
        );
        assert_eq!(
            b["messages"][1]["content"],
            json!([{"type": "text", "text": "[image] my cat"},
                   {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}}])
        );
    }

    #[test]
    fn reads_an_answer_with_citations_and_usage() {
        let body = r#"{"id":"x","model":"sonar","choices":[{"index":0,"finish_reason":"stop",
            "message":{"role":"assistant","content":"<think>hmm</think>Spark is fast [1]."}}],
            "citations":["https://spark.apache.org"],
            "usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"cost":0.0002}}"#;
        let reply = parse(body).unwrap();
        assert_eq!(reply.content, "Spark is fast [1].");
        assert_eq!(reply.citations, ["https://spark.apache.org"]);
        assert_eq!(
            (reply.usage.input_tokens, reply.usage.output_tokens),
            (Some(12), Some(5))
        );
        assert_eq!(reply.usage.cost, Some(0.0002));
        let newer = r#"{"choices":[{"message":{"content":"ok"}}],
            "search_results":[{"title":"t","url":"https://a.example"}]}"#;
        let reply = parse(newer).unwrap();
        assert_eq!(reply.citations, ["https://a.example"]);
        assert_eq!(reply.usage.cost, None);
    }

    #[test]
    fn an_answer_cut_at_the_cap_is_said_to_be_cut_and_one_cut_before_any_text_fails() {
        let cut = r#"{"choices":[{"finish_reason":"length","message":{"content":"Spark is a"}}]}"#;
        let reply = parse(cut).unwrap();
        assert_eq!(reply.content, "Spark is a … [answer cut short: length]");
        assert_eq!(reply.note.as_deref(), Some("cut short: length"));
        let thinking = r#"{"choices":[{"finish_reason":"length","message":{"content":"",
            "reasoning_content":"Let me think about Spark"}}]}"#;
        assert!(matches!(
            parse(thinking),
            Err(LlmError::Rejected { message }) if message.contains("llm.max_tokens")
        ));
        let unclosed =
            r#"{"choices":[{"finish_reason":"length","message":{"content":"<think>Spark is"}}]}"#;
        assert!(
            matches!(parse(unclosed), Err(LlmError::Rejected { .. })),
            "reasoning is never sent, not even cut"
        );
    }

    #[test]
    fn nonsense_answers_are_retried_with_a_reason() {
        for (body, want) in [
            ("<html>bad gateway</html>", "unreadable answer"),
            (r#"{"choices":[]}"#, "no text"),
            (r#"{"choices":[{"message":{"content":"  "}}]}"#, "no text"),
        ] {
            match parse(body) {
                Err(LlmError::Retryable { message, .. }) => {
                    assert!(message.contains(want), "{message}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }
}
