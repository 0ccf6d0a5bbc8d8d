//! A local stand-in for the two LLM APIs wabot speaks, as strict as the real services.
//!
//! - `POST /v1/agent` (and its alias `/v1/responses`): Perplexity's Agent API. Unknown
//!   fields (`messages` among them) are refused with Perplexity's own 400 body; it needs
//!   `input` message items, a `model` or a `preset`, roles that alternate and a last item
//!   from the user; it answers in the Responses format with a `search_results` item and
//!   `usage.cost`.
//! - `POST /chat/completions`: OpenAI-compatible chat completions, with Perplexity's old
//!   alternation rule. [`StandIn::retire_chat_completions`] makes it answer the 400 that
//!   a retired endpoint gives.
//!
//! Content may be a string or, with images, a list of parts: `input_text` and
//! `input_image` (`image_url` a `data:` URI or an https URL) on the Agent API, `text`
//! and `image_url` (`{"url": …}`) in chat completions. A `data:` URI must name an
//! image type the APIs take (PNG, JPEG, WEBP, GIF) and hold valid base64.
//!
//! [`StandIn::start_as`] answers as another real server instead, each with its own
//! documented routes, key rules, error bodies and answers ([`Server`]).
//!
//! Both answer 401 (an HTML page) for a wrong key. Tags in the last user message make
//! them misbehave: `[500]`, `[400]`, `[garbage]`, `[empty]`, `[429:SECS]`, `[stall:MS]`,
//! `[long]`, `[huge:CHARS]`, `[hold]` (answers only once [`StandIn::release`] was
//! called); `[cut]` (the output budget ran out mid-answer: the Agent API's `incomplete`
//! run, chat completions' `finish_reason: "length"`), `[cutthink]` (ran out while still
//! in an unclosed `<think>`), `[halfthink]` (only the closing `</think>`, as templates
//! that open the block in the prompt produce); `[500x2]` (and likewise for the others)
//! misbehaves only for the first 2 requests carrying that tag.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use super::changes::{Bell, until};

pub const KEY: &str = "pplx-test-key-0123456789";
/// The cost the stand-in's Agent API reports for every answer, in USD.
pub const AGENT_COST: f64 = 0.0061;

/// The model a local server serves (Ollama and vLLM refuse any other name).
pub const LOCAL_MODEL: &str = "qwen3:8b";

/// Which real server the stand-in answers as.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Server {
    /// Perplexity: the Agent API and its old chat completions (`/chat/completions`).
    Perplexity,
    /// OpenAI's API (base URL `…/v1`): refuses unknown fields, and its reasoning models
    /// (`o…`, `gpt-5…`) refuse `max_tokens` and any temperature but 1 with the
    /// documented 400s.
    OpenAi,
    /// llama.cpp's `llama-server` with a text-only model (no `--mmproj`) and no
    /// `--api-key`: any key or none; `max_tokens` (or `n_predict`); images get its 500;
    /// the thinking comes apart in `reasoning_content`.
    LlamaCpp,
    /// Ollama's OpenAI endpoint (`/v1`) with a text-only model: a key is ignored; a
    /// model not pulled is a 404; images get its 500.
    Ollama,
    /// vLLM's OpenAI server with a text-only model: another model name is a 404, images a
    /// 400, both in vLLM's `{"object": "error"}` body.
    Vllm,
}

impl Server {
    /// The `base_url` its users configure, on the stand-in's address.
    pub fn base_url(self, root: &str) -> String {
        match self {
            Server::Perplexity => root.to_string(),
            _ => format!("{root}/v1"),
        }
    }

    fn checks_key(self) -> bool {
        matches!(self, Server::Perplexity | Server::OpenAi)
    }
}

#[derive(Default)]
struct State {
    requests: Vec<(String, Value)>,
    /// The `Authorization` header of each request that reached the model.
    auth: Vec<Option<String>>,
    seen: HashMap<String, usize>,
}

