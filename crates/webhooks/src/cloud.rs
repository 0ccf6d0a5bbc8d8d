//! Meta's WhatsApp Cloud API: the verification handshake (GET), signed JSON webhooks
//! (`entry[].changes[].value.messages[]` / `statuses[]`), and the Graph API out
//! (`POST /{version}/{phone_number_id}/messages`, media ids → URL → file).

use anyhow::Result;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::client::{Auth, Http};
use super::{
    Attachment, Delivery, FailureKind, Headers, Inbound, Provider, Refusal, SendFailure, signature,
};
use crate::attachment::Remote;
use crate::config::{
    CLOUD_API_MAX_CHARS, Config, MarkRead, Secret, WHATSAPP_APP_SECRET, WHATSAPP_CLOUD_TOKEN,
    WHATSAPP_VERIFY_TOKEN,
};
use crate::kind::MessageKind;
use crate::message::NewMessage;
use crate::outbox::{DeliveryUpdate, OutboxRow};
use crate::outbox::{Sent, Transport};
use crate::{clock, jid};

pub struct Cloud {
    app_secret: Secret,
    verify_token: Secret,
    token: Secret,
    phone_number_id: String,
    /// `{base_url}/{api_version}`.
    api_root: String,
    mark_read: MarkRead,
    max_bytes: u64,
    http: Http,
}

impl Cloud {
    pub fn new(config: &Config) -> Result<Self> {
        let c = &config.file.cloud_api;
        let secrets = &config.transport_secrets;
        Ok(Self {
            app_secret: secrets.require(WHATSAPP_APP_SECRET)?.clone(),
            verify_token: secrets.require(WHATSAPP_VERIFY_TOKEN)?.clone(),
            token: secrets.require(WHATSAPP_CLOUD_TOKEN)?.clone(),
            phone_number_id: c.phone_number_id.clone().unwrap_or_default(),
            api_root: format!("{}/{}", c.base_url.trim_end_matches('/'), c.api_version),
            mark_read: c.mark_read,
            max_bytes: super::max_bytes(config),
            http: Http::new(),
        })
    }

    fn auth(&self) -> Auth<'_> {
        Auth::Bearer(self.token.expose())
    }

    fn messages_url(&self) -> String {
        format!("{}/{}/messages", self.api_root, self.phone_number_id)
    }
}

impl Provider for Cloud {
    fn get(&self, query: &str) -> (u16, String) {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let token_ok = get("hub.verify_token")
            .is_some_and(|t| bool::from(t.as_bytes().ct_eq(self.verify_token.expose().as_bytes())));
        match (get("hub.mode"), get("hub.challenge")) {
            (Some("subscribe"), Some(challenge)) if token_ok => (200, challenge.to_string()),
            _ => (403, "verification refused\n".into()),
        }
    }

