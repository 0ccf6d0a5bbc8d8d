//! The one JSON dialect of every `--json` (documented in docs/json.md, checked by a test
//! against the real outputs): applied here, on the way out, so that no command can drift.
//!
//! - Every time is a key ending in `_at`, written RFC 3339 in the configured zone
//!   (`2026-01-03T11:00:00+01:00`), the same as the MCP tools: stored times are Unix
//!   milliseconds, which nobody reads and which say nothing about the zone they mean.
//! - Every reference to a chat is `"chat": {"jid": …, "name": …}`, named the way every
//!   table names it ([`Names`]); the stored column `chat_jid` never leaks.

use std::sync::OnceLock;

use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Value};

use crate::chats::Names;

static ZONE: OnceLock<chrono_tz::Tz> = OnceLock::new();

/// The zone times are written in: the loaded configuration's (UTC before one is loaded).
pub fn set_zone(zone: chrono_tz::Tz) {
    let _ = ZONE.set(zone);
}

/// A stored time (Unix ms) as the dialect writes it.
pub fn time(ms: i64) -> Value {
    let zone = ZONE.get().copied().unwrap_or(chrono_tz::UTC);
    DateTime::from_timestamp_millis(ms).map_or(Value::Null, |t| {
        Value::String(
            t.with_timezone(&zone)
                .to_rfc3339_opts(SecondsFormat::AutoSi, false),
        )
    })
}

/// Rewrites `value` into the dialect: times to RFC 3339, `chat_jid` to a named `chat`.
pub fn dialect(value: Value, names: &mut Option<&mut Names<'_>>) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(|v| dialect(v, names)).collect()),
        Value::Object(object) => Value::Object(object_dialect(object, names)),
        other => other,
    }
}

fn object_dialect(
    object: Map<String, Value>,
    names: &mut Option<&mut Names<'_>>,
) -> Map<String, Value> {
    let mut out = Map::with_capacity(object.len());
    for (key, value) in object {
        match (key.as_str(), value) {
            ("chat_jid", Value::String(jid)) => {
                let chat = match names.as_mut() {
                    Some(names) => super::shapes::chat_ref(&jid, names),
                    None => serde_json::json!({"jid": jid, "name": null}),
                };
                out.insert("chat".into(), chat);
            }
            ("chat_jid", Value::Null) => {
                out.insert("chat".into(), Value::Null);
            }
            (k, Value::Number(n)) if k.ends_with("_at") => {
                out.insert(key, n.as_i64().map_or(Value::Number(n), time));
            }
            (_, value) => {
                out.insert(key, dialect(value, names));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_become_rfc3339_and_chats_objects_at_every_depth() {
        let given = json!({"sent_at": 1767434400000_i64, "count_at_most": 3,
            "rows": [{"chat_jid": "1@s.whatsapp.net", "updated_at": 1767434400123_i64}],
            "size_bytes": 5, "read_at": null});
        let out = dialect(given, &mut None);
        assert_eq!(out["sent_at"], "2026-01-03T10:00:00+00:00");
        assert_eq!(
            out["rows"][0]["updated_at"],
            "2026-01-03T10:00:00.123+00:00"
        );
        assert_eq!(
            out["rows"][0]["chat"],
            json!({"jid": "1@s.whatsapp.net", "name": null})
        );
        assert!(out["rows"][0].get("chat_jid").is_none());
        assert_eq!(out["count_at_most"], 3);
        assert_eq!(out["size_bytes"], 5);
        assert_eq!(out["read_at"], Value::Null);
    }
}
