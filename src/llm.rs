//! A synchronous client for OpenAI-compatible chat completions (Perplexity by default).
//! It classifies every failure so the agent knows whether to retry, give up on a
//! message, or stop the whole run; no error text ever contains the API key.

use std::time::Duration;

use chrono::DateTime;
use serde::{Deserialize, Serialize};

use crate::config::{Config, Secret};

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
}

#[derive(Debug, Serialize)]
pub struct Request<'a> {
    pub model: &'a str,
    pub messages: &'a [ChatMessage],
    pub temperature: f64,
    pub max_tokens: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub content: String,
    pub citations: Vec<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmError {
    /// Try again: rate limited, server error, timeout, network down.
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The API refused this request (HTTP 400, 404, 422, …) or answered nonsense: retrying
    /// the same request will not help.
    Rejected { message: String },
    /// The key is wrong or lacks access (401/403): no request will succeed.
    Unauthorized { message: String },
}

impl std::fmt::Display for LlmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LlmError::Retryable { message, .. }
            | LlmError::Rejected { message }
            | LlmError::Unauthorized { message } => f.write_str(message),
        }
    }
}

pub struct Client {
    agent: ureq::Agent,
    url: String,
    key: Secret,
    model: String,
    temperature: f64,
    max_tokens: i64,
}

/// How much of an error body we quote: enough to explain, not enough to flood a log.
const QUOTED_BODY: usize = 300;

impl Client {
    pub fn new(config: &Config, key: &Secret) -> Self {
        let llm = &config.file.perplexity;
        let timeout = Duration::from_secs(llm.timeout_seconds.unsigned_abs());
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("wabot/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self {
            agent,
            url: format!("{}/chat/completions", llm.base_url.trim_end_matches('/')),
            key: key.clone(),
            model: llm.model.clone(),
            temperature: llm.temperature,
            max_tokens: llm.max_tokens,
        }
    }

    pub fn request<'a>(&'a self, messages: &'a [ChatMessage]) -> Request<'a> {
        Request {
            model: &self.model,
            messages,
            temperature: self.temperature,
            max_tokens: self.max_tokens,
        }
    }

    pub fn complete(&self, messages: &[ChatMessage]) -> Result<Reply, LlmError> {
        let response = self
            .agent
            .post(&self.url)
            .header("Authorization", format!("Bearer {}", self.key.expose()))
            .header("Accept", "application/json")
            .send_json(self.request(messages));
        let mut response = response.map_err(transport_error)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(transport_error)?;
        match status {
            200..=299 => parse_reply(&body),
            401 | 403 => Err(LlmError::Unauthorized {
                message: format!("HTTP {status}: the API key was refused{}", quote(&body)),
            }),
            408 | 409 | 425 | 429 | 500..=599 => Err(LlmError::Retryable {
                message: format!("HTTP {status}{}", quote(&body)),
                retry_after,
            }),
            _ => Err(LlmError::Rejected {
                message: format!("HTTP {status}{}", quote(&body)),
            }),
        }
    }
}

fn transport_error(err: ureq::Error) -> LlmError {
    let message = match &err {
        ureq::Error::Timeout(_) => format!("no answer in time ({err})"),
        _ => format!("network: {err}"),
    };
    LlmError::Retryable {
        message,
        retry_after: None,
    }
}

/// Retry-After is either seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(wait.max(0).unsigned_abs()))
}

/// The API's own explanation, from `{"error": {"message": …}}` or the raw body.
fn quote(body: &str) -> String {
    let explained = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            e.get("message")
                .and_then(|m| m.as_str())
                .or_else(|| e.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.to_string());
    let one_line = explained.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return String::new();
    }
    let cut: String = one_line.chars().take(QUOTED_BODY).collect();
    format!(": {cut}")
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    #[serde(default)]
    citations: Vec<String>,
    #[serde(default)]
    search_results: Vec<SearchResult>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: AssistantMessage,
}

#[derive(Deserialize)]
struct AssistantMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
struct SearchResult {
    url: String,
}

#[derive(Deserialize)]
struct Usage {
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
}

fn parse_reply(body: &str) -> Result<Reply, LlmError> {
    let completion: Completion = serde_json::from_str(body).map_err(|e| LlmError::Rejected {
        message: format!("unreadable answer ({e}){}", quote(body)),
    })?;
    let content = completion
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message.content)
        .map(|c| strip_reasoning(&c))
        .unwrap_or_default();
    if content.trim().is_empty() {
        return Err(LlmError::Rejected {
            message: "the answer has no content".into(),
        });
    }
    // Newer Perplexity responses carry search_results; older ones only citations.
    let citations = if completion.citations.is_empty() {
        completion
            .search_results
            .into_iter()
            .map(|r| r.url)
            .collect()
    } else {
        completion.citations
    };
    let usage = completion.usage;
    Ok(Reply {
        content: content.trim().to_string(),
        citations,
        prompt_tokens: usage.as_ref().and_then(|u| u.prompt_tokens),
        completion_tokens: usage.as_ref().and_then(|u| u.completion_tokens),
    })
}

/// Reasoning models (sonar-reasoning) put their thinking in `<think>…</think>` before
/// the answer; people should only get the answer.
fn strip_reasoning(content: &str) -> String {
    match (content.find("<think>"), content.find("</think>")) {
        (Some(start), Some(end)) if start < end => {
            format!(
                "{}{}",
                &content[..start],
                &content[end + "</think>".len()..]
            )
        }
        _ => content.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_perplexity_answer_with_citations_and_usage() {
        let body = r#"{"id":"x","model":"sonar","choices":[{"index":0,"finish_reason":"stop",
            "message":{"role":"assistant","content":"<think>hmm</think>Spark is fast [1]."}}],
            "citations":["https://spark.apache.org"],
            "usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}"#;
        let reply = parse_reply(body).unwrap();
        assert_eq!(reply.content, "Spark is fast [1].");
        assert_eq!(reply.citations, ["https://spark.apache.org"]);
        assert_eq!(
            (reply.prompt_tokens, reply.completion_tokens),
            (Some(12), Some(5))
        );
        let newer = r#"{"choices":[{"message":{"content":"ok"}}],
            "search_results":[{"title":"t","url":"https://a.example"}]}"#;
        assert_eq!(parse_reply(newer).unwrap().citations, ["https://a.example"]);
    }

    #[test]
    fn nonsense_answers_are_rejected_with_a_reason() {
        for (body, want) in [
            ("<html>bad gateway</html>", "unreadable answer"),
            (r#"{"choices":[]}"#, "no content"),
            (
                r#"{"choices":[{"message":{"content":"  "}}]}"#,
                "no content",
            ),
        ] {
            match parse_reply(body) {
                Err(LlmError::Rejected { message }) => assert!(message.contains(want), "{message}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn quotes_the_api_error_message_on_one_line() {
        let body = r#"{"error":{"message":"After the (optional) system message(s), user and assistant roles should be alternating.","type":"invalid_message","code":400}}"#;
        assert!(quote(body).starts_with(": After the (optional) system message(s)"));
        assert_eq!(quote("<html>\n401\n</html>"), ": <html> 401 </html>");
        assert_eq!(quote(&"x".repeat(1000)).len(), 2 + QUOTED_BODY);
    }
}