    fn read(
        &self,
        _path_and_query: &str,
        headers: &Headers,
        body: &[u8],
    ) -> Result<Inbound, Refusal> {
        let Some(given) = headers.get("x-hub-signature-256") else {
            return Err(Refusal::Unsigned("no X-Hub-Signature-256 header"));
        };
        if !signature::cloud_valid(self.app_secret.expose(), body, given) {
            return Err(Refusal::Unsigned("X-Hub-Signature-256 does not match"));
        }
        let payload: Value = serde_json::from_slice(body)
            .map_err(|e| Refusal::Malformed(format!("not JSON: {e}")))?;
        if payload["object"] != "whatsapp_business_account" {
            return Err(Refusal::Malformed(
                "object is not \"whatsapp_business_account\"".into(),
            ));
        }
        let entries = payload["entry"]
            .as_array()
            .ok_or_else(|| Refusal::Malformed("no entry array".into()))?;
        let mut inbound = Inbound::default();
        let changes = entries
            .iter()
            .filter_map(|e| e["changes"].as_array())
            .flatten()
            .filter(|c| c["field"] == "messages");
        for change in changes {
            let value = &change["value"];
            let number = value["metadata"]["phone_number_id"].as_str();
            if number != Some(self.phone_number_id.as_str()) {
                log::warn!(
                    "a webhook for phone number id {:?} ignored: cloud_api.phone_number_id is {}",
                    number.map(bounded),
                    self.phone_number_id
                );
                continue;
            }
            let contacts = value["contacts"].as_array().map_or(&[][..], Vec::as_slice);
            inbound.identities.extend(super::bsuid::pairs(value));
            for m in value["messages"].as_array().into_iter().flatten() {
                if m["type"] == "system" {
                    // Not said by anyone: a change of number or BSUID, or a notice.
                    match super::bsuid::change(m) {
                        Some(change) => inbound.number_changes.push(change),
                        None => log::info!(
                            "a Cloud API system message ignored: {}",
                            bounded(&m["system"].to_string())
                        ),
                    }
                    continue;
                }
                if let Some(changed) = edit_or_revoke(m) {
                    match changed {
                        Ok(changed) => inbound.changes.push(changed),
                        Err(why) => log::warn!(
                            "a Cloud API {} was not applied: {why}",
                            bounded(&m["type"].to_string())
                        ),
                    }
                    continue;
                }
                match message(m, contacts) {
                    Ok(m) => inbound.messages.push(m),
                    Err(why) => {
                        let from = m["from"].as_str().or(m["from_user_id"].as_str());
                        inbound.unreadable.push(super::unreadable(
                            from.unwrap_or_default(),
                            m["id"].as_str().unwrap_or_default(),
                            why,
                            m.to_string(),
                        ));
                    }
                }
            }
            for s in value["statuses"].as_array().into_iter().flatten() {
                match status_update(s) {
                    Ok(update) => inbound.statuses.extend(update),
                    Err(why) => log::warn!("a Cloud API status was not applied: {why}"),
                }
            }
        }
        Ok(inbound)
    }

    fn ok(&self) -> (&'static str, &'static str) {
        ("text/plain", "")
    }
}

fn text_of(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// The sender: the phone number when given, else the business-scoped user id that Meta
/// sends for users with a username (in `from_user_id`, or in `from` itself).
fn sender(m: &Value) -> Result<String, String> {
    let bsuid = |id: &str| format!("{id}@{}", jid::BSUID_SERVER);
    let from = text_of(&m["from"]);
    if let Some(from) = from {
        if jid::is_bsuid(from) {
            return Ok(bsuid(from));
        }
        if let Ok(phone) = jid::normalize(from) {
            return Ok(phone);
        }
    }
    match (text_of(&m["from_user_id"]), from) {
        (Some(id), _) if jid::is_bsuid(id) => Ok(bsuid(id)),
        (Some(other), _) => Err(format!(
            "from_user_id {:?} is not a business-scoped user id",
            bounded(other)
        )),
        (None, Some(from)) => Err(format!(
            "from {:?} is neither a number nor a business-scoped user id",
            bounded(from)
        )),
        (None, None) => Err("neither from nor from_user_id".into()),
    }
}

/// A sender's words in a log line or an error, at most 64 characters of them.
fn bounded(text: &str) -> String {
    wabot_core::error::bounded(text, 64)
}

/// A message's instant: Meta sends Unix seconds as a string, some senders as a number.
fn seconds(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| text_of(v).and_then(|t| t.trim().parse().ok()))
        .and_then(|s| s.checked_mul(1000))
}

/// An `edit` or `revoke` of a message sent before, as the store applies it.
fn edit_or_revoke(m: &Value) -> Option<Result<wabot_core::inbound::Inbound, String>> {
    let kind = text_of(&m["type"])?;
    if kind != "edit" && kind != "revoke" {
        return None;
    }
    let body = &m[kind];
    Some((|| {
        let by = sender(m)?;
        let chat_jid = chat_of(m, &by)?;
        let id = ["original_message_id", "message_id", "id"]
            .iter()
            .find_map(|k| text_of(&body[*k]))
            .or_else(|| text_of(&m["context"]["id"]))
            .ok_or_else(|| format!("{kind} without the id of the message it changes"))?
            .to_string();
        let at = seconds(&m["timestamp"]).unwrap_or_else(clock::now_ms);
        Ok(if kind == "edit" {
            let inner = &body["message"];
            let content = text_of(&inner["text"]["body"])
                .or_else(|| text_of(&body["text"]["body"]))
                .or_else(|| text_of(&inner[text_of(&inner["type"]).unwrap_or("")]["caption"]))
                .ok_or("an edit without its new text")?
                .to_string();
            wabot_core::inbound::Inbound::Edit {
                chat_jid,
                id,
                content,
                by,
                at,
            }
        } else {
            wabot_core::inbound::Inbound::Revoke {
                chat_jid,
                id,
                by,
                at,
            }
        })
    })())
}

