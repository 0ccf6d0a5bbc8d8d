//! One JSON object per line, the record shape of the messages table
//! (see tests/fixtures/messages.jsonl and docs/archive.md).

use chrono::DateTime;
use serde::Deserialize;
use serde_json::Value;

use crate::error::json_message;
use crate::message::{NewMessage, Origin};

#[derive(Deserialize)]
struct Record {
    id: String,
    chat_jid: String,
    #[serde(default)]
    sender: String,
    #[serde(default)]
    content: String,
    timestamp: Value,
    #[serde(default)]
    is_from_me: bool,
    #[serde(default = "text")]
    message_type: String,
    push_name: Option<String>,
    #[serde(default)]
    mentions: Vec<String>,
    /// What a voice note said (`cleanup --archive` writes it).
    transcript: Option<String>,
}

fn text() -> String {
    "text".into()
}

/// Seconds this large would be past the year 5000: the writer meant milliseconds.
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// Parses one line into an (unvalidated) message; the error says what is wrong with it.
pub fn parse_line(line: &str) -> Result<NewMessage, String> {
    let record: Record = serde_json::from_str(line).map_err(|e| json_message(&e))?;
    Ok(NewMessage {
        sender: record.sender,
        is_from_me: record.is_from_me,
        message_type: record
            .message_type
            .parse()
            .map_err(|e| format!("message_type: {e}"))?,
        push_name: record.push_name,
        mentions: record.mentions,
        transcript: record.transcript.filter(|t| !t.trim().is_empty()),
        ..NewMessage::text(
            Origin::Import,
            record.chat_jid,
            record.id,
            timestamp_ms(&record.timestamp)?,
            record.content,
        )
    })
}

/// Unix seconds (integer, fractional or a digit string), Unix milliseconds, or RFC 3339.
fn timestamp_ms(value: &Value) -> Result<i64, String> {
    let from_seconds = |s: f64| (s * 1000.0).round() as i64;
    match value {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) if i.abs() >= MILLIS_THRESHOLD => Ok(i),
            (Some(i), _) => Ok(i * 1000),
            (None, Some(f)) if f.is_finite() && f.abs() < MILLIS_THRESHOLD as f64 => {
                Ok(from_seconds(f))
            }
            _ => Err(format!("timestamp: {n} is out of range")),
        },
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            timestamp_ms(&Value::Number(s.parse::<i64>().map_err(|e| {
                format!("timestamp: {s:?}: {e}")
            })?.into()))
        }
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.timestamp_millis())
            .map_err(|e| {
                format!("timestamp: {s:?} is not RFC 3339 with an offset (like 2024-01-15T14:30:00Z): {e}")
            }),
        other => Err(format!(
            "timestamp: {other} is neither Unix seconds nor an RFC 3339 string"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_timestamp_form() {
        let want = 1_705_329_000_000;
        for ts in [
            "1705329000",
            "1705329000.0",
            "\"1705329000\"",
            "1705329000000",
            "\"2024-01-15T14:30:00Z\"",
            "\"2024-01-15T16:30:00+02:00\"",
        ] {
            let line = format!(r#"{{"id":"a","chat_jid":"15550001111","timestamp":{ts}}}"#);
            assert_eq!(parse_line(&line).unwrap().timestamp_ms, want, "{ts}");
        }
    }

    #[test]
    fn explains_bad_lines() {
        let cases = [
            (r#"{"id":"a","chat_jid":"x"}"#, "missing field `timestamp`"),
            (
                r#"{"id":"a","chat_jid":"x","timestamp":"yesterday"}"#,
                "not RFC 3339",
            ),
            (
                r#"{"id":"a","chat_jid":"x","timestamp":"2024-01-15 14:30"}"#,
                "not RFC 3339",
            ),
            (
                r#"{"id":"a","chat_jid":"x","timestamp":true}"#,
                "neither Unix seconds",
            ),
            (
                r#"{"id":"a","chat_jid":"x","timestamp":1e300}"#,
                "out of range",
            ),
            (
                r#"{"id":"a","chat_jid":"x","timestamp":1} trailing"#,
                "trailing characters",
            ),
            ("not json", "expected"),
        ];
        for (line, want) in cases {
            let err = parse_line(line).err().unwrap();
            assert!(err.contains(want), "{line}: {err}");
        }
    }
}
