//! Twilio's WhatsApp API: signed form-encoded webhooks (messages and status callbacks)
//! in, `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` out.

use anyhow::Result;

use super::client::{Auth, Http};
use super::{Delivery, FailureKind, Headers, Inbound, Provider, Refusal, SendFailure, signature};
use crate::attachment::Remote;
use crate::config::{Config, Secret, TWILIO_AUTH_TOKEN, TWILIO_MAX_CHARS};
use crate::kind::MessageKind;
use crate::outbox::{DeliveryUpdate, OutboxRow};
use crate::outbox::{Sent, Transport};
use crate::{clock, error, jid};

/// The query parameter of the status callback URL that carries wabot's own id of the row,
/// so a callback recognises a send whose REST answer was lost.
const OWN_ID_PARAM: &str = "outbox";

pub struct Twilio {
    public_url: url::Url,
    auth_token: Secret,
    account_sid: String,
    from: String,
    base_url: String,
    max_bytes: u64,
    http: Http,
}

impl Twilio {
    pub fn new(config: &Config) -> Result<Self> {
        let t = &config.file.twilio;
        Ok(Self {
            public_url: super::public_url(config)?,
            auth_token: config.transport_secrets.require(TWILIO_AUTH_TOKEN)?.clone(),
            account_sid: t.account_sid.clone().unwrap_or_default(),
            from: t.from.clone().unwrap_or_default(),
            base_url: t.base_url.trim_end_matches('/').to_string(),
            max_bytes: super::max_bytes(config),
            http: Http::new(),
        })
    }

    /// The account's own number as a JID (the sender of wabot's messages).
    pub fn own_jid(&self) -> String {
        jid::normalize(self.from.trim_start_matches("whatsapp:")).unwrap_or_default()
    }

