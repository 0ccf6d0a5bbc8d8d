//! Which way wabot talks to WhatsApp (`transport`), and the settings and secrets of the
//! two official APIs: Twilio's WhatsApp API and Meta's WhatsApp Cloud API.

use std::net::SocketAddr;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::values::Secret;
use crate::error;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// A linked device of the owner's account (the WhatsApp Web protocol).
    #[default]
    WhatsappWeb,
    /// Twilio's WhatsApp API: webhooks in, REST out.
    Twilio,
    /// Meta's WhatsApp Cloud API: webhooks in, Graph API out.
    CloudApi,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::WhatsappWeb => "whatsapp-web",
            Transport::Twilio => "twilio",
            Transport::CloudApi => "cloud-api",
        }
    }

    /// The environment variables this transport's secrets come from.
    pub fn secret_names(self) -> &'static [&'static str] {
        match self {
            Transport::WhatsappWeb => &[],
            Transport::Twilio => &[TWILIO_AUTH_TOKEN],
            Transport::CloudApi => &[
                WHATSAPP_CLOUD_TOKEN,
                WHATSAPP_APP_SECRET,
                WHATSAPP_VERIFY_TOKEN,
            ],
        }
    }
}

/// Twilio's limit on a WhatsApp message body.
pub const TWILIO_MAX_CHARS: usize = 1600;
/// The Cloud API's limit on a text message body.
pub const CLOUD_API_MAX_CHARS: usize = 4096;

pub const TWILIO_AUTH_TOKEN: &str = "TWILIO_AUTH_TOKEN";
pub const WHATSAPP_CLOUD_TOKEN: &str = "WHATSAPP_CLOUD_TOKEN";
pub const WHATSAPP_APP_SECRET: &str = "WHATSAPP_APP_SECRET";
pub const WHATSAPP_VERIFY_TOKEN: &str = "WHATSAPP_VERIFY_TOKEN";

/// The webhook server `wabot listen` runs on the official transports.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSection {
    /// Address and port to bind; meant to sit behind a TLS reverse proxy.
    pub listen: String,
    /// The URL the provider calls (`https://bot.example.com/whatsapp`): the server answers
    /// on its path, and Twilio's signatures are computed over it.
    pub public_url: Option<String>,
    /// Larger request bodies are refused with 413.
    pub max_body_bytes: i64,
}

impl Default for WebhookSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            max_body_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwilioSection {
    /// `AC` and 32 hex digits.
    pub account_sid: Option<String>,
    /// The sender, `whatsapp:+E164`.
    pub from: Option<String>,
    pub base_url: String,
}

impl Default for TwilioSection {
    fn default() -> Self {
        Self {
            account_sid: None,
            from: None,
            base_url: "https://api.twilio.com".into(),
        }
    }
}

/// What the listener tells a sender whose message became a turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkRead {
    #[default]
    Off,
    /// Blue ticks as soon as the message is stored.
    Read,
    /// Blue ticks and "typing…" (WhatsApp shows it up to 25 s, or until the reply).
    Typing,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudApiSection {
    /// The business phone number's id (digits), from the app's WhatsApp settings.
    pub phone_number_id: Option<String>,
    /// The Graph API version, `vNN.N`.
    pub api_version: String,
    pub base_url: String,
    pub mark_read: MarkRead,
}

impl Default for CloudApiSection {
    fn default() -> Self {
        Self {
            phone_number_id: None,
            api_version: "v23.0".into(),
            base_url: "https://graph.facebook.com".into(),
            mark_read: MarkRead::Off,
        }
    }
}

/// The secrets of the configured transport that were found (environment or `.env`).
#[derive(Debug, Default)]
pub struct TransportSecrets {
    found: Vec<(&'static str, Secret)>,
}

impl TransportSecrets {
    pub fn load(transport: Transport, secret: super::SecretLookup) -> Result<Self> {
        let mut found = Vec::new();
        for name in transport.secret_names() {
            if let Some(value) = secret(name)? {
                found.push((*name, Secret::new(value)));
            }
        }
        Ok(Self { found })
    }

    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.found.iter().find(|(n, _)| *n == name).map(|(_, s)| s)
    }