/// The chat a message belongs to: its group (Cloud API groups name one in `group_id`),
/// else the sender's own chat.
fn chat_of(m: &Value, sender: &str) -> Result<String, String> {
    match text_of(&m["group_id"]) {
        Some(group) => jid::normalize(&format!("{group}@{}", jid::GROUP_SERVER))
            .map_err(|e| format!("group_id {:?}: {e}", bounded(group))),
        None => Ok(sender.to_string()),
    }
}

/// A WhatsApp Flow's answer (`nfm_reply`): its `response_json` fields as `name: value`
/// lines (the flow token is the business's own bookkeeping, not what was said).
fn flow_answer(reply: &Value) -> Option<String> {
    let answers: Value =
        text_of(&reply["response_json"]).and_then(|j| serde_json::from_str(j).ok())?;
    let lines: Vec<String> = answers
        .as_object()?
        .iter()
        .filter(|(k, _)| k.as_str() != "flow_token")
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .collect();
    (!lines.is_empty()).then(|| format!("[form] {}", lines.join("\n")))
}

/// An order from the catalog, readable: each item's quantity, product and price, and
/// the buyer's note.
fn order_text(order: &Value) -> String {
    let items: Vec<String> = order["product_items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let product = text_of(&item["product_retailer_id"]).unwrap_or("?");
            let price = match (&item["item_price"], text_of(&item["currency"])) {
                (Value::Null, _) => String::new(),
                (price, Some(currency)) => format!(" at {price} {currency}"),
                (price, None) => format!(" at {price}"),
            };
            format!("{} × {product}{price}", item["quantity"])
        })
        .collect();
    let mut text = format!("[order] {}", items.join("; "));
    if let Some(note) = text_of(&order["text"]) {
        text.push_str(&format!(" — {note}"));
    }
    text
}

