//! Local stand-ins of Twilio's Messages API and Meta's Graph API (Cloud API), as strict
//! as the real services on what wabot uses: credentials, paths, fields, and the
//! documented error bodies (Twilio `{"code", "message", "more_info", "status"}`, Graph
//! `{"error": {"message", "type", "code", "error_data", "fbtrace_id"}}`).
//!
//! Recipients in `outside_window` are refused as the APIs refuse free-form messages
//! outside WhatsApp's 24-hour window: Twilio accepts and later reports 63016 (the test
//! posts that callback as Twilio would), the Cloud API answers 131047 at once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread;

use base64::Engine;
use serde_json::{Value, json};

use super::changes::Bell;

pub const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TWILIO_TOKEN: &str = "twilio-auth-token-0123";
pub const CLOUD_TOKEN: &str = "EAAG-cloud-token-0123";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const FROM: &str = "whatsapp:+14155238886";
pub const LOST_ANSWER: &str = "15550004444";

/// A file the stand-ins serve: Twilio's media URL path, or the Cloud API media id.
pub struct File {
    pub key: String,
    pub mimetype: String,
    pub bytes: Vec<u8>,
}

#[derive(Default)]
pub struct Seen {
    /// Accepted sends: the form (Twilio) or JSON body (Cloud API).
    pub sends: Vec<Value>,
    /// Read marks (Cloud API).
    pub reads: Vec<Value>,
    /// Every request refused, with the reason.
    pub refused: Vec<String>,
    /// Every send attempt, accepted or not.
    pub attempts: usize,
    pub downloads: usize,
}

pub struct Provider {
    pub url: String,
    pub seen: Arc<Mutex<Seen>>,
    /// Rung after every request changed `seen`.
    pub bell: Arc<Bell>,
}

impl Provider {
    pub fn start(outside_window: &[&str], files: Vec<File>) -> Self {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind loopback");
        let port = server.server_addr().to_ip().expect("ip").port();
        let url = format!("http://127.0.0.1:{port}");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state = Arc::clone(&seen);
        let window: HashSet<String> = outside_window.iter().map(|s| s.to_string()).collect();
        let base = url.clone();
        let bell = Arc::new(Bell::new());
        let rung = Arc::clone(&bell);
        thread::spawn(move || {
            let mut counter = 0;
            for mut request in server.incoming_requests() {
                counter += 1;
                let mut body = Vec::new();
                request.as_reader().read_to_end(&mut body).unwrap();
                let auth = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                let content_type = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Content-Type"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                let method = request.method().to_string();
                let path = request.url().to_string();
                let mut seen = state.lock().unwrap();
                let (status, mime, answer) = route(
                    &mut seen,
                    &window,
                    &files,
                    &base,
                    counter,
                    &method,
                    &path,
                    &auth,
                    &content_type,
                    &body,
                );
                drop(seen);
                rung.ring();
                let header =
                    tiny_http::Header::from_bytes("Content-Type", mime.as_bytes()).unwrap();
                let _ = request.respond(
                    tiny_http::Response::from_data(answer)
                        .with_status_code(status)
                        .with_header(header),
                );
            }
        });
        Self { url, seen, bell }
    }

    pub fn sends(&self) -> Vec<Value> {
        self.seen.lock().unwrap().sends.clone()
    }
}

fn twilio_error(code: u32, message: &str, status: u16) -> (u16, String, Vec<u8>) {
    let body = json!({
        "code": code, "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status,
    });
    (
        status,
        "application/json".into(),
        body.to_string().into_bytes(),
    )
}

fn graph_error(
    code: u32,
    message: &str,
    details: Option<&str>,
    status: u16,
) -> (u16, String, Vec<u8>) {
    let mut error = json!({
        "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf123",
    });
    if let Some(details) = details {
        error["error_data"] = json!({"messaging_product": "whatsapp", "details": details});
    }
    (
        status,
        "application/json".into(),
        json!({"error": error}).to_string().into_bytes(),
    )
}

