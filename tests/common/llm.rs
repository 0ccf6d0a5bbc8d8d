//! A local stand-in for Perplexity's chat-completions API, behaving like the real one:
//! 401 (an HTML page) for a wrong key, 400 for roles that do not alternate, and, when a
//! user message asks for it with a tag, 429 with Retry-After, 500, a stall, or a body
//! that is not JSON.
//!
//! Tags in the last user message: `[500]`, `[400]`, `[garbage]`, `[429:SECS]`,
//! `[stall:MS]`, `[long]`; `[500x2]` (and likewise for the others) misbehaves only for
//! the first 2 requests carrying that tag.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

pub const KEY: &str = "pplx-test-key-0123456789";

#[derive(Default)]
struct State {
    requests: Vec<Value>,
    seen: HashMap<String, usize>,
}

pub struct StandIn {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl StandIn {
    /// Starts the server on a free loopback port; every answer takes `delay`.
    pub fn start(delay: Duration) -> Self {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind loopback");
        let port = server.server_addr().to_ip().expect("ip address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            for request in server.incoming_requests() {
                let state = Arc::clone(&shared);
                thread::spawn(move || handle(request, &state, delay));
            }
        });
        Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    /// The JSON bodies of the requests that reached the model (valid key and roles).
    pub fn requests(&self) -> Vec<Value> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn handle(mut request: tiny_http::Request, state: &Mutex<State>, delay: Duration) {
    let auth = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_string());
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let (status, text, headers) = answer(&auth, &body, state, delay);
    let mut response = tiny_http::Response::from_string(text).with_status_code(status);
    for (name, value) in headers {
        response.add_header(tiny_http::Header::from_bytes(name, value).unwrap());
    }
    let _ = request.respond(response);
}

type Answer = (u16, String, Vec<(&'static str, String)>);

fn json_answer(status: u16, body: Value) -> Answer {
    (
        status,
        body.to_string(),
        vec![("Content-Type", "application/json".into())],
    )
}

fn answer(auth: &Option<String>, body: &str, state: &Mutex<State>, delay: Duration) -> Answer {
    if auth.as_deref() != Some(&format!("Bearer {KEY}")) {
        let page = "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>openresty/1.27.4.1</center>\r\n</body>\r\n</html>";
        return (401, page.into(), vec![("Content-Type", "text/html".into())]);
    }
    let Ok(request) = serde_json::from_str::<Value>(body) else {
        return json_answer(
            400,
            json!({"error": {"message": "Invalid JSON", "code": 400}}),
        );
    };
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    if !roles_alternate(&messages) {
        return json_answer(
            400,
            json!({"error": {
            "message": "After the (optional) system message(s), user and assistant roles should be alternating.",
            "type": "invalid_message", "code": 400}}),
        );
    }
    let last = messages
        .last()
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_string();
    let misbehave = |tag: &str| -> Option<String> {
        let start = last.find(&format!("[{tag}"))?;
        let inner = &last[start + 1..start + last[start..].find(']')?];
        let (spec, limit) = match inner.split_once('x') {
            Some((spec, n)) => (spec, n.parse().ok()),
            None => (inner, None),
        };
        let mut st = state.lock().unwrap();
        let seen = st.seen.entry(inner.to_string()).or_default();
        *seen += 1;
        (limit.is_none_or(|n| *seen <= n)).then(|| {
            spec.trim_start_matches(tag)
                .trim_start_matches(':')
                .to_string()
        })
    };
    if let Some(ms) = misbehave("stall") {
        thread::sleep(Duration::from_millis(ms.parse().unwrap_or(60_000)));
    }
    state.lock().unwrap().requests.push(request.clone());
    thread::sleep(delay);
    if misbehave("500").is_some() {
        return json_answer(
            500,
            json!({"error": {"message": "Internal server error", "code": 500}}),
        );
    }
    if misbehave("400").is_some() {
        return json_answer(
            400,
            json!({"error": {"message": "Invalid model 'x'", "type": "invalid_model", "code": 400}}),
        );
    }
    if let Some(secs) = misbehave("429") {
        let (_, text, mut headers) = json_answer(
            429,
            json!({"error": {"message": "Rate limit exceeded", "code": 429}}),
        );
        headers.push(("Retry-After", secs));
        return (429, text, headers);
    }
    if misbehave("garbage").is_some() {
        return (200, "<html>upstream hiccup</html>".into(), vec![]);
    }
    let content = if misbehave("long").is_some() {
        "This is a long answer sentence that goes on. ".repeat(12)
    } else {
        format!("Answer to: {}", last.lines().last().unwrap_or(""))
    };
    json_answer(
        200,
        json!({
            "id": "cmpl-1", "model": request["model"], "object": "chat.completion", "created": 1,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "citations": ["https://example.com/source"],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
        }),
    )
}

/// Perplexity's rule: optional system messages, then user/assistant alternating,
/// starting and ending with the user.
fn roles_alternate(messages: &[Value]) -> bool {
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap_or(""))
        .skip_while(|r| *r == "system")
        .collect();
    !roles.is_empty()
        && roles.last() == Some(&"user")
        && roles
            .iter()
            .enumerate()
            .all(|(i, r)| *r == if i % 2 == 0 { "user" } else { "assistant" })
}