fn message(m: &Value, contacts: &[Value]) -> Result<NewMessage, String> {
    let id = text_of(&m["id"]).ok_or("no id")?;
    let from = sender(m)?;
    let chat = chat_of(m, &from)?;
    let timestamp = seconds(&m["timestamp"]).unwrap_or_else(clock::now_ms);
    let contact = contacts.iter().find(|c| {
        let same = |field: &str, of: &str| text_of(&c[field]).is_some() && c[field] == m[of];
        same("wa_id", "from") || same("user_id", "from_user_id")
    });
    let name = contact.and_then(|c| text_of(&c["profile"]["name"]));
    let kind = text_of(&m["type"]).unwrap_or("unknown");
    let body = &m[kind];
    let mut out = super::new_message(&chat, id, "", timestamp, name);
    out.sender = from;
    out.quoted_id = text_of(&m["context"]["id"]).map(str::to_string);
    match kind {
        "text" => out.content = text_of(&body["body"]).unwrap_or_default().to_string(),
        "image" | "video" | "audio" | "document" | "sticker" => {
            let media_id = text_of(&body["id"]).ok_or_else(|| format!("{kind} without an id"))?;
            Attachment {
                kind: match kind {
                    "image" => "image",
                    "video" => "video",
                    "audio" => "audio",
                    "sticker" => "sticker",
                    _ => "document",
                },
                mimetype: text_of(&body["mime_type"]).map(str::to_string),
                caption: text_of(&body["caption"]).map(str::to_string),
                file_name: text_of(&body["filename"]).map(str::to_string),
                sha256: text_of(&body["sha256"]).and_then(hex_sha256),
                voice: body["voice"] == true,
                remote: Remote::CloudApi {
                    media_id: media_id.to_string(),
                },
            }
            .attach(&mut out);
        }
        "location" => {
            let place = ["name", "address"]
                .iter()
                .filter_map(|k| text_of(&body[*k]))
                .collect::<Vec<_>>()
                .join(", ");
            out.message_type = MessageKind::Location;
            out.content = format!(
                "[location] {place} ({}, {})",
                body["latitude"], body["longitude"]
            );
        }
        "contacts" => {
            let names: Vec<&str> = body
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| text_of(&c["name"]["formatted_name"]))
                .collect();
            out.message_type = MessageKind::Contact;
            out.content = format!("[contact] {}", names.join(", "));
        }
        "reaction" => {
            // An empty emoji takes a reaction back, as on the linked device.
            out.content = text_of(&body["emoji"]).unwrap_or_default().to_string();
            out.message_type = if out.content.is_empty() {
                MessageKind::ReactionRemoved
            } else {
                MessageKind::Reaction
            };
            out.quoted_id = text_of(&body["message_id"]).map(str::to_string);
        }
        "order" => out.content = order_text(body),
        "button" => {
            out.message_type = MessageKind::Response;
            out.content = text_of(&body["text"]).unwrap_or_default().to_string();
        }
        "interactive" => {
            out.message_type = MessageKind::Response;
            let reply = ["button_reply", "list_reply"]
                .iter()
                .find_map(|k| text_of(&body[*k]["title"]).map(str::to_string))
                .or_else(|| flow_answer(&body["nfm_reply"]));
            out.content = reply.unwrap_or_default();
        }
        other => {
            out.message_type = MessageKind::Unsupported;
            out.content = format!("[unsupported: {other}]");
            out.kept.wire_type = Some(other.to_string());
            out.kept.wire_raw = Some(m.to_string().into_bytes());
        }
    }
    // Nothing readable came (an interactive answer of an unknown kind, a message Meta
    // could not deliver and names `errors` for): kept, never an empty turn.
    if out.content.trim().is_empty() && out.message_type != MessageKind::ReactionRemoved {
        let errors: Vec<&str> = m["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| text_of(&e["title"]).or_else(|| text_of(&e["message"])))
            .collect();
        out.message_type = MessageKind::Unsupported;
        out.content = match errors.as_slice() {
            [] => format!("[unsupported: {kind}]"),
            said => format!("[unsupported: {kind}: {}]", said.join("; ")),
        };
        out.kept.wire_type = Some(kind.to_string());
        out.kept.wire_raw = Some(m.to_string().into_bytes());
    }
    Ok(out)
}

/// Meta states a file's SHA-256 in hex or in base64; stored as hex.
fn hex_sha256(text: &str) -> Option<String> {
    use base64::Engine;
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(text.to_ascii_lowercase());
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()
        .filter(|b| b.len() == 32)
        .map(hex::encode)
}

fn status_update(s: &Value) -> Result<Option<DeliveryUpdate>, String> {
    let id = text_of(&s["id"]).ok_or("no id")?;
    let delivery = match text_of(&s["status"]) {
        Some("sent") => Delivery::Accepted,
        Some("delivered") => Delivery::Delivered,
        Some("read" | "played") => Delivery::Read,
        Some("failed") => Delivery::Failed,
        other => {
            log::debug!("Cloud API status {other:?} of {id} ignored");
            return Ok(None);
        }
    };
    let error = &s["errors"][0];
    let code = error["code"].as_i64().map(|c| c.to_string());
    let text = (delivery == Delivery::Failed).then(|| {
        let said = [
            &error["title"],
            &error["message"],
            &error["error_data"]["details"],
        ]
        .into_iter()
        .filter_map(text_of)
        .collect::<Vec<_>>()
        .join(": ");
        super::explain(
            code.as_deref().unwrap_or("none"),
            &format!(
                "the Cloud API reported failed (error {}): {said}",
                code.as_deref().unwrap_or("none")
            ),
        )
    });
    let at = text_of(&s["timestamp"])
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|t| t.checked_mul(1000))
        .unwrap_or_else(clock::now_ms);
    Ok(Some(DeliveryUpdate {
        provider_id: Some(id.to_string()),
        own_id: text_of(&s["biz_opaque_callback_data"]).map(str::to_string),
        delivery,
        error_code: code,
        error: text,
        at,
    }))
}

