//! A local stand-in for OpenAI's `POST /v1/audio/transcriptions`, as strict as the
//! real one: `multipart/form-data` only, a `file` part with a file name whose content
//! is an Ogg container (what WhatsApp's voice notes are), a `model` part, only the
//! documented fields, `response_format` `json` (or absent); answers `{"text": …}`, and
//! OpenAI's error bodies (401 for a wrong key, 400 naming the bad field, 429 with
//! `Retry-After`, 500).

use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::{Value, json};

pub const KEY: &str = "sk-transcribe-test-0123456789";
/// What the fixture voice note (`tests/fixtures/voice-note.ogg`) says.
pub const SPOKEN: &str = "The tea is ready at five o'clock.";

/// The fields OpenAI documents for this endpoint.
const FIELDS: [&str; 10] = [
    "file",
    "model",
    "language",
    "prompt",
    "response_format",
    "temperature",
    "timestamp_granularities[]",
    "chunking_strategy",
    "include[]",
    "stream",
];

/// How the stand-in behaves.
#[derive(Clone, Copy, PartialEq)]
pub enum Mode {
    Works,
    /// Every request gets a 500.
    Fails,
    /// Every request gets a 429 with this `Retry-After`.
    RateLimited(u32),
}

#[derive(Default)]
struct State {
    /// Each accepted request: its text fields and the file's name and bytes.
    requests: Vec<Request>,
    /// Requests that reached the endpoint at all (accepted or not).
    calls: usize,
}

#[derive(Clone, Debug)]
pub struct Request {
    pub fields: Vec<(String, String)>,
    pub file_name: String,
    pub file: Vec<u8>,
}

pub struct StandIn {
    /// The API root, as an OpenAI client takes it (`…/v1`).
    pub url: String,
    state: Arc<Mutex<State>>,
    mode: Arc<Mutex<Mode>>,
}