pub struct StandIn {
    pub url: String,
    pub server: Server,
    state: Arc<Mutex<State>>,
    switches: Arc<Switches>,
    /// Rung on every request it counts: what a test waiting for one blocks on.
    bell: Arc<Bell>,
}

/// What a test switches on while the stand-in runs.
#[derive(Default)]
struct Switches {
    retired: AtomicBool,
    released: Mutex<bool>,
    release: Condvar,
}

impl Switches {
    /// Blocks a `[hold]` request until the test releases it.
    fn hold(&self) {
        let mut released = self.released.lock().unwrap();
        while !*released {
            released = self.release.wait(released).unwrap();
        }
    }
}

/// The fields Perplexity's Agent API accepts at the top level of a request.
const AGENT_FIELDS: [&str; 20] = [
    "input",
    "instructions",
    "model",
    "models",
    "preset",
    "effort",
    "max_output_tokens",
    "max_steps",
    "max_tool_calls",
    "temperature",
    "top_p",
    "tools",
    "tool_choice",
    "stream",
    "reasoning",
    "response_format",
    "language_preference",
    "previous_response_id",
    "metadata",
    "store",
];

impl StandIn {
    /// Starts the server on a free loopback port; every answer takes `delay`.
    pub fn start(delay: Duration) -> Self {
        Self::start_as(Server::Perplexity, delay)
    }