#[allow(clippy::too_many_arguments)]
fn route(
    seen: &mut Seen,
    window: &HashSet<String>,
    files: &[File],
    base: &str,
    n: usize,
    method: &str,
    path: &str,
    auth: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TWILIO_TOKEN}"))
    );
    let bearer = format!("Bearer {CLOUD_TOKEN}");
    let mut refuse = |why: String, answer: (u16, String, Vec<u8>)| {
        seen.refused.push(why);
        answer
    };
    if path.starts_with("/2010-04-01/") {
        if auth != basic {
            return refuse(
                "twilio auth".into(),
                twilio_error(20003, "Authenticate", 401),
            );
        }
        let messages = format!("/2010-04-01/Accounts/{SID}/Messages.json");
        if method == "POST" && path == messages {
            seen.attempts += 1;
            if !content_type.starts_with("application/x-www-form-urlencoded") {
                return refuse(
                    "twilio content type".into(),
                    twilio_error(20001, "Unsupported content type", 400),
                );
            }
            let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
            let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let known = ["From", "To", "Body", "StatusCallback"];
            if let Some((k, _)) = form.iter().find(|(k, _)| !known.contains(&k.as_str())) {
                return refuse(
                    format!("twilio field {k}"),
                    twilio_error(20001, "Unknown parameter", 400),
                );
            }
            let to = get("To").unwrap_or_default();
            if get("From").as_deref() != Some(FROM) {
                return refuse(
                    "twilio From".into(),
                    twilio_error(
                        63007,
                        "Twilio could not find a Channel with the specified From address",
                        400,
                    ),
                );
            }
            if !to.starts_with("whatsapp:+") {
                return refuse(
                    "twilio To".into(),
                    twilio_error(21211, "The 'To' number is not a valid phone number.", 400),
                );
            }
            let text = get("Body").unwrap_or_default();
            if text.is_empty() || text.chars().count() > 1600 {
                return refuse(
                    "twilio Body".into(),
                    twilio_error(
                        21617,
                        "The concatenated message body exceeds the 1600 character limit.",
                        400,
                    ),
                );
            }
            if !get("StatusCallback").is_some_and(|u| u.starts_with("https://")) {
                return refuse(
                    "twilio StatusCallback".into(),
                    twilio_error(21609, "Invalid StatusCallback", 400),
                );
            }
            let sid = format!("SM{n:032x}");
            let mut sent = json!({});
            for (k, v) in &form {
                sent[k] = json!(v);
            }
            sent["sid"] = json!(sid);
            sent["outside_window"] = json!(window.contains(to.trim_start_matches("whatsapp:+")));
            seen.sends.push(sent);
            let answer =
                json!({"sid": sid, "status": "queued", "to": to, "from": FROM, "body": text});
            return (
                201,
                "application/json".into(),
                answer.to_string().into_bytes(),
            );
        }
        if method == "GET"
            && let Some(file) = files.iter().find(|f| f.key == path)
        {
            seen.downloads += 1;
            return (200, file.mimetype.clone(), file.bytes.clone());
        }
        return refuse(
            format!("twilio path {path}"),
            twilio_error(20404, "The requested resource was not found", 404),
        );
    }
    if auth != bearer {
        return refuse(
            "graph auth".into(),
            graph_error(190, "Invalid OAuth access token.", None, 401),
        );
    }
    let messages = format!("/v23.0/{PHONE_NUMBER_ID}/messages");
    if method == "POST" && path == messages {
        let Ok(json) = serde_json::from_slice::<Value>(body) else {
            return refuse(
                "graph json".into(),
                graph_error(100, "Invalid parameter", None, 400),
            );
        };
        if json["messaging_product"] != "whatsapp" {
            return refuse(
                "graph product".into(),
                graph_error(
                    100,
                    "Invalid parameter",
                    Some("messaging_product is required"),
                    400,
                ),
            );
        }
        if json.get("status").is_some() {
            let ok = json["status"] == "read"
                && json["message_id"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("wamid."));
            if !ok {
                return refuse(
                    "graph read".into(),
                    graph_error(131009, "Parameter value is not valid", None, 400),
                );
            }
            seen.reads.push(json);
            return (
                200,
                "application/json".into(),
                br#"{"success":true}"#.to_vec(),
            );
        }
        seen.attempts += 1;
        let to = json["to"]
            .as_str()
            .or(json["recipient"].as_str())
            .unwrap_or_default()
            .to_string();
        let text = json["text"]["body"].as_str().unwrap_or_default();
        if json["type"] != "text" || text.is_empty() || text.chars().count() > 4096 || to.is_empty()
        {
            return refuse(
                "graph text".into(),
                graph_error(100, "Invalid parameter", Some("text.body"), 400),
            );
        }
        if window.contains(&to) {
            return refuse(
                "graph window".into(),
                graph_error(
                    131047,
                    "(#131047) Re-engagement message",
                    Some(
                        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
                    ),
                    400,
                ),
            );
        }
        let wamid = format!("wamid.OUT{n}");
        let mut sent = json.clone();
        sent["wamid"] = json!(wamid);
        seen.sends.push(sent);
        if to == LOST_ANSWER {
            return (
                504,
                "text/html".into(),
                b"<html>Gateway Timeout</html>".to_vec(),
            );
        }
        let contact = if json.get("to").is_some() {
            json!({"input": to, "wa_id": to})
        } else {
            json!({"input": to, "user_id": to})
        };
        let answer = json!({"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]});
        return (
            200,
            "application/json".into(),
            answer.to_string().into_bytes(),
        );
    }
    if method == "GET" {
        let id = path.trim_start_matches("/v23.0/");
        if let Some(file) = files.iter().find(|f| f.key == id) {
            let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&file.bytes));
            let answer = json!({
                "messaging_product": "whatsapp", "url": format!("{base}/lookaside/{id}"),
                "mime_type": file.mimetype, "sha256": sha, "file_size": file.bytes.len(), "id": id,
            });
            return (
                200,
                "application/json".into(),
                answer.to_string().into_bytes(),
            );
        }
        if let Some(file) = path
            .strip_prefix("/lookaside/")
            .and_then(|id| files.iter().find(|f| f.key == id))
        {
            seen.downloads += 1;
            return (200, file.mimetype.clone(), file.bytes.clone());
        }
    }
    refuse(
        format!("graph path {path}"),
        graph_error(100, "Unsupported request", None, 400),
    )
}
