//! Who a Cloud API webhook is about, beside its content. Since April 2026 Meta names
//! WhatsApp users by a business-scoped user id (BSUID, `US.1349…`) as well as, or
//! (for users with a username) instead of, their phone number; it requires businesses
//! to support both (developers.facebook.com, "Business-scoped user IDs"). Every webhook
//! that carries both tells which BSUID is which number, so a person configured by
//! phone number keeps being answered when Meta later withholds it. A number change
//! (system message `user_changed_number`) and a new BSUID (`user_changed_user_id`)
//! keep one chat too.

use serde_json::Value;
use wabot_core::jid;
use wabot_core::sink::NumberChange;

/// A BSUID as wabot stores it: `US.1349…@bsuid`.
fn bsuid_jid(v: &Value) -> Option<String> {
    let text = v.as_str().filter(|s| jid::is_bsuid(s))?;
    Some(format!("{text}@{}", jid::BSUID_SERVER))
}

fn phone_jid(v: &Value) -> Option<String> {
    v.as_str()
        .filter(|s| !s.is_empty())
        .and_then(|s| jid::normalize(s).ok())
}

/// Every (BSUID, phone JID) pair a webhook's `value` names: the messages' senders, the
/// contacts, the statuses' recipients.
pub fn pairs(value: &Value) -> Vec<(String, String)> {
    let list = |key: &str| value[key].as_array().map_or(&[][..], Vec::as_slice);
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut pair = |bsuid: &Value, phone: &Value| {
        if let (Some(b), Some(p)) = (bsuid_jid(bsuid), phone_jid(phone)) {
            pairs.push((b, p));
        }
    };
    for m in list("messages") {
        pair(&m["from_user_id"], &m["from"]);
    }
    for c in list("contacts") {
        pair(&c["user_id"], &c["wa_id"]);
    }
    for s in list("statuses") {
        pair(&s["recipient_user_id"], &s["recipient_id"]);
    }
    pairs.sort();
    pairs.dedup();
    pairs
}

/// What a system message says about its sender's identities; `None` for other system
/// messages. `user_changed_number` carries the new number in `system.wa_id`;
/// `user_changed_user_id` only the new BSUID (and, since August 2026, the previous one
/// in `system.previous_user_id`; the new one is the sender's `from_user_id`, or
/// `system.user_id`).
pub fn change(m: &Value) -> Option<NumberChange> {
    let system = &m["system"];
    let sender = || phone_jid(&m["from"]).or_else(|| bsuid_jid(&m["from_user_id"]));
    let new_bsuid = bsuid_jid(&system["user_id"]).or_else(|| bsuid_jid(&m["from_user_id"]));
    match system["type"].as_str()? {
        "user_changed_number" => Some(NumberChange {
            old_jid: sender()?,
            new_jid: phone_jid(&system["wa_id"])?,
            old_alias: bsuid_jid(&system["previous_user_id"]),
            new_alias: new_bsuid,
        }),
        "user_changed_user_id" => {
            let old = bsuid_jid(&system["previous_user_id"])?;
            let new = new_bsuid?;
            Some(match phone_jid(&m["from"]) {
                // The person is their number: the new BSUID maps to it, the old one's
                // rows join it.
                Some(phone) => NumberChange {
                    old_jid: old,
                    new_jid: phone,
                    old_alias: None,
                    new_alias: Some(new),
                },
                None => NumberChange {
                    old_jid: old,
                    new_jid: new,
                    old_alias: None,
                    new_alias: None,
                },
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_webhook_that_names_both_teaches_the_pairing() {
        let value = json!({
            "contacts": [{"wa_id": "16505551234", "user_id": "US.13491208655302741918",
                          "profile": {"name": "Sheena"}}],
            "messages": [{"from": "16505551234", "from_user_id": "US.13491208655302741918",
                          "id": "wamid.A", "type": "text", "text": {"body": "hi"}},
                         {"from_user_id": "US.99", "id": "wamid.B", "type": "text"}],
            "statuses": [{"id": "wamid.C", "status": "read", "recipient_id": "16505550000",
                          "recipient_user_id": "US.ENT.11815799212886844830"}]
        });
        assert_eq!(
            pairs(&value),
            [
                (
                    "US.13491208655302741918@bsuid".to_string(),
                    "16505551234@s.whatsapp.net".to_string()
                ),
                (
                    "US.ENT.11815799212886844830@bsuid".to_string(),
                    "16505550000@s.whatsapp.net".to_string()
                ),
            ],
            "a BSUID alone teaches nothing"
        );
    }

    #[test]
    fn system_messages_keep_one_chat_through_a_new_number_or_bsuid() {
        // Meta's documented body (System messages webhook reference, Aug 2026).
        let number = json!({
            "from": "16505551234", "id": "wamid.S1", "timestamp": "1739321024",
            "type": "system",
            "system": {"body": "User Sheena Nelson changed from 16505551234 to 12195555358",
                       "wa_id": "12195555358", "type": "user_changed_number",
                       "previous_user_id": "US.111", "user_id": "US.222"}
        });
        assert_eq!(
            change(&number),
            Some(NumberChange {
                old_jid: "16505551234@s.whatsapp.net".into(),
                new_jid: "12195555358@s.whatsapp.net".into(),
                old_alias: Some("US.111@bsuid".into()),
                new_alias: Some("US.222@bsuid".into()),
            })
        );
        let user_id = json!({
            "from_user_id": "US.333", "id": "wamid.S2", "type": "system",
            "system": {"type": "user_changed_user_id", "previous_user_id": "US.222"}
        });
        assert_eq!(
            change(&user_id),
            Some(NumberChange {
                old_jid: "US.222@bsuid".into(),
                new_jid: "US.333@bsuid".into(),
                old_alias: None,
                new_alias: None,
            })
        );
        assert_eq!(
            change(&json!({"system": {"type": "customer_identity_changed"}})),
            None
        );
    }
}
