//! One synchronous client for two LLM API formats: Perplexity's Agent API (the OpenAI
//! Responses format) and OpenAI-compatible chat completions. The agent hands it the
//! conversation as role/content messages and never learns which format went out.
//! Every failure is classified so the agent knows whether to retry, give up on a
//! message, or stop the run; no error text ever contains the API key.

mod agent_api;
mod chat_completions;
mod multipart;
mod transcription;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use wabot_core::config::{Api, LlmSettings, Secret};
// The core modules under their own names, so `crate::config` reads as it does in the binary.
use wabot_core::{config, error};

pub use transcription::Transcriber;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// Images shown with the text, as `data:` URIs; each API format frames them its way.
    #[serde(skip)]
    pub images: Vec<String>,
}

impl ChatMessage {
    pub fn text(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            images: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reply {
    pub content: String,
    /// Source URLs as the `[n]` markers name them: entry n-1 is source n (empty where
    /// the provider named no source n).
    pub citations: Vec<String>,
    pub usage: Usage,
    /// What happened beside a plain answer (the run was cut short, and why), for the
    /// log and the call's record.
    pub note: Option<String>,
}

impl Reply {
    /// How many distinct sources came back with the answer.
    pub fn sources(&self) -> usize {
        let distinct: std::collections::HashSet<&str> = self
            .citations
            .iter()
            .map(String::as_str)
            .filter(|c| !c.is_empty())
            .collect();
        distinct.len()
    }
}

/// What one call consumed, as far as the provider said.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Usage {
    /// The model that actually answered (a preset or router may choose it).
    pub model: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    /// In US dollars; `None` when the provider reports no cost.
    pub cost: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmError {
    /// Try again: rate limited, server error, timeout, network down, an unreadable or
    /// empty answer.
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The API refused this request (HTTP 400, 422, …): retrying it will not help.
    Rejected { message: String },
    /// The key is wrong or lacks access (401/403): no request will succeed.
    Unauthorized { message: String },
    /// The endpoint or model is wrong, moved or retired: no request will succeed until
    /// a setting changes. The message says which.
    Misconfigured { message: String },
    /// The model takes no image input (llama.cpp without a projector answers 500,
    /// Ollama 500, vLLM 400): the same request without its images will do.
    TakesNoImages { message: String },
}

impl std::fmt::Display for LlmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LlmError::Retryable { message, .. }
            | LlmError::Rejected { message }
            | LlmError::Unauthorized { message }
            | LlmError::Misconfigured { message }
            | LlmError::TakesNoImages { message } => f.write_str(message),
        }
    }
}

impl LlmError {
    /// The label the usage log keeps for a failed call.
    pub fn outcome(&self) -> &'static str {
        match self {
            LlmError::Retryable { .. } => "retryable",
            LlmError::Rejected { .. } => "rejected",
            LlmError::Unauthorized { .. } => "unauthorized",
            LlmError::Misconfigured { .. } => "misconfigured",
            LlmError::TakesNoImages { .. } => "takes-no-images",
        }
    }

    fn retry(message: String) -> Self {
        LlmError::Retryable {
            message,
            retry_after: None,
        }
    }
}

/// How much of an error body we quote: enough to explain, not enough to flood a log.
const QUOTED_BODY: usize = 300;

pub struct Client {
    agent: ureq::Agent,
    settings: LlmSettings,
    url: String,
    key: Option<Secret>,
}

/// The request body exactly as it is sent, for `--dry-run` and for the client.
pub fn request_body(settings: &LlmSettings, messages: &[ChatMessage]) -> serde_json::Value {
    match settings.api {
        Api::Agent => agent_api::body(settings, messages),
        Api::ChatCompletions => chat_completions::body(settings, messages),
    }
}

impl Client {
    /// A client sending `key` as a bearer token; `None` sends no `Authorization` (a
    /// local server that checks no key).
    pub fn new(settings: &LlmSettings, key: Option<&Secret>) -> Self {
        let timeout = Duration::from_secs(settings.timeout_seconds.unsigned_abs());
        let agent = wabot_http::agent(timeout);
        Self {
            agent,
            url: settings.endpoint(),
            settings: settings.clone(),
            key: key.cloned(),
        }
    }

    pub fn settings(&self) -> &LlmSettings {
        &self.settings
    }

