//! Perplexity's Agent API (`POST /v1/agent`, the OpenAI Responses format). The API
//! refuses unknown fields, so only documented ones are sent. The system prompt goes in
//! `instructions`, the conversation in `input` as message items; the answer is the
//! `output_text` of the `message` items, the sources the `search_results` items.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ChatMessage, LlmError, Reply, Role, Usage, answer_text, cut_short, numbered_sources,
    reported_cost, unreadable,
};
use crate::config::{LlmSettings, PresetPrompt};

pub fn body(settings: &LlmSettings, messages: &[ChatMessage]) -> Value {
    let system: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    let system = system.join("\n\n");
    let mut input: Vec<Value> = messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| json!({"type": "message", "role": m.role, "content": content(m)}))
        .collect();
    let bundle = settings.bundle();
    let mut body = json!({});
    if !system.is_empty() {
        // `instructions` replaces a preset's own system prompt (its search and
        // citation rules among them); a `system` input item adds to it.
        match (bundle, settings.preset_prompt) {
            (None, _) | (Some(_), PresetPrompt::Replace) => body["instructions"] = json!(system),
            (Some(_), PresetPrompt::Append) => input.insert(
                0,
                json!({"type": "message", "role": "system", "content": system}),
            ),
            (Some(_), PresetPrompt::Omit) => {}
        }
    }
    body["input"] = json!(input);
    // Perplexity: "on presets and reasoning models, tight caps can be consumed by
    // reasoning tokens before any text or search appears — size generously or omit".
    // A preset's own budget is left alone; a model gets the configured cap.
    if bundle.is_none() {
        body["max_output_tokens"] = json!(settings.max_tokens);
    }
    if let Some(model) = &settings.model {
        body["model"] = json!(model);
    }
    if let Some((field, name)) = bundle {
        body[field] = json!(name);
    }
    if let Some(t) = settings.temperature {
        body["temperature"] = json!(t);
    }
    // A preset brings its own tools; a bare model searches only when offered the tool,
    // and then only if it chooses to, unless `tool_choice` says it must.
    if bundle.is_none() && settings.web_search {
        body["tools"] = json!([{"type": "web_search"}]);
    }
    if let Some(choice) = settings.tool_choice {
        body["tool_choice"] = json!(choice.name());
    }
    body
}

/// Text alone is a string; with images, `input_text` and `input_image` parts (the
/// image as a `data:` URI in `image_url`).
fn content(m: &ChatMessage) -> Value {
    if m.images.is_empty() {
        return json!(m.content);
    }
    let mut parts = vec![json!({"type": "input_text", "text": m.content})];
    parts.extend(
        m.images
            .iter()
            .map(|uri| json!({"type": "input_image", "image_url": uri})),
    );
    Value::Array(parts)
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    output: Vec<Value>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    incomplete_details: Option<Value>,
    #[serde(default)]
    usage: Option<Value>,
}

pub fn parse(body: &str) -> Result<Reply, LlmError> {
    let response: Response = serde_json::from_str(body).map_err(|e| unreadable(&e, body))?;
    // Failed and cancelled runs come back as HTTP 200 with the reason inside.
    match response.status.as_deref() {
        Some("failed" | "cancelled") => {
            let reason = response
                .error
                .as_ref()
                .and_then(|e| e.get("message").and_then(Value::as_str))
                .unwrap_or("no reason given");
            return Err(LlmError::retry(format!(
                "the run {}: {}",
                response.status.as_deref().unwrap_or_default(),
                reason.chars().take(300).collect::<String>()
            )));
        }
        Some("in_progress" | "queued") => {
            return Err(LlmError::retry("the run had not finished".into()));
        }
        _ => {}
    }
    let mut text = String::new();
    let mut annotated = Vec::new();
    let mut searched = Vec::new();
    for item in &response.output {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                let parts = item.get("content").and_then(Value::as_array);
                for part in parts.into_iter().flatten() {
                    if part.get("type").and_then(Value::as_str) == Some("output_text") {
                        text.push_str(part.get("text").and_then(Value::as_str).unwrap_or(""));
                        annotated.extend(urls(part.get("annotations")));
                    }
                }
            }
            Some("search_results") => searched.extend(urls(item.get("results"))),
            _ => {}
        }
    }
    let (content, note) = match response.status.as_deref() {
        Some("incomplete") => {
            let reason = response
                .incomplete_details
                .as_ref()
                .and_then(|d| d.get("reason").and_then(Value::as_str))
                .unwrap_or("no reason given");
            let (content, note) = cut_short(
                &text,
                reason,
                "raise llm.max_tokens, or use a preset (its budget is its own)",
            )?;
            (content, Some(note))
        }
        _ => (answer_text(&text)?, None),
    };
    let usage = response.usage.unwrap_or(Value::Null);
    // The `[n]` markers count the search results; annotations are a fallback only.
    let citations = if searched.is_empty() {
        annotated
    } else {
        searched
    };
    Ok(Reply {
        content,
        citations: numbered_sources(citations),
        usage: Usage {
            model: response.model,
            input_tokens: usage.get("input_tokens").and_then(Value::as_i64),
            output_tokens: usage.get("output_tokens").and_then(Value::as_i64),
            cost: reported_cost(usage.get("cost")),
        },
        note,
    })
}