/// Graph API error codes that pass: throttling and temporary outages.
fn passing_code(code: &str) -> bool {
    matches!(
        code,
        "4" | "80007" | "130429" | "131016" | "131056" | "133004"
    )
}

impl Transport for Cloud {
    fn name(&self) -> &'static str {
        "the Cloud API"
    }

    fn send(&mut self, row: &OutboxRow) -> Result<Sent, SendFailure> {
        self.post(row)
            .map(|provider_id| Sent::Accepted { provider_id })
    }
}

impl Cloud {
    /// Sends one row; returns the provider's id of the message.
    fn post(&mut self, row: &OutboxRow) -> Result<String, SendFailure> {
        let final_ = |message: String| SendFailure {
            code: None,
            message,
            kind: FailureKind::Final,
        };
        if row.content.chars().count() > CLOUD_API_MAX_CHARS {
            return Err(final_(format!(
                "longer than the Cloud API's {CLOUD_API_MAX_CHARS} characters (queued before the transport changed?)"
            )));
        }
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "type": "text",
            "text": {"preview_url": false, "body": row.content},
            // Echoed in the statuses of this message: how a send whose answer was lost
            // is recognised.
            "biz_opaque_callback_data": row.message_id,
        });
        match (jid::phone(&row.chat_jid), jid::kind(&row.chat_jid)) {
            (Some(phone), _) => body["to"] = json!(phone),
            (None, Some(jid::JidKind::Bsuid)) => {
                let bsuid = row.chat_jid.split('@').next().unwrap_or_default();
                body["recipient"] = json!(bsuid);
            }
            _ => {
                return Err(final_(format!(
                    "{} is neither a phone number nor a business-scoped user id",
                    row.chat_jid
                )));
            }
        }
        let answer = self
            .http
            .post_json(&self.messages_url(), &self.auth(), &body)
            .map_err(|e| SendFailure {
                code: None,
                message: e,
                kind: FailureKind::Unknown,
            })?;
        let json = answer.json().unwrap_or_default();
        if answer.ok() {
            return text_of(&json["messages"][0]["id"])
                .map(str::to_string)
                .ok_or_else(|| SendFailure {
                    code: None,
                    message: format!("HTTP {} without a message id", answer.status),
                    kind: FailureKind::Unknown,
                });
        }
        // {"error": {"message", "type", "code", "error_data": {"details"}, "fbtrace_id"}}
        let error = &json["error"];
        let code = error["code"].as_i64().map(|c| c.to_string());
        let said = [&error["message"], &error["error_data"]["details"]]
            .into_iter()
            .filter_map(text_of)
            .collect::<Vec<_>>()
            .join(": ");
        let mut failure = answer.failure(code.clone(), said, WHATSAPP_CLOUD_TOKEN);
        match code.as_deref() {
            Some(c) if super::outside_window(c) => {
                failure.kind = FailureKind::Final;
                failure.message = super::explain(c, &failure.message);
            }
            Some(c) if passing_code(c) => {
                failure.kind = FailureKind::Passing {
                    retry_after_ms: answer.retry_after_ms,
                };
            }
            _ => {}
        }
        Err(failure)
    }
}

impl super::Api for Cloud {
    fn mark_read(&mut self, message_id: &str) {
        let mut body = json!({
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": message_id,
        });
        match self.mark_read {
            MarkRead::Off => return,
            MarkRead::Read => {}
            MarkRead::Typing => body["typing_indicator"] = json!({"type": "text"}),
        }
        match self
            .http
            .post_json(&self.messages_url(), &self.auth(), &body)
        {
            Ok(answer) if answer.ok() => {}
            Ok(answer) => log::debug!("marking {message_id} read: HTTP {}", answer.status),
            Err(e) => log::debug!("marking {message_id} read: {e}"),
        }
    }
}