impl StandIn {
    pub fn start(mode: Mode) -> Self {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind loopback");
        let port = server.server_addr().to_ip().expect("ip address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let mode = Arc::new(Mutex::new(mode));
        let (shared, how) = (Arc::clone(&state), Arc::clone(&mode));
        thread::spawn(move || {
            for request in server.incoming_requests() {
                let state = Arc::clone(&shared);
                let how = *how.lock().unwrap();
                thread::spawn(move || handle(request, &state, how));
            }
        });
        Self {
            url: format!("http://127.0.0.1:{port}/v1"),
            state,
            mode,
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// The requests that were transcribed.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Every request that reached the endpoint, failed ones included.
    pub fn calls(&self) -> usize {
        self.state.lock().unwrap().calls
    }
}

type Answer = (u16, Value, Vec<(&'static str, String)>);

fn error(status: u16, message: &str, kind: &str, param: Option<&str>) -> Answer {
    (
        status,
        json!({"error": {"message": message, "type": kind, "param": param, "code": null}}),
        vec![],
    )
}

fn handle(mut request: tiny_http::Request, state: &Mutex<State>, mode: Mode) {
    let header = |name: &'static str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
    };
    let auth = header("Authorization");
    let content_type = header("Content-Type").unwrap_or_default();
    let path = request.url().to_string();
    let method = request.method().to_string();
    let mut body = Vec::new();
    let _ = request.as_reader().read_to_end(&mut body);
    state.lock().unwrap().calls += 1;
    let (status, answer, headers) = answer(
        &method,
        &path,
        auth.as_deref(),
        &content_type,
        &body,
        state,
        mode,
    );
    let mut response = tiny_http::Response::from_string(answer.to_string())
        .with_status_code(status)
        .with_header(tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap());
    for (name, value) in headers {
        response.add_header(tiny_http::Header::from_bytes(name, value).unwrap());
    }
    let _ = request.respond(response);
}

fn answer(
    method: &str,
    path: &str,
    auth: Option<&str>,
    content_type: &str,
    body: &[u8],
    state: &Mutex<State>,
    mode: Mode,
) -> Answer {
    if method != "POST" || path != "/v1/audio/transcriptions" {
        return error(
            404,
            &format!("Invalid URL ({method} {path})"),
            "invalid_request_error",
            None,
        );
    }
    if auth != Some(&format!("Bearer {KEY}")) {
        return error(
            401,
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            None,
        );
    }
    match mode {
        Mode::Works => {}
        Mode::Fails => {
            return error(
                500,
                "The server had an error while processing your request.",
                "server_error",
                None,
            );
        }
        Mode::RateLimited(secs) => {
            let (status, body, _) = error(429, "Rate limit reached for requests", "requests", None);
            return (status, body, vec![("Retry-After", secs.to_string())]);
        }
    }
    let Some(boundary) = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .filter(|b| !b.is_empty())
    else {
        return error(
            400,
            "Expected multipart/form-data",
            "invalid_request_error",
            None,
        );
    };
    let Some(parts) = parse(body, boundary) else {
        return error(
            400,
            "Could not parse multipart form",
            "invalid_request_error",
            None,
        );
    };
    let mut request = Request {
        fields: Vec::new(),
        file_name: String::new(),
        file: Vec::new(),
    };
    for part in parts {
        if !FIELDS.contains(&part.name.as_str()) {
            return error(
                400,
                &format!("Unrecognized request argument supplied: {}", part.name),
                "invalid_request_error",
                None,
            );
        }
        match (part.name.as_str(), part.file_name) {
            ("file", Some(name)) => {
                request.file_name = name;
                request.file = part.bytes;
            }
            ("file", None) => {
                return error(
                    400,
                    "file must be a file upload",
                    "invalid_request_error",
                    Some("file"),
                );
            }
            (name, _) => request.fields.push((
                name.to_string(),
                String::from_utf8_lossy(&part.bytes).into_owned(),
            )),
        }
    }
    let field = |name: &str| {
        request
            .fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    if request.file.is_empty() {
        return error(
            400,
            "you must provide a file",
            "invalid_request_error",
            Some("file"),
        );
    }
    let ogg_name = [".ogg", ".oga", ".opus"]
        .iter()
        .any(|ext| request.file_name.ends_with(ext));
    if !request.file.starts_with(b"OggS") || !ogg_name {
        return error(
            400,
            "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']",
            "invalid_request_error",
            Some("file"),
        );
    }
    if field("model").is_none_or(|m| m.is_empty()) {
        return error(
            400,
            "you must provide a model parameter",
            "invalid_request_error",
            Some("model"),
        );
    }
    if field("response_format").is_some_and(|f| f != "json") {
        return error(
            400,
            "this stand-in answers response_format json only",
            "invalid_request_error",
            Some("response_format"),
        );
    }
    state.lock().unwrap().requests.push(request);
    (
        200,
        json!({"text": SPOKEN, "usage": {"type": "duration", "seconds": 2}}),
        vec![],
    )
}

struct Part {
    name: String,
    file_name: Option<String>,
    bytes: Vec<u8>,
}

/// RFC 7578 parts; `None` for a body that is not framed by the boundary.
fn parse(body: &[u8], boundary: &str) -> Option<Vec<Part>> {
    let delimiter = format!("--{boundary}");
    let mut sections = split(body, delimiter.as_bytes());
    if !sections.first()?.is_empty() {
        return None;
    }
    sections.remove(0);
    let last = sections.pop()?;
    if !last.starts_with(b"--") {
        return None;
    }
    let mut parts = Vec::new();
    for section in sections {
        let section = section.strip_prefix(b"\r\n")?.strip_suffix(b"\r\n")?;
        let end = section.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&section[..end]).into_owned();
        let disposition = head.lines().find(|l| {
            l.to_ascii_lowercase()
                .starts_with("content-disposition: form-data")
        })?;
        let param = |key: &str| {
            let start = disposition.find(&format!("; {key}=\""))? + key.len() + 4;
            let rest = &disposition[start..];
            Some(rest[..rest.find('"')?].to_string())
        };
        parts.push(Part {
            name: param("name")?,
            file_name: param("filename"),
            bytes: section[end + 4..].to_vec(),
        });
    }
    Some(parts)
}

fn split<'a>(body: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.windows(delimiter.len()).position(|w| w == delimiter) {
        out.push(&rest[..at]);
        rest = &rest[at + delimiter.len()..];
    }
    out.push(rest);
    out
}