    pub fn complete(&self, messages: &[ChatMessage]) -> Result<Reply, LlmError> {
        let mut request = self
            .agent
            .post(&self.url)
            .header("Accept", "application/json");
        if let Some(key) = &self.key {
            request = request.header("Authorization", format!("Bearer {}", key.expose()));
        }
        let response = request.send_json(request_body(&self.settings, messages));
        let (status, retry_after, body) = read(response)?;
        if (200..300).contains(&status) {
            return match self.settings.api {
                Api::Agent => agent_api::parse(&body),
                Api::ChatCompletions => chat_completions::parse(&body),
            };
        }
        let had_images = messages.iter().any(|m| !m.images.is_empty());
        if had_images && says_no_images(&body) {
            return Err(LlmError::TakesNoImages {
                message: format!("HTTP {status}{}", quote(&body)),
            });
        }
        let key = match &self.settings.api_key_env {
            Some(var) => format!("the API key in {var}"),
            None => "the request without a key (api_key_env is null)".into(),
        };
        Err(classify(
            status,
            &body,
            retry_after,
            &key,
            &self.url,
            || self.hint(),
        ))
    }

    /// Which setting to change when the endpoint is wrong or gone.
    fn hint(&self) -> String {
        let s = &self.settings;
        if s.api == Api::ChatCompletions && s.base_url.contains("perplexity.ai") {
            return format!(
                "Perplexity retired chat completions: set \"api\": \"agent\" in the {} section (base_url \"https://api.perplexity.ai\", model \"perplexity/sonar\" or a preset)",
                s.section
            );
        }
        format!(
            "check {0}.api (agent | chat-completions), {0}.base_url (the API root, as the provider's own client takes it) and {0}.model",
            s.section
        )
    }
}

/// An answer's status, `Retry-After` and body; a transport failure is worth a retry.
fn read(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<(u16, Option<Duration>, String), LlmError> {
    let mut response = response.map_err(transport_error)?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(wabot_http::retry_after);
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(transport_error)?;
    Ok((status, retry_after, body))
}

/// What an error status means for the caller: retry (honouring `Retry-After`), give up
/// on this request, or stop because `key` was refused or the endpoint (`url`) is
/// wrong, with `hint` naming the setting to change.
fn classify(
    status: u16,
    body: &str,
    retry_after: Option<Duration>,
    key: &str,
    url: &str,
    hint: impl FnOnce() -> String,
) -> LlmError {
    let said = quote(body);
    match status {
        401 | 403 => LlmError::Unauthorized {
            message: format!("HTTP {status}: {key} was refused{said}"),
        },
        408 | 409 | 425 | 429 | 500..=599 => LlmError::Retryable {
            message: format!("HTTP {status}{said}"),
            retry_after,
        },
        404 | 405 | 410 => LlmError::Misconfigured {
            message: format!("{url} answered HTTP {status}{said}; {}", hint()),
        },
        // A parameter or model the endpoint does not take fails every request alike: a
        // setting to change, not a turn to give up on (OpenAI: "Unsupported parameter:
        // 'max_tokens' … Use 'max_completion_tokens' instead"; "The model … does not exist").
        400 | 422 if says_unsupported(body) => LlmError::Misconfigured {
            message: format!(
                "{url} refused a parameter or the model (HTTP {status}{said}); {}",
                setting_for(body).map_or_else(hint, str::to_string)
            ),
        },
        _ if says_retired(body) => LlmError::Misconfigured {
            message: format!(
                "{url} says this API moved or was retired (HTTP {status}{said}); {}",
                hint()
            ),
        },
        _ => LlmError::Rejected {
            message: format!("HTTP {status}{said}"),
        },
    }
}

/// The setting behind a refused parameter, from the `param` OpenAI names (or the
/// wording): what the message tells the owner to change.
fn setting_for(body: &str) -> Option<&'static str> {
    let param = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.pointer("/error/param")?.as_str().map(str::to_lowercase))
        .unwrap_or_else(|| body.to_lowercase());
    if param.contains("max_tokens") || param.contains("max_completion_tokens") {
        Some("llm.max_tokens_field picks max_tokens or max_completion_tokens")
    } else if param.contains("temperature") {
        Some("this model takes no llm.temperature: leave it unset")
    } else {
        None
    }
}