    fn auth(&self) -> Auth<'_> {
        Auth::Basic(&self.account_sid, self.auth_token.expose())
    }

    /// Where Twilio reports a message's status: the webhook URL with the row's own id.
    fn status_callback(&self, own_id: &str) -> String {
        let mut url = self.public_url.clone();
        url.query_pairs_mut().append_pair(OWN_ID_PARAM, own_id);
        url.to_string()
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

impl Provider for Twilio {
    fn get(&self, _query: &str) -> (u16, String) {
        (405, "Twilio's webhooks are POSTs\n".into())
    }

    fn read(
        &self,
        path_and_query: &str,
        headers: &Headers,
        body: &[u8],
    ) -> Result<Inbound, Refusal> {
        let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        let Some(given) = headers.get("x-twilio-signature") else {
            return Err(Refusal::Unsigned("no X-Twilio-Signature header"));
        };
        // Signed over the URL Twilio was given (from the configuration, never the Host
        // header) with the query it called.
        let [url, with_port] = signed_urls(&self.public_url, path_and_query);
        let token = self.auth_token.expose();
        if !signature::twilio_valid(token, &url, &params, given)
            && !signature::twilio_valid(token, &with_port, &params, given)
        {
            return Err(Refusal::Unsigned("X-Twilio-Signature does not match"));
        }
        if param(&params, "AccountSid").is_some_and(|sid| sid != self.account_sid) {
            return Err(Refusal::Malformed(
                "AccountSid is not twilio.account_sid".into(),
            ));
        }
        let sid = param(&params, "MessageSid")
            .or_else(|| param(&params, "SmsMessageSid"))
            .ok_or_else(|| Refusal::Malformed("no MessageSid".into()))?;
        let mut inbound = Inbound::default();
        match param(&params, "MessageStatus").filter(|s| *s != "received") {
            Some(status) => {
                let own_id = url::Url::parse(&url).ok().and_then(|u| {
                    u.query_pairs()
                        .find(|(k, _)| k == OWN_ID_PARAM)
                        .map(|(_, v)| v.into_owned())
                });
                if let Some(update) = status_update(sid, own_id, status, &params) {
                    inbound.statuses.push(update);
                }
            }
            None => match message(sid, &params) {
                Ok(m) => {
                    inbound.identities.extend(pairing(&params));
                    inbound.messages.push(m);
                }
                Err(Refusal::Malformed(why)) => inbound.unreadable.push(super::unreadable(
                    param(&params, "From").unwrap_or_default(),
                    sid,
                    why,
                    String::from_utf8_lossy(body).into_owned(),
                )),
                Err(refusal) => return Err(refusal),
            },
        }
        Ok(inbound)
    }

    fn ok(&self) -> (&'static str, &'static str) {
        // An empty TwiML answer: Twilio sends nothing back by itself.
        (
            "text/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
        )
    }
}

/// The sender's business-scoped user id beside their number, when Twilio names both,
/// so a person configured by number keeps one chat when a later message comes with the
/// BSUID alone. Twilio passes Meta's BSUID as `ExternalUserId` (the parent BSUID as
/// `ParentExternalUserId`), as Chatwoot's Twilio integration reads it (chatwoot
/// #13837); the value is accepted with or without the `whatsapp:` prefix.
fn pairing(params: &[(String, String)]) -> Option<(String, String)> {
    let bsuid = param(params, "ExternalUserId")
        .map(|b| b.trim_start_matches("whatsapp:"))
        .filter(|b| jid::is_bsuid(b))?;
    let phone = param(params, "WaId")
        .or_else(|| param(params, "From").map(|f| f.trim_start_matches("whatsapp:")))
        .filter(|f| !jid::is_bsuid(f))
        .and_then(|f| jid::normalize(f).ok())?;
    Some((format!("{bsuid}@{}", jid::BSUID_SERVER), phone))
}

fn message(sid: &str, params: &[(String, String)]) -> Result<crate::message::NewMessage, Refusal> {
    let from = param(params, "WaId")
        .or_else(|| param(params, "From").map(|f| f.trim_start_matches("whatsapp:")))
        .or_else(|| param(params, "ExternalUserId").map(|f| f.trim_start_matches("whatsapp:")))
        .ok_or_else(|| Refusal::Malformed("no From".into()))?;
    // A user with a WhatsApp username may come as a business-scoped id
    // (`whatsapp:US.1349…`) instead of a phone number.
    let chat = if jid::is_bsuid(from) {
        format!("{from}@{}", jid::BSUID_SERVER)
    } else {
        jid::normalize(from)
            .map_err(|e| Refusal::Malformed(format!("From: {}", error::bounded(&e, 100))))?
    };
    let body = param(params, "Body").unwrap_or_default();
    let media_count: usize = param(params, "NumMedia")
        .map(|n| n.parse())
        .transpose()
        .map_err(|_| Refusal::Malformed("NumMedia is not a number".into()))?
        .unwrap_or(0);
    let media = (media_count > 0)
        .then(|| param(params, "MediaUrl0"))
        .flatten()
        .map(|url| super::Attachment {
            kind: super::Attachment::kind_of(param(params, "MediaContentType0")),
            mimetype: param(params, "MediaContentType0").map(str::to_string),
            caption: (!body.is_empty()).then(|| body.to_string()),
            file_name: None,
            sha256: None,
            voice: false,
            remote: Remote::Twilio {
                url: url.to_string(),
            },
        });
    let location = param(params, "Latitude").zip(param(params, "Longitude"));
    let mut m = super::new_message(
        &chat,
        sid,
        body,
        clock::now_ms(),
        param(params, "ProfileName"),
    );
    if let Some(attachment) = media {
        attachment.attach(&mut m);
    } else if let Some((lat, lon)) = location {
        m.message_type = MessageKind::Location;
        let place = param(params, "Address").or(param(params, "Label"));
        m.content = format!("[location] {} ({lat}, {lon})", place.unwrap_or_default());
    }
    if media_count > 1 {
        m.kept
            .notes
            .push(format!("{} more attachments not kept", media_count - 1));
    }
    Ok(m)
}

fn status_update(
    sid: &str,
    own_id: Option<String>,
    status: &str,
    params: &[(String, String)],
) -> Option<DeliveryUpdate> {
    let delivery = match status {
        "accepted" | "queued" | "sending" | "sent" => Delivery::Accepted,
        "delivered" => Delivery::Delivered,
        "read" => Delivery::Read,
        "failed" | "undelivered" | "canceled" => Delivery::Failed,
        other => {
            log::debug!("Twilio status {other:?} of {sid} ignored");
            return None;
        }
    };
    let code = param(params, "ErrorCode").map(str::to_string);
    let error = (delivery == Delivery::Failed).then(|| {
        let code = code.as_deref().unwrap_or("none");
        let said = param(params, "ErrorMessage").unwrap_or("no explanation given");
        super::explain(
            code,
            &format!("Twilio reported {status} (error {code}): {said}"),
        )
    });
    Some(DeliveryUpdate {
        provider_id: Some(sid.to_string()),
        own_id,
        delivery,
        error_code: code,
        error,
        at: clock::now_ms(),
    })
}

/// The URL a request was signed over, without its port and with it: Twilio may sign
/// either (a console URL with `:443`, or none), and its own validators try both
/// (twilio-python's `RequestValidator.validate`: `remove_port`, `add_port`).
fn signed_urls(public: &url::Url, path_and_query: &str) -> [String; 2] {
    let scheme = public.scheme();
    let host = match public.host() {
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        Some(host) => host.to_string(),
        None => String::new(),
    };
    let with_port = match public.port_or_known_default() {
        Some(port) => format!("{scheme}://{host}:{port}{path_and_query}"),
        None => format!("{scheme}://{host}{path_and_query}"),
    };
    [format!("{scheme}://{host}{path_and_query}"), with_port]
}

impl Transport for Twilio {
    fn name(&self) -> &'static str {
        "Twilio"
    }

    fn send(&mut self, row: &OutboxRow) -> Result<Sent, SendFailure> {
        self.post(row)
            .map(|provider_id| Sent::Accepted { provider_id })
    }
}

