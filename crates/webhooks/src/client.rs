//! The HTTP client both REST APIs share: bounded timeouts, every status read as data,
//! and errors that never carry a credential.

use std::time::Duration;

use base64::Engine;

use super::{FailureKind, SendFailure};

const TIMEOUT: Duration = Duration::from_secs(30);

pub enum Auth<'a> {
    /// Twilio: the account SID and the auth token.
    Basic(&'a str, &'a str),
    /// The Cloud API: the access token.
    Bearer(&'a str),
}

impl Auth<'_> {
    fn header(&self) -> String {
        match self {
            Auth::Basic(user, password) => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ),
            Auth::Bearer(token) => format!("Bearer {token}"),
        }
    }
}

/// What the API answered.
pub struct Answer {
    pub status: u16,
    pub retry_after_ms: Option<i64>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The failure for an error answer whose provider code and text were read from it:
    /// 429, 503 and refused credentials pass (the row is retried); 500, 502 and 504 are
    /// unknown (a gateway may have lost the answer to a send the provider took); the
    /// 24-hour window and other refusals are final.
    pub fn failure(&self, code: Option<String>, text: String, credential: &str) -> SendFailure {
        let passing = FailureKind::Passing {
            retry_after_ms: self.retry_after_ms,
        };
        let (kind, message) = match self.status {
            401 | 403 => (
                passing,
                format!(
                    "HTTP {}: {credential} was refused ({text}); the row is retried",
                    self.status
                ),
            ),
            500 | 502 | 504 => (
                FailureKind::Unknown,
                format!("HTTP {}: {text}", self.status),
            ),
            408 | 409 | 425 | 429 | 501..=599 => (passing, format!("HTTP {}: {text}", self.status)),
            _ => (FailureKind::Final, format!("HTTP {}: {text}", self.status)),
        };
        SendFailure {
            code,
            message,
            kind,
        }
    }
}

pub struct Http {
    agent: ureq::Agent,
}

impl Http {
    pub fn new() -> Self {
        let agent = wabot_http::agent(TIMEOUT);
        Self { agent }
    }

    pub fn post_form(
        &self,
        url: &str,
        auth: &Auth,
        form: &[(&str, &str)],
    ) -> Result<Answer, String> {
        let response = self
            .agent
            .post(url)
            .header("Authorization", auth.header())
            .header("Accept", "application/json")
            .send_form(form.iter().copied());
        read(response, MAX_ANSWER)
    }

    pub fn post_json(
        &self,
        url: &str,
        auth: &Auth,
        body: &serde_json::Value,
    ) -> Result<Answer, String> {
        let response = self
            .agent
            .post(url)
            .header("Authorization", auth.header())
            .send_json(body);
        read(response, MAX_ANSWER)
    }

    /// A GET whose body may be a file of up to `limit` bytes.
    pub fn get(&self, url: &str, auth: &Auth, limit: u64) -> Result<Answer, String> {
        let response = self
            .agent
            .get(url)
            .header("Authorization", auth.header())
            .call();
        read(response, limit)
    }
}

/// API answers (not files) are small; a larger one is not the API.
const MAX_ANSWER: u64 = 1024 * 1024;

fn read(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    limit: u64,
) -> Result<Answer, String> {
    let mut response = response.map_err(describe)?;
    let status = response.status().as_u16();
    let retry_after_ms = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(wabot_http::retry_after)
        .map(|d| d.as_millis() as i64);
    let body = response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(describe)?;
    Ok(Answer {
        status,
        retry_after_ms,
        body,
    })
}

/// The network error without the request (a URL never holds a secret here, but the
/// error stays short and plain).
fn describe(err: ureq::Error) -> String {
    match err {
        ureq::Error::Timeout(_) => format!("no answer within {} s", TIMEOUT.as_secs()),
        ureq::Error::BodyExceedsLimit(limit) => format!("the answer is larger than {limit} bytes"),
        other => format!("network: {other}"),
    }
}