/// How servers say a model takes no images: llama.cpp's 500 "image input is not
/// supported" (no projector loaded), Ollama's 500 "this model is missing data required
/// for image input", vLLM's 400 "… is not a multimodal model", OpenAI's and others'
/// "does not support image input".
fn says_no_images(body: &str) -> bool {
    let lower = body.to_lowercase();
    [
        "image input is not supported",
        "missing data required for image input",
        "is not a multimodal model",
        "does not support image",
        "does not support vision",
        "image input not supported",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// Providers say a parameter or model is unknown in words, and in `code` fields.
fn says_unsupported(body: &str) -> bool {
    let lower = body.to_lowercase();
    [
        "unsupported parameter",
        "unsupported_parameter",
        "unsupported value",
        "unsupported_value",
        "unrecognized request argument",
        "model_not_found",
        "does not exist",
        "unknown model",
        "invalid model",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// Providers say an API is gone in words, not in a status code of its own.
fn says_retired(body: &str) -> bool {
    let lower = body.to_lowercase();
    [
        "retired",
        "deprecated",
        "no longer supported",
        "no longer available",
        "has moved",
        "moved to",
        "is now the agent api",
        "migrate to",
        "decommissioned",
        "discontinued",
        "sunset",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

fn transport_error(err: ureq::Error) -> LlmError {
    LlmError::retry(match &err {
        ureq::Error::Timeout(_) => format!("no answer in time ({err})"),
        _ => format!("network: {err}"),
    })
}

/// The API's own explanation, from `{"error": {"message": …}}` (OpenAI, llama.cpp,
/// Ollama's `/v1`), `{"error": "…"}` (Ollama's own), `{"message": …}` (vLLM), or the
/// raw body.
fn quote(body: &str) -> String {
    let explained = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let said = match v.get("error") {
                Some(e) => e.get("message").and_then(|m| m.as_str()).or(e.as_str()),
                None => v.get("message").and_then(|m| m.as_str()),
            };
            said.map(str::to_string)
        })
        .unwrap_or_else(|| body.to_string());
    let one_line = explained.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return String::new();
    }
    let cut: String = one_line.chars().take(QUOTED_BODY).collect();
    format!(": {cut}")
}

/// An answer that does not parse is most often a proxy's error page or a cut-off body:
/// worth another try, like a 5xx.
fn unreadable(err: &serde_json::Error, body: &str) -> LlmError {
    LlmError::retry(format!("unreadable answer ({err}){}", quote(body)))
}

/// What is left of an answer once reasoning is removed; empty answers are retried.
fn answer_text(raw: &str) -> Result<String, LlmError> {
    let text = strip_reasoning(raw);
    let text = text.trim();
    if text.is_empty() {
        return Err(LlmError::retry("the answer has no text".into()));
    }
    Ok(text.to_string())
}

/// An answer the provider stopped early (its output budget spent, a content filter):
/// what came is kept and said to be cut, with the note for the call's record; an answer
/// cut before any text fails its turn instead of being paid for again and again.
fn cut_short(raw: &str, reason: &str, advice: &str) -> Result<(String, String), LlmError> {
    match answer_text(raw) {
        // The agent logs the note with the chat it belongs to.
        Ok(partial) => Ok((
            format!("{partial} … [answer cut short: {reason}]"),
            format!("cut short: {reason}"),
        )),
        Err(_) => Err(LlmError::Rejected {
            message: format!("the answer was cut short ({reason}) before any text: {advice}"),
        }),
    }
}

/// The most sources a reply keeps (a marker beyond it has no source).
const MAX_SOURCES: usize = 100;

/// The sources as the text's `[n]` markers name them: entry n-1 is source n. A source
/// naming its own `id` (the Agent API's search results) goes at that place; the others
/// follow their position. A place no source fills is empty.
fn numbered_sources(sources: impl IntoIterator<Item = (Option<usize>, String)>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (position, (id, url)) in sources.into_iter().enumerate() {
        let n = id.unwrap_or(position + 1);
        if n == 0 || n > MAX_SOURCES {
            continue;
        }
        if out.len() < n {
            out.resize(n, String::new());
        }
        if out[n - 1].is_empty() {
            out[n - 1] = url.trim().to_string();
        }
    }
    out
}

/// A `cost` as providers report it: a number (OpenRouter) or an object with
/// `total_cost` (Perplexity).
fn reported_cost(cost: Option<&serde_json::Value>) -> Option<f64> {
    let cost = cost?;
    cost.as_f64()
        .or_else(|| cost.get("total_cost").and_then(serde_json::Value::as_f64))
        .filter(|c| c.is_finite() && *c >= 0.0)
}

/// Reasoning models put their thinking in `<think>…</think>` before the answer;
/// people should only get the answer. Every form goes: whole blocks; a lone `</think>`
/// (the chat template opened the block in the prompt, so everything before it is
/// thinking); a lone `<think>` (an answer cut while still thinking: the rest is). An
/// answer that was all thinking is empty, and an empty answer is never sent.
fn strip_reasoning(content: &str) -> String {
    const OPEN: &str = "<think>";
    const CLOSE: &str = "</think>";
    let mut rest = content;
    if let (Some(close), open) = (rest.find(CLOSE), rest.find(OPEN))
        && open.is_none_or(|o| o > close)
    {
        rest = &rest[close + CLOSE.len()..];
    }
    let mut out = String::with_capacity(rest.len());
    while let Some(open) = rest.find(OPEN) {
        out.push_str(&rest[..open]);
        match rest[open..].find(CLOSE) {
            Some(close) => rest = &rest[open + close + CLOSE.len()..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_refusing_max_tokens_is_a_setting_to_change_not_a_failed_turn() {
        // OpenAI's answer for a reasoning model sent `max_tokens` (2026).
        let body = r#"{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}"#;
        let e = classify(
            400,
            body,
            None,
            "OPENAI_API_KEY",
            "https://api.openai.com/v1",
            || "check llm.model".into(),
        );
        assert!(
            matches!(&e, LlmError::Misconfigured { message } if message.contains("max_tokens_field")),
            "{e:?}"
        );
        // …and for one that takes only its default temperature.
        let temperature = r#"{"error":{"message":"Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.","type":"invalid_request_error","param":"temperature","code":"unsupported_value"}}"#;
        assert!(matches!(
            classify(400, temperature, None, "K", "u", String::new),
            LlmError::Misconfigured { message } if message.contains("llm.temperature")
        ));
        let unknown = r#"{"error":{"message":"The model `gpt-9` does not exist or you do not have access to it.","code":"model_not_found"}}"#;
        assert!(matches!(
            classify(404, unknown, None, "K", "u", String::new),
            LlmError::Misconfigured { .. }
        ));
        let other = r#"{"error":{"message":"messages: roles must alternate"}}"#;
        assert!(matches!(
            classify(400, other, None, "K", "u", String::new),
            LlmError::Rejected { .. }
        ));
    }

    #[test]
    fn reasoning_never_reaches_whatsapp() {
        for (raw, shown) in [
            ("<think>plan</think>Spark is fast", "Spark is fast"),
            (
                "the template opened it</think>\nSpark is fast",
                "Spark is fast",
            ),
            ("Spark is fast<think>but wait, maybe", "Spark is fast"),
            ("<think>cut while thinking", ""),
            ("<think>a</think>one <think>b</think>two", "one two"),
            ("no reasoning at all", "no reasoning at all"),
        ] {
            assert_eq!(strip_reasoning(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn quotes_the_api_error_message_on_one_line() {
        let body = r#"{"error":{"message":"After the (optional) system message(s), user and assistant roles should be alternating.","type":"invalid_message","code":400}}"#;
        assert!(quote(body).starts_with(": After the (optional) system message(s)"));
        assert_eq!(quote("<html>\n401\n</html>"), ": <html> 401 </html>");
        assert_eq!(quote(&"x".repeat(1000)).len(), 2 + QUOTED_BODY);
        let vllm = r#"{"object":"error","message":"facebook/opt-125m is not a multimodal model None","type":"BadRequestError","param":null,"code":400}"#;
        assert_eq!(
            quote(vllm),
            ": facebook/opt-125m is not a multimodal model None"
        );
        assert_eq!(
            quote(r#"{"error":"model 'x' not found"}"#),
            ": model 'x' not found"
        );
    }

    #[test]
    fn each_servers_refusal_of_images_is_recognised() {
        for body in [
            r#"{"error":{"code":500,"message":"image input is not supported - hint: if this is unexpected, you may need to provide the mmproj","type":"server_error"}}"#,
            r#"{"error":{"message":"this model is missing data required for image input","type":"api_error","param":null,"code":null}}"#,
            r#"{"object":"error","message":"facebook/opt-125m is not a multimodal model None","type":"BadRequestError","param":null,"code":400}"#,
        ] {
            assert!(says_no_images(body), "{body}");
        }
        assert!(!says_no_images(
            r#"{"error":{"message":"Internal server error"}}"#
        ));
    }

    #[test]
    fn sources_keep_the_numbers_the_markers_use() {
        let by_position = ["a", "b", "a"].map(|u| (None, u.to_string()));
        assert_eq!(
            numbered_sources(by_position),
            ["a", "b", "a"],
            "a duplicate keeps its place"
        );
        let by_id =
            [(Some(3), "c"), (Some(1), "a"), (Some(7), "g")].map(|(i, u)| (i, u.to_string()));
        assert_eq!(numbered_sources(by_id), ["a", "", "c", "", "", "", "g"]);
    }

    #[test]
    fn costs_come_as_a_number_or_an_object() {
        let v: serde_json::Value =
            serde_json::json!({"a": 0.5, "b": {"total_cost": 0.25}, "c": "x", "d": -1});
        assert_eq!(reported_cost(v.get("a")), Some(0.5));
        assert_eq!(reported_cost(v.get("b")), Some(0.25));
        assert_eq!(reported_cost(v.get("c")), None);
        assert_eq!(reported_cost(v.get("d")), None);
        assert_eq!(reported_cost(None), None);
    }

    #[test]
    fn retired_wording_is_recognised() {
        assert!(says_retired(
            r#"{"error":{"message":"Sonar is now the Agent API: use /v1/agent"}}"#
        ));
        assert!(says_retired("This endpoint has been deprecated"));
        assert!(!says_retired(
            r#"{"error":{"message":"Invalid model 'x'"}}"#
        ));
    }
}