impl Twilio {
    /// Sends one row; returns the provider's id of the message.
    fn post(&mut self, row: &OutboxRow) -> Result<String, SendFailure> {
        let final_ = |message: String| SendFailure {
            code: None,
            message,
            kind: FailureKind::Final,
        };
        let to = match (jid::phone(&row.chat_jid), jid::kind(&row.chat_jid)) {
            (Some(phone), _) => format!("whatsapp:+{phone}"),
            (None, Some(jid::JidKind::Bsuid)) => {
                format!(
                    "whatsapp:{}",
                    row.chat_jid.split('@').next().unwrap_or_default()
                )
            }
            _ => {
                return Err(final_(format!(
                    "{} is neither a phone number nor a business-scoped user id",
                    row.chat_jid
                )));
            }
        };
        if row.content.chars().count() > TWILIO_MAX_CHARS {
            return Err(final_(format!(
                "longer than Twilio's {TWILIO_MAX_CHARS} characters (queued before the transport changed?)"
            )));
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base_url, self.account_sid
        );
        let callback = self.status_callback(&row.message_id);
        let form = [
            ("From", self.from.as_str()),
            ("To", to.as_str()),
            ("Body", row.content.as_str()),
            ("StatusCallback", callback.as_str()),
        ];
        let answer = self
            .http
            .post_form(&url, &self.auth(), &form)
            .map_err(|e| SendFailure {
                code: None,
                message: e,
                kind: FailureKind::Unknown,
            })?;
        let json = answer.json();
        let field = |name: &str| {
            json.as_ref()
                .and_then(|j| j.get(name))
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        };
        if answer.ok() {
            return field("sid").ok_or_else(|| SendFailure {
                code: None,
                message: format!("HTTP {} without a message sid", answer.status),
                kind: FailureKind::Unknown,
            });
        }
        // Twilio's error body: {"code": 21211, "message": "…", "more_info": "…", "status": 400}
        let code = field("code");
        let text = field("message").unwrap_or_else(|| "no explanation given".into());
        let mut failure = answer.failure(code.clone(), text, TWILIO_AUTH_TOKEN);
        if let Some(code) = code.as_deref().filter(|c| super::outside_window(c)) {
            failure.kind = FailureKind::Final;
            failure.message = super::explain(code, &failure.message);
        }
        Err(failure)
    }
}