    /// Starts a stand-in answering as `server`.
    pub fn start_as(server: Server, delay: Duration) -> Self {
        let http = tiny_http::Server::http("127.0.0.1:0").expect("bind loopback");
        let port = http.server_addr().to_ip().expect("ip address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let switches = Arc::new(Switches::default());
        let bell = Arc::new(Bell::new());
        let (shared, switched, rung) =
            (Arc::clone(&state), Arc::clone(&switches), Arc::clone(&bell));
        thread::spawn(move || {
            for request in http.incoming_requests() {
                let (state, switches, bell) = (
                    Arc::clone(&shared),
                    Arc::clone(&switched),
                    Arc::clone(&rung),
                );
                thread::spawn(move || handle(server, request, &state, &switches, &bell, delay));
            }
        });
        Self {
            url: format!("http://127.0.0.1:{port}"),
            server,
            state,
            switches,
            bell,
        }
    }

    /// From now on `/chat/completions` answers like Perplexity's retired endpoint.
    pub fn retire_chat_completions(&self) {
        self.switches.retired.store(true, Ordering::SeqCst);
    }

    /// Lets the `[hold]` requests that wait, and all later ones, be answered.
    pub fn release(&self) {
        *self.switches.released.lock().unwrap() = true;
        self.switches.release.notify_all();
    }

    /// Rings whenever a request was counted.
    pub fn bell(&self) -> &Bell {
        &self.bell
    }

    /// Waits until `n` requests carrying the tag `[inner]` arrived.
    pub fn wait_tagged(&self, inner: &str, n: usize) {
        until(
            &format!("{n} LLM call(s) tagged [{inner}]"),
            &[self.bell()],
            || self.tagged(inner) >= n,
        );
    }

    /// How many requests carrying the misbehaviour tag `[inner]` arrived, counted before
    /// the misbehaviour (a stall) begins: the event a test waits for instead of a sleep.
    pub fn tagged(&self, inner: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .seen
            .get(inner)
            .copied()
            .unwrap_or(0)
    }

    /// The JSON bodies of the requests that reached the model (valid key and body).
    pub fn requests(&self) -> Vec<Value> {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// The `Authorization` headers of those requests.
    pub fn auth_headers(&self) -> Vec<Option<String>> {
        self.state.lock().unwrap().auth.clone()
    }

    /// The paths those requests were posted to.
    pub fn paths(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .map(|(path, _)| path.clone())
            .collect()
    }

    /// Request `i` as (role, content) pairs, whichever format it came in: the Agent
    /// API's `instructions` count as the system message.
    pub fn conversation(&self, i: usize) -> Vec<(String, String)> {
        let body = &self.requests()[i];
        let mut out = Vec::new();
        if let Some(system) = body["instructions"].as_str() {
            out.push(("system".to_string(), system.to_string()));
        }
        let items = self.items(i);
        for item in items {
            out.push((
                item["role"].as_str().unwrap_or_default().to_string(),
                text_of(&item["content"]),
            ));
        }
        out
    }

    /// Request `i`'s messages, in either API format.
    fn items(&self, i: usize) -> Vec<Value> {
        let body = &self.requests()[i];
        body.get("input")
            .or_else(|| body.get("messages"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// The images of request `i`'s last message, decoded: (MIME type, bytes).
    pub fn images(&self, i: usize) -> Vec<(String, Vec<u8>)> {
        let items = self.items(i);
        let Some(Value::Array(parts)) = items.last().map(|m| m["content"].clone()) else {
            return Vec::new();
        };
        parts
            .iter()
            .filter_map(|p| p["image_url"].as_str().or(p["image_url"]["url"].as_str()))
            .filter_map(|uri| decode_data_uri(uri).ok())
            .collect()
    }
}

fn handle(
    server: Server,
    mut request: tiny_http::Request,
    state: &Mutex<State>,
    switches: &Switches,
    bell: &Bell,
    delay: Duration,
) {
    let auth = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_string());
    let path = request.url().to_string();
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let (status, text, headers) = answer(server, &path, &auth, &body, state, switches, bell, delay);
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

fn invalid(message: &str) -> Answer {
    json_answer(
        400,
        json!({"error": {"message": message, "type": "invalid_request", "code": 400}}),
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Agent,
    Chat,
}

#[allow(clippy::too_many_arguments)]
fn answer(
    server: Server,
    path: &str,
    auth: &Option<String>,
    body: &str,
    state: &Mutex<State>,
    switches: &Switches,
    bell: &Bell,
    delay: Duration,
) -> Answer {
    let format = match (server, path) {
        (Server::Perplexity, "/v1/agent" | "/v1/responses") => Format::Agent,
        (Server::Perplexity, "/chat/completions") => Format::Chat,
        (Server::Perplexity, _) => {
            return json_answer(
                404,
                json!({"error": {"message": format!("no route {path}"), "type": "not_found", "code": 404}}),
            );
        }
        (_, "/v1/chat/completions") => Format::Chat,
        _ => {
            return json_answer(
                404,
                json!({"error": {"message": format!("no route {path}"), "type": "not_found", "code": 404}}),
            );
        }
    };
    if server.checks_key() && auth.as_deref() != Some(&format!("Bearer {KEY}")) {
        let page = "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>openresty/1.27.4.1</center>\r\n</body>\r\n</html>";
        return (401, page.into(), vec![("Content-Type", "text/html".into())]);
    }
    if format == Format::Chat && switches.retired.load(Ordering::SeqCst) {
        return invalid(
            "Sonar is now the Agent API: chat completions were retired on 2026-09-27. Use POST /v1/agent.",
        );
    }
    let Ok(request) = serde_json::from_str::<Value>(body) else {
        return invalid("invalid request body: not JSON");
    };
    let messages = match format {
        Format::Agent => match agent_input(&request) {
            Ok(messages) => messages,
            Err(refusal) => return refusal,
        },
        Format::Chat => match chat_messages(&request) {
            Ok(messages) => messages,
            Err(refusal) => return refusal,
        },
    };
    if let Err(refusal) = server_rules(server, &request) {
        return refusal;
    }
    if !roles_alternate(&messages) {
        return invalid(
            "After the (optional) system message(s), user and assistant roles should be alternating.",
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
        let (spec, limit) = match inner.rsplit_once('x') {
            Some((spec, n)) if n.chars().all(|c| c.is_ascii_digit()) => (spec, n.parse().ok()),
            _ => (inner, None),
        };
        let mut st = state.lock().unwrap();
        let seen = st.seen.entry(inner.to_string()).or_default();
        *seen += 1;
        bell.ring();
        (limit.is_none_or(|n| *seen <= n)).then(|| {
            spec.trim_start_matches(tag)
                .trim_start_matches(':')
                .to_string()
        })
    };
    if misbehave("hold").is_some() {
        switches.hold();
    }
    if let Some(ms) = misbehave("stall") {
        thread::sleep(Duration::from_millis(ms.parse().unwrap_or(60_000)));
    }
    {
        let mut st = state.lock().unwrap();
        st.requests.push((path.to_string(), request.clone()));
        st.auth.push(auth.clone());
    }
    bell.ring();
    thread::sleep(delay);
    if misbehave("500").is_some() {
        return json_answer(
            500,
            json!({"error": {"message": "Internal server error", "type": "internal_error", "code": 500}}),
        );
    }
    if misbehave("400").is_some() {
        return json_answer(
            400,
            // A refusal of this one request (an unknown model or parameter would refuse
            // every request: a configuration error, tested in wabot-llm).
            json!({"error": {"message": "The input exceeds the maximum context length", "type": "invalid_request_error", "code": 400}}),
        );
    }
    if let Some(secs) = misbehave("429") {
        let (_, text, mut headers) = json_answer(
            429,
            json!({"error": {"message": "Rate limit exceeded", "type": "request_rate_limit_exceeded", "code": 429}}),
        );
        headers.push(("Retry-After", secs));
        return (429, text, headers);
    }
    if misbehave("garbage").is_some() {
        return (200, "<html>upstream hiccup</html>".into(), vec![]);
    }
    let cut_thinking = misbehave("cutthink").is_some();
    let cut = cut_thinking || misbehave("cut]").is_some();
    let content = if misbehave("empty").is_some() {
        String::new()
    } else if cut_thinking {
        "<think>Spark might be a fire, or maybe the engine".into()
    } else if cut {
        "Spark is a fast engine for".into()
    } else if misbehave("halfthink").is_some() {
        "the template opened this block; the user wants brevity</think>Spark is fast.".into()
    } else if misbehave("long").is_some() {
        "This is a long answer sentence that goes on. ".repeat(12)
    } else if let Some(chars) = misbehave("huge") {
        "All work and no play. ".repeat(chars.parse::<usize>().unwrap_or(1000) / 22 + 1)
    } else {
        format!("Answer to: {}", last.lines().last().unwrap_or(""))
    };
    let (status, body) = match format {
        Format::Agent => agent_answer(&request, &content),
        Format::Chat => chat_answer(server, &request, &content),
    };
    if !cut {
        return json_answer(status, body);
    }
    let mut body = body;
    match format {
        Format::Agent => {
            body["status"] = json!("incomplete");
            body["incomplete_details"] = json!({"reason": "max_output_tokens"});
        }
        Format::Chat => body["choices"][0]["finish_reason"] = json!("length"),
    }
    json_answer(status, body)
}

/// What each server refuses before any work, in its own words and body shape.
fn server_rules(server: Server, request: &Value) -> Result<(), Answer> {
    let model = request["model"].as_str().unwrap_or_default();
    let has_images = request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .any(|part| part["type"] == "image_url");
    match server {
        Server::Perplexity => Ok(()),
        Server::OpenAi => {
            const FIELDS: [&str; 8] = [
                "model",
                "messages",
                "max_tokens",
                "max_completion_tokens",
                "temperature",
                "tools",
                "tool_choice",
                "stream",
            ];
            let openai_400 = |message: String, param: &str, code: &str| {
                json_answer(
                    400,
                    json!({"error": {"message": message, "type": "invalid_request_error",
                        "param": param, "code": code}}),
                )
            };
            if let Some(unknown) = request
                .as_object()
                .and_then(|o| o.keys().find(|k| !FIELDS.contains(&k.as_str())))
            {
                return Err(openai_400(
                    format!("Unrecognized request argument supplied: {unknown}"),
                    unknown,
                    "unknown_parameter",
                ));
            }
            let reasoning = model.starts_with('o') || model.starts_with("gpt-5");
            if reasoning && request.get("max_tokens").is_some() {
                return Err(openai_400(
                    "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.".into(),
                    "max_tokens",
                    "unsupported_parameter",
                ));
            }
            if let Some(t) = request["temperature"].as_f64()
                && reasoning
                && t != 1.0
            {
                return Err(openai_400(
                    format!(
                        "Unsupported value: 'temperature' does not support {t} with this model. Only the default (1) value is supported."
                    ),
                    "temperature",
                    "unsupported_value",
                ));
            }
            Ok(())
        }
        Server::LlamaCpp if has_images => Err(json_answer(
            500,
            json!({"error": {"code": 500, "message": "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj", "type": "server_error"}}),
        )),
        Server::LlamaCpp => Ok(()),
        Server::Ollama if model != LOCAL_MODEL => Err(json_answer(
            404,
            json!({"error": {"message": format!("model \"{model}\" not found, try pulling it first"), "type": "api_error", "param": null, "code": null}}),
        )),
        Server::Ollama if has_images => Err(json_answer(
            500,
            json!({"error": {"message": "this model is missing data required for image input", "type": "api_error", "param": null, "code": null}}),
        )),
        Server::Ollama => Ok(()),
        Server::Vllm if model != LOCAL_MODEL => Err(json_answer(
            404,
            json!({"object": "error", "message": format!("The model `{model}` does not exist."), "type": "NotFoundError", "param": null, "code": 404}),
        )),
        Server::Vllm if has_images => Err(json_answer(
            400,
            json!({"object": "error", "message": format!("{model} is not a multimodal model None"), "type": "BadRequestError", "param": null, "code": 400}),
        )),
        Server::Vllm => Ok(()),
    }
}

/// The Agent API's input rules, as (role, content) objects; or its refusal.
fn agent_input(request: &Value) -> Result<Vec<Value>, Answer> {
    let Some(fields) = request.as_object() else {
        return Err(invalid("invalid request body: not an object"));
    };
    if let Some(unknown) = fields.keys().find(|k| !AGENT_FIELDS.contains(&k.as_str())) {
        return Err(json_answer(
            400,
            json!({"error": {"message": format!("invalid request body: json: unknown field \"{unknown}\""),
                "type": "invalid_request", "code": 400, "param": unknown}}),
        ));
    }
    if ["model", "models", "preset", "effort"]
        .iter()
        .all(|f| request.get(f).is_none())
    {
        return Err(invalid("model, models, preset or effort is required"));
    }
    let Some(items) = request["input"].as_array() else {
        return Err(invalid("input is required"));
    };
    let mut messages = Vec::new();
    for item in items {
        let role = item["role"].as_str().unwrap_or_default();
        if item["type"] != "message"
            || !["user", "assistant", "system", "developer"].contains(&role)
        {
            return Err(invalid(&format!("invalid input item: {item}")));
        }
        let text = content_text(&item["content"], Format::Agent)
            .map_err(|why| invalid(&format!("invalid input item content: {why}")))?;
        messages.push(json!({"role": role, "content": text}));
    }
    if messages.last().map(|m| &m["role"]) != Some(&json!("user")) {
        return Err(invalid("the last input item must come from the user"));
    }
    Ok(messages)
}

/// Chat completions' messages with their content as text; or the refusal.
fn chat_messages(request: &Value) -> Result<Vec<Value>, Answer> {
    let Some(items) = request["messages"].as_array() else {
        return Err(invalid("messages is required"));
    };
    let mut messages = Vec::new();
    for item in items {
        let text = content_text(&item["content"], Format::Chat)
            .map_err(|why| invalid(&format!("invalid message content: {why}")))?;
        messages.push(json!({"role": item["role"], "content": text}));
    }
    Ok(messages)
}

/// A message's text: the string, or the text parts of a list whose image parts are
/// valid for `format`.
fn content_text(content: &Value, format: Format) -> Result<String, String> {
    if let Some(text) = content.as_str() {
        return Ok(text.to_string());
    }
    let parts = content
        .as_array()
        .filter(|p| !p.is_empty())
        .ok_or("content must be a string or a non-empty list of parts")?;
    let (text_type, image_type) = match format {
        Format::Agent => ("input_text", "input_image"),
        Format::Chat => ("text", "image_url"),
    };
    let mut texts = Vec::new();
    for part in parts {
        let kind = part["type"].as_str().unwrap_or_default();
        if kind == text_type {
            texts.push(part["text"].as_str().ok_or("a text part without text")?);
        } else if kind == image_type {
            let url = match format {
                Format::Agent => part["image_url"].as_str(),
                Format::Chat => part["image_url"]["url"].as_str(),
            }
            .ok_or("an image part without its URL in the documented place")?;
            if !url.starts_with("https://") {
                decode_data_uri(url)?;
            }
        } else {
            return Err(format!("unknown part type {kind:?}"));
        }
    }
    Ok(texts.join("\n"))
}

/// `data:image/png;base64,…` → (MIME type, bytes); only the image types the APIs take.
pub fn decode_data_uri(uri: &str) -> Result<(String, Vec<u8>), String> {
    use base64::Engine;
    let rest = uri.strip_prefix("data:").ok_or("not a data: URI")?;
    let (mime, data) = rest
        .split_once(";base64,")
        .ok_or("not a base64 data: URI")?;
    if !["image/png", "image/jpeg", "image/webp", "image/gif"].contains(&mime) {
        return Err(format!("unsupported image type {mime:?}"));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| format!("invalid base64: {e}"))?;
    Ok((mime.to_string(), bytes))
}

/// The text of a message's content, string or parts.
fn text_of(content: &Value) -> String {
    content_text(content, Format::Agent)
        .or_else(|_| content_text(content, Format::Chat))
        .unwrap_or_default()
}

fn agent_answer(request: &Value, content: &str) -> (u16, Value) {
    let served = request["model"].as_str().unwrap_or("openai/gpt-5-mini");
    (
        200,
        json!({
            "id": "resp_1", "object": "response", "created_at": 1, "status": "completed",
            "model": served,
            "output": [
                {"type": "search_results", "queries": ["q"], "results": [
                    {"id": 1, "url": "https://example.com/source", "title": "Source", "snippet": "s"},
                    {"id": 2, "url": "https://example.com/source", "title": "Same again", "snippet": "s"}]},
                {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": content, "annotations": []}]}
            ],
            "usage": {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18,
                      "cost": {"currency": "USD", "input_cost": 0.0001, "output_cost": 0.0001,
                               "tool_calls_cost": 0.005, "total_cost": AGENT_COST}}
        }),
    )
}

fn chat_answer(server: Server, request: &Value, content: &str) -> (u16, Value) {
    let mut message = json!({"role": "assistant", "content": content});
    // Local servers parse a reasoning model's thinking into a field of its own
    // (llama.cpp and vLLM `reasoning_content`, Ollama `reasoning`).
    match server {
        Server::LlamaCpp | Server::Vllm => {
            message["reasoning_content"] = json!("The user asks something; answer briefly.")
        }
        Server::Ollama => message["reasoning"] = json!("The user asks something."),
        Server::Perplexity | Server::OpenAi => {}
    }
    let mut answer = json!({
        "id": "cmpl-1", "model": request["model"], "object": "chat.completion", "created": 1,
        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    });
    if server == Server::Perplexity {
        answer["citations"] = json!(["https://example.com/source"]);
    }
    if server == Server::LlamaCpp {
        // llama.cpp names the file it serves, whatever the request said.
        answer["model"] = json!("qwen3-8b-q4_k_m.gguf");
    }
    (200, answer)
}

/// Optional system messages, then user/assistant alternating, starting and ending with
/// the user.
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