impl Cloud {
    /// The bytes of a received file, named by the provider's reference.
    pub fn fetch(&mut self, remote: Option<&Remote>, message_id: &str) -> Result<Vec<u8>> {
        let Some(Remote::CloudApi { media_id }) = remote else {
            anyhow::bail!("message {} has no Cloud API media id", message_id);
        };
        // The media id → a short-lived URL, which wants the same token.
        let url = format!("{}/{media_id}", self.api_root);
        let answer = self
            .http
            .get(&url, &self.auth(), 64 * 1024)
            .map_err(|e| anyhow::anyhow!("looking up media {media_id}: {e}"))?;
        let json = answer.json().unwrap_or_default();
        let Some(file_url) = text_of(&json["url"]).filter(|_| answer.ok()) else {
            anyhow::bail!(
                "looking up media {media_id}: HTTP {} without a url",
                answer.status
            );
        };
        // The token goes with the download: only to Meta, or to the Graph root the
        // owner configured (a proxy or a test stand-in), never to any URL an answer names.
        if !may_carry_token(file_url, &self.api_root) {
            anyhow::bail!(
                "media {media_id}: the lookup named {:?}, not an https URL of Meta's; not sending the token there",
                file_url.chars().take(120).collect::<String>()
            );
        }
        super::download(
            &self.http,
            file_url,
            &self.auth(),
            message_id,
            self.max_bytes,
        )
    }
}

/// The hosts Meta serves WhatsApp media from (`lookaside.fbsbx.com` today).
const META_DOMAINS: [&str; 5] = [
    "fbsbx.com",
    "facebook.com",
    "fbcdn.net",
    "whatsapp.net",
    "whatsapp.com",
];