/// The URLs of a list of results or annotations, with the `id` a search result names
/// itself by (what the text's `[n]` markers refer to).
fn urls(list: Option<&Value>) -> Vec<(Option<usize>, String)> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let url = r.get("url").and_then(Value::as_str)?.to_string();
            let id = r.get("id").and_then(|id| {
                id.as_u64()
                    .or_else(|| id.as_str().and_then(|s| s.parse().ok()))
                    .and_then(|n| usize::try_from(n).ok())
            });
            Some((id, url))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Api;

    fn settings(model: Option<&str>, preset: Option<&str>) -> LlmSettings {
        LlmSettings {
            api: Api::Agent,
            base_url: "https://api.perplexity.ai".into(),
            model: model.map(String::from),
            preset: preset.map(String::from),
            effort: None,
            preset_prompt: PresetPrompt::Append,
            tool_choice: None,
            temperature: Some(0.2),
            max_tokens: 600,
            max_tokens_field: crate::config::MaxTokensField::MaxTokens,
            timeout_seconds: 60,
            citations: true,
            web_search: true,
            api_key_env: Some("PERPLEXITY_API_KEY".into()),
            mapped: None,
            section: "llm",
        }
    }

    fn msg(role: Role, content: &str) -> ChatMessage {
        ChatMessage::text(role, content)
    }

    #[test]
    fn system_prompt_becomes_instructions_and_the_rest_input_items() {
        let messages = [
            msg(Role::System, "Be brief."),
            msg(Role::User, "hi"),
            msg(Role::Assistant, "hello"),
            msg(Role::User, "news?"),
        ];
        let b = body(&settings(Some("perplexity/sonar"), None), &messages);
        assert_eq!(b["instructions"], "Be brief.");
        assert_eq!(b["model"], "perplexity/sonar");
        assert_eq!(b["max_output_tokens"], 600);
        assert_eq!(b["tools"], json!([{"type": "web_search"}]));
        assert!(b.get("messages").is_none() && b.get("preset").is_none());
        let input = b["input"].as_array().unwrap();
        assert_eq!(input.len(), 3);
        assert_eq!(
            input[2],
            json!({"type": "message", "role": "user", "content": "news?"})
        );
        let mut with_image = messages.to_vec();
        with_image[3].images = vec!["data:image/png;base64,iVBORw0=".into()];
        let b = body(&settings(Some("perplexity/sonar"), None), &with_image);
        assert_eq!(
            b["input"][2]["content"],
            json!([{"type": "input_text", "text": "news?"},
                   {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0="}])
        );
        assert_eq!(
            b["input"][1]["content"], "hello",
            "text alone stays a string"
        );
        let p = body(&settings(None, Some("low")), &messages);
        assert_eq!(p["preset"], "low");
        assert!(p.get("tools").is_none() && p.get("model").is_none());
        assert!(
            p.get("max_output_tokens").is_none(),
            "a preset's reasoning would starve on the cap"
        );
    }

    #[test]
    fn a_chats_prompt_adds_to_a_presets_own_unless_told_otherwise() {
        let messages = [msg(Role::System, "Be brief."), msg(Role::User, "news?")];
        let mut s = settings(None, Some("low"));
        let appended = body(&s, &messages);
        assert!(
            appended.get("instructions").is_none(),
            "instructions would replace the preset's prompt"
        );
        assert_eq!(
            appended["input"][0],
            json!({"type": "message", "role": "system", "content": "Be brief."})
        );
        s.preset_prompt = PresetPrompt::Replace;
        assert_eq!(body(&s, &messages)["instructions"], "Be brief.");
        s.preset_prompt = PresetPrompt::Omit;
        let omitted = body(&s, &messages);
        assert!(omitted.get("instructions").is_none());
        assert_eq!(omitted["input"].as_array().unwrap().len(), 1);
        let mut e = settings(None, None);
        e.effort = Some("fast@2026-10-16.0".into());
        e.tool_choice = Some(crate::config::ToolChoice::Required);
        let b = body(&e, &messages);
        assert_eq!(b["effort"], "fast@2026-10-16.0");
        assert_eq!(b["tool_choice"], "required");
        assert!(b.get("preset").is_none() && b.get("max_output_tokens").is_none());
    }

    #[test]
    fn an_incomplete_run_is_said_and_not_paid_for_again() {
        // The Agent API's documented shape of a run that spent its output budget.
        let cut = r#"{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},
          "output":[{"type":"message","role":"assistant","content":[
            {"type":"output_text","text":"Spark is a fast engine for","annotations":[]}]}]}"#;
        let reply = parse(cut).unwrap();
        assert_eq!(
            reply.content,
            "Spark is a fast engine for … [answer cut short: max_output_tokens]"
        );
        assert_eq!(reply.note.as_deref(), Some("cut short: max_output_tokens"));
        let nothing = r#"{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},
          "output":[{"type":"reasoning","summary":[]}]}"#;
        let err = parse(nothing).unwrap_err();
        assert!(
            matches!(&err, LlmError::Rejected { message } if message.contains("llm.max_tokens")),
            "{err:?}"
        );
    }

    #[test]
    fn reads_text_sources_and_cost() {
        let body = r#"{"id":"resp_1","object":"response","created_at":1,"status":"completed",
          "model":"perplexity/sonar","output":[
            {"type":"search_results","queries":["q"],"results":[
              {"id":1,"url":"https://a.example","title":"A","snippet":"s"},
              {"id":2,"url":"https://b.example","title":"B","snippet":"s"},
              {"id":3,"url":"https://a.example","title":"A again","snippet":"s"}]},
            {"type":"message","id":"m","status":"completed","role":"assistant","content":[
              {"type":"output_text","text":"<think>x</think>Spark is fast [1]","annotations":[]},
              {"type":"output_text","text":" and cheap [2].","annotations":[]}]}],
          "usage":{"input_tokens":12,"output_tokens":5,"total_tokens":17,
            "cost":{"currency":"USD","input_cost":0.001,"output_cost":0.002,"total_cost":0.0081}}}"#;
        let reply = parse(body).unwrap();
        assert_eq!(reply.content, "Spark is fast [1] and cheap [2].");
        assert_eq!(
            reply.citations,
            [
                "https://a.example",
                "https://b.example",
                "https://a.example"
            ],
            "by id, as the markers name them"
        );
        assert_eq!(reply.usage.input_tokens, Some(12));
        assert_eq!(reply.usage.output_tokens, Some(5));
        assert_eq!(reply.usage.cost, Some(0.0081));
        assert_eq!(reply.usage.model.as_deref(), Some("perplexity/sonar"));
    }

    #[test]
    fn failed_empty_and_unreadable_answers_are_retried() {
        for body in [
            r#"{"status":"failed","output":[],"error":{"message":"upstream model error"}}"#,
            r#"{"status":"completed","output":[]}"#,
            r#"{"status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"  "}]}]}"#,
            "<html>bad gateway</html>",
        ] {
            assert!(
                matches!(parse(body), Err(LlmError::Retryable { .. })),
                "{body}"
            );
        }
    }
}