impl super::Api for Twilio {
    fn mark_read(&mut self, _message_id: &str) {}
}

impl Twilio {
    /// The bytes of a received file, named by the provider's reference.
    pub fn fetch(&mut self, remote: Option<&Remote>, message_id: &str) -> Result<Vec<u8>> {
        let Some(Remote::Twilio { url }) = remote else {
            anyhow::bail!("message {} has no Twilio media URL", message_id);
        };
        // The account's credentials go only to the configured API.
        if !url.starts_with(&format!("{}/", self.base_url)) {
            anyhow::bail!(
                "the media URL of {} is not under twilio.base_url",
                message_id
            );
        }
        super::download(&self.http, url, &self.auth(), message_id, self.max_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_signed_url_is_tried_with_and_without_its_port() {
        let path = "/hooks/whatsapp?x=1";
        for (public, without, with) in [
            (
                "https://bot.example.com/hooks",
                "https://bot.example.com/hooks/whatsapp?x=1",
                "https://bot.example.com:443/hooks/whatsapp?x=1",
            ),
            (
                "https://bot.example.com:443/hooks",
                "https://bot.example.com/hooks/whatsapp?x=1",
                "https://bot.example.com:443/hooks/whatsapp?x=1",
            ),
            (
                "http://[::1]:8080/",
                "http://[::1]/hooks/whatsapp?x=1",
                "http://[::1]:8080/hooks/whatsapp?x=1",
            ),
        ] {
            let public = url::Url::parse(public).unwrap();
            assert_eq!(signed_urls(&public, path), [without, with], "{public}");
        }
    }

    #[test]
    fn a_message_becomes_a_row_of_its_sender_s_chat() {
        let m = message(
            "SM1",
            &form(&[
                ("From", "whatsapp:+15550001111"),
                ("Body", "hi"),
                ("ProfileName", "Alice"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (
                m.chat_jid.as_str(),
                m.content.as_str(),
                m.push_name.as_deref()
            ),
            ("15550001111@s.whatsapp.net", "hi", Some("Alice"))
        );
        let by_username = message(
            "SM2",
            &form(&[("From", "whatsapp:US.13491208655302741918"), ("Body", "hi")]),
        )
        .unwrap();
        assert_eq!(by_username.chat_jid, "US.13491208655302741918@bsuid");
        assert_eq!(
            pairing(&form(&[
                ("From", "whatsapp:+15550001111"),
                ("ExternalUserId", "US.13491208655302741918"),
            ])),
            Some((
                "US.13491208655302741918@bsuid".to_string(),
                "15550001111@s.whatsapp.net".to_string()
            )),
            "the pairing a later BSUID-only message is stored by"
        );
        assert_eq!(
            pairing(&form(&[("From", "whatsapp:US.13491208655302741918")])),
            None
        );
        let voice = message(
            "MM3",
            &form(&[
                ("From", "whatsapp:+15550001111"),
                ("NumMedia", "1"),
                ("MediaUrl0", "https://api.twilio.com/x"),
                ("MediaContentType0", "audio/ogg"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (voice.message_type.as_str(), voice.content.as_str()),
            ("audio", "[audio]")
        );
        for bad in [
            &[("Body", "no sender")][..],
            &[("From", "whatsapp:+12"), ("Body", "x")][..],
            &[("From", "whatsapp:+15550001111"), ("NumMedia", "many")][..],
        ] {
            assert!(matches!(
                message("SM4", &form(bad)),
                Err(Refusal::Malformed(_))
            ));
        }
    }
}