/// Whether a media URL may be sent the access token: https on one of Meta's domains,
/// or the same origin as the configured Graph API root.
fn may_carry_token(file_url: &str, api_root: &str) -> bool {
    let Ok(url) = url::Url::parse(file_url) else {
        return false;
    };
    let same_origin = url::Url::parse(api_root).is_ok_and(|root| root.origin() == url.origin());
    let meta = url.scheme() == "https"
        && url.host_str().is_some_and(|host| {
            META_DOMAINS
                .iter()
                .any(|d| host == *d || host.ends_with(&format!(".{d}")))
        });
    same_origin || meta
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_token_goes_only_to_meta_over_https_or_to_the_configured_root() {
        let root = "https://graph.facebook.com/v23.0";
        for (url, ok) in [
            (
                "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
                true,
            ),
            ("https://scontent.xx.fbcdn.net/v/t1/x.jpg", true),
            (
                "http://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
                false,
            ),
            ("https://evil.example/steal", false),
            ("https://fbsbx.com.evil.example/x", false),
            ("https://notfbsbx.com/x", false),
            ("not a url", false),
        ] {
            assert_eq!(may_carry_token(url, root), ok, "{url}");
        }
        assert!(may_carry_token(
            "http://127.0.0.1:9000/media/1",
            "http://127.0.0.1:9000/v23.0"
        ));
        assert!(!may_carry_token(
            "http://127.0.0.1:9001/media/1",
            "http://127.0.0.1:9000/v23.0"
        ));
    }

    fn read(m: Value) -> NewMessage {
        message(&m, &[]).unwrap()
    }

    #[test]
    fn a_flow_answer_is_read_from_its_response_json_and_nothing_empty_is_a_turn() {
        let flow = read(
            json!({"from": "15550001111", "id": "wamid.F1", "timestamp": "1700000000",
            "type": "interactive", "interactive": {"type": "nfm_reply", "nfm_reply": {
                "name": "flow", "body": "Sent",
                "response_json": "{\"flow_token\":\"tok-1\",\"date\":\"2026-12-24\",\"guests\":4}"}}}),
        );
        assert_eq!(flow.content, "[form] date: 2026-12-24\nguests: 4");
        assert!(flow.message_type.asks_for_an_answer());
        let failed = read(
            json!({"from": "15550001111", "id": "wamid.F2", "timestamp": "1700000000",
            "type": "interactive", "interactive": {"type": "unknown_kind"},
            "errors": [{"code": 131051, "title": "Message type unknown"}]}),
        );
        assert_eq!(failed.message_type, MessageKind::Unsupported);
        assert_eq!(
            failed.content,
            "[unsupported: interactive: Message type unknown]"
        );
        assert!(
            !failed.message_type.asks_for_an_answer(),
            "never an empty turn"
        );
    }

    #[test]
    fn edits_and_revokes_change_the_original() {
        let edit = json!({"from": "15550001111", "id": "wamid.E1", "timestamp": "1700000100",
            "type": "edit", "edit": {"original_message_id": "wamid.ORIG",
                "message": {"type": "text", "text": {"body": "see you at 8"}}}});
        assert_eq!(
            edit_or_revoke(&edit).unwrap().unwrap(),
            wabot_core::inbound::Inbound::Edit {
                chat_jid: "15550001111@s.whatsapp.net".into(),
                id: "wamid.ORIG".into(),
                content: "see you at 8".into(),
                by: "15550001111@s.whatsapp.net".into(),
                at: 1_700_000_100_000,
            }
        );
        let revoke = json!({"from": "15550001111", "id": "wamid.R1", "timestamp": 1700000200,
            "type": "revoke", "revoke": {"original_message_id": "wamid.ORIG"}});
        assert!(matches!(
            edit_or_revoke(&revoke).unwrap().unwrap(),
            wabot_core::inbound::Inbound::Revoke { id, at: 1_700_000_200_000, .. } if id == "wamid.ORIG"
        ));
        assert!(edit_or_revoke(&json!({"type": "text"})).is_none());
    }

    #[test]
    fn bsuids_orders_reaction_removals_timestamps_and_groups_are_read_right() {
        let by_bsuid = read(json!({"from": "US.13491208655302741918", "id": "wamid.B1",
            "timestamp": "1700000000", "type": "text", "text": {"body": "hi"}}));
        assert_eq!(by_bsuid.chat_jid, "US.13491208655302741918@bsuid");
        let beside = read(
            json!({"from": "not a number", "from_user_id": "US.13491208655302741918",
            "id": "wamid.B2", "timestamp": "1700000000", "type": "text", "text": {"body": "hi"}}),
        );
        assert_eq!(beside.chat_jid, "US.13491208655302741918@bsuid");
        let order = read(
            json!({"from": "15550001111", "id": "wamid.O1", "timestamp": 1700000000,
            "type": "order", "order": {"catalog_id": "c", "text": "by Friday please",
                "product_items": [{"product_retailer_id": "SKU-1", "quantity": 2, "item_price": 9.5, "currency": "EUR"}]}}),
        );
        assert_eq!(
            order.content,
            "[order] 2 × SKU-1 at 9.5 EUR — by Friday please"
        );
        assert!(order.message_type.asks_for_an_answer());
        assert_eq!(
            order.timestamp_ms, 1_700_000_000_000,
            "a numeric timestamp is kept"
        );
        let removed = read(
            json!({"from": "15550001111", "id": "wamid.X1", "timestamp": "1700000000",
            "type": "reaction", "reaction": {"message_id": "wamid.ORIG", "emoji": ""}}),
        );
        assert_eq!(removed.message_type, MessageKind::ReactionRemoved);
        let group = read(
            json!({"from": "15550001111", "group_id": "120363041234567890",
            "id": "wamid.G1", "timestamp": "1700000000", "type": "text", "text": {"body": "hi all"}}),
        );
        assert_eq!(group.chat_jid, "120363041234567890@g.us");
        assert_eq!(group.sender, "15550001111@s.whatsapp.net");
        let long = "9".repeat(5000);
        let refused =
            message(&json!({"from": long, "id": "wamid.L", "type": "text"}), &[]).unwrap_err();
        assert!(refused.len() < 200, "bounded: {} characters", refused.len());
    }
}