    /// The secret, or a configuration error naming its variable.
    pub fn require(&self, name: &str) -> Result<&Secret> {
        self.get(name).ok_or_else(|| {
            error::config(format!(
                "{name} is not set: put it in the environment or in a .env file beside app.json"
            ))
        })
    }
}

/// A URL setting that must be absolute `http(s)`.
fn http_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("{text:?} is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{text:?} must be an http:// or https:// URL"));
    }
    Ok(url)
}

/// Checks the transport's settings; problems are pushed as `field: message`.
pub fn validate(
    transport: Transport,
    webhook: &WebhookSection,
    twilio: &TwilioSection,
    cloud: &CloudApiSection,
    own_number: Option<&str>,
    problems: &mut Vec<String>,
) {
    let mut check = |ok: bool, field: &str, message: String| {
        if !ok {
            problems.push(format!("{field}: {message}"));
        }
    };
    check(
        webhook.listen.parse::<SocketAddr>().is_ok(),
        "webhook.listen",
        format!(
            "{:?} is not an address and port such as \"127.0.0.1:8080\"",
            webhook.listen
        ),
    );
    check(
        (1024..=64 * 1024 * 1024).contains(&webhook.max_body_bytes),
        "webhook.max_body_bytes",
        format!(
            "must be between 1024 and 67108864 bytes (64 MiB), got {}",
            webhook.max_body_bytes
        ),
    );
    for (field, value) in [
        ("twilio.base_url", &twilio.base_url),
        ("cloud_api.base_url", &cloud.base_url),
    ] {
        if let Err(e) = http_url(value) {
            check(false, field, e);
        }
    }
    let version_ok = cloud
        .api_version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| digits(major) && digits(minor));
    check(
        version_ok,
        "cloud_api.api_version",
        format!(
            "{:?} is not a Graph API version such as \"v23.0\"",
            cloud.api_version
        ),
    );
    if transport == Transport::WhatsappWeb {
        return;
    }
    match webhook.public_url.as_deref().map(http_url) {
        None => check(
            false,
            "webhook.public_url",
            format!(
                "is required with transport {:?}: the URL the provider calls",
                transport.name()
            ),
        ),
        Some(Err(e)) => check(false, "webhook.public_url", e),
        Some(Ok(_)) => {}
    }
    if transport == Transport::Twilio {
        let sid_ok = twilio.account_sid.as_deref().is_some_and(|s| {
            s.len() == 34 && s.starts_with("AC") && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
        });
        check(
            sid_ok,
            "twilio.account_sid",
            "is required with transport \"twilio\": \"AC\" and 32 hex digits (Twilio Console → Account info)".into(),
        );
        let from_ok = twilio
            .from
            .as_deref()
            .and_then(|f| f.strip_prefix("whatsapp:+"))
            .is_some_and(|d| (6..=15).contains(&d.len()) && digits(d));
        check(
            from_ok,
            "twilio.from",
            "is required with transport \"twilio\": the WhatsApp sender as \"whatsapp:+E164\" (e.g. \"whatsapp:+14155238886\")".into(),
        );
    }
    if transport == Transport::CloudApi {
        check(
            cloud.phone_number_id.as_deref().is_some_and(digits),
            "cloud_api.phone_number_id",
            "is required with transport \"cloud-api\": the business phone number's id (digits, from the app's WhatsApp → API setup page)".into(),
        );
        // Twilio's sender is `twilio.from`; the Cloud API names no number of its own.
        check(
            own_number.is_some_and(|n| !n.trim().is_empty()),
            "whatsapp.phone_number",
            "is required with transport \"cloud-api\": the business number, the sender of the replies wabot stores".into(),
        );
    }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}
