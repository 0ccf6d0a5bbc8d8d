//! WhatsApp's own "Export chat" text, as phones in many locales write it:
//! Android `15/01/2024, 14:30 - Name: text` and iOS `[15/01/2024, 14:30:05] Name: text`,
//! 12- and 24-hour clocks, day- or month-first dates (decided per file), `/ . -`
//! separators, two- or four-digit years, invisible direction marks, multi-line messages,
//! system lines, media placeholders and deleted messages.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use regex::Regex;
use sha2::{Digest, Sha256};

use crate::jid;
use crate::message::{NewMessage, Origin};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DateOrder {
    /// 15/01/2024
    Dmy,
    /// 01/15/2024
    Mdy,
    /// 2024-01-15
    Ymd,
}

pub struct Options {
    /// Canonical JID of the chat the export belongs to.
    pub chat_jid: String,
    /// The exporting user's display name: their lines are outbound.
    pub me: Option<String>,
    /// The account's own JID, the sender of outbound lines when known.
    pub own_jid: Option<String>,
    pub zone: chrono_tz::Tz,
    pub order: Option<DateOrder>,
}

static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\[?(\d{1,4})[./-](\d{1,2})[./-](\d{1,4}),?\s+(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?\s*([AaPp])?\.?\s*(?:[Mm]\.?)?\]?\s*(?:-\s+)?(.*)$",
    )
    .unwrap_or_else(|e| unreachable!("the header pattern is valid: {e}"))
});

/// Invisible characters phones put into exports.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

fn clean(line: &str) -> String {
    line.chars()
        .filter(|c| !is_invisible(*c))
        .map(|c| {
            if c == '\u{202f}' || c == '\u{a0}' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

struct Entry {
    line: usize,
    numbers: [u32; 3],
    time: (u32, u32, u32, Option<char>),
    author: String,
    body: String,
    /// iOS marks system lines and placeholders with U+200E after the author.
    marked: bool,
}

/// Parses an export; every message comes with the line it starts on, or the reason that
/// line could not be read.
pub fn parse(text: &str, options: &Options) -> Vec<(usize, Result<NewMessage, String>)> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = clean(raw);
        let Some(caps) = HEADER.captures(&line) else {
            // A continuation of the previous message (or text before the first one).
            if let Some(last) = entries.last_mut() {
                last.body.push('\n');
                last.body.push_str(&line);
            }
            continue;
        };
        let number = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
        let rest = caps.get(8).map_or("", |m| m.as_str());
        let Some((author, body)) = rest.split_once(": ") else {
            continue; // a system line: "Alice changed the subject", encryption notice, …
        };
        entries.push(Entry {
            line: index + 1,
            numbers: [
                number(1).unwrap_or(0),
                number(2).unwrap_or(0),
                number(3).unwrap_or(0),
            ],
            time: (
                number(4).unwrap_or(0),
                number(5).unwrap_or(0),
                number(6).unwrap_or(0),
                caps.get(7).and_then(|m| m.as_str().chars().next()),
            ),
            author: author.trim().to_string(),
            body: body.to_string(),
            marked: raw.contains(": \u{200e}"),
        });
    }
    let order = options.order.unwrap_or_else(|| guess_order(&entries));
    let mut seen: HashMap<String, usize> = HashMap::new();
    for entry in entries {
        let Some((kind, content)) = classify(&entry) else {
            continue;
        };
        let record = instant(&entry, order, options.zone).map(|ms| {
            let key = format!("{}|{ms}|{}|{}", options.chat_jid, entry.author, entry.body);
            let n = seen.entry(key.clone()).or_default();
            *n += 1;
            message(options, &entry, ms, kind, content, &format!("{key}|{n}"))
        });
        out.push((entry.line, record));
    }
    out
}

/// Day- or month-first from the dates themselves: a first number above 12 can only be a
/// day, a second above 12 only a day too. (A date that starts with its year is read
/// year-first whatever the file's order.)
fn guess_order(entries: &[Entry]) -> DateOrder {
    if entries.iter().any(|e| (13..=31).contains(&e.numbers[0])) {
        DateOrder::Dmy
    } else if entries.iter().any(|e| e.numbers[1] > 12) {
        DateOrder::Mdy
    } else {
        DateOrder::Dmy
    }
}

fn instant(e: &Entry, order: DateOrder, zone: chrono_tz::Tz) -> Result<i64, String> {
    let [a, b, c] = e.numbers;
    let order = if a > 31 { DateOrder::Ymd } else { order };
    let (year, month, day) = match order {
        DateOrder::Dmy => (c, b, a),
        DateOrder::Mdy => (c, a, b),
        DateOrder::Ymd => (a, b, c),
    };
    let year = if year < 100 { year + 2000 } else { year };
    let (mut hour, minute, second, half) = e.time;
    match half.map(|h| h.to_ascii_lowercase()) {
        Some('p') if hour < 12 => hour += 12,
        Some('a') if hour == 12 => hour = 0,
        _ => {}
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day).ok_or_else(|| {
        format!("{a}/{b}/{c} is not a date in {order:?} order (see --date-order)")
    })?;
    let time = NaiveTime::from_hms_opt(hour, minute, second)
        .ok_or_else(|| format!("{hour}:{minute:02} is not a time of day"))?;
    let local = NaiveDateTime::new(date, time);
    // A time skipped by a DST change is read as the same wall time an hour later.
    zone.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| format!("{local} does not exist in {zone}"))
}

/// The message type and stored text of a body; `None` for iOS system lines.
fn classify(e: &Entry) -> Option<(&'static str, String)> {
    let body = e.body.trim();
    let lower = body.to_lowercase();
    if let Some(name) = body
        .strip_prefix("<attached: ")
        .and_then(|b| b.strip_suffix('>'))
    {
        return Some((media_kind(name), format!("[{}] {name}", media_kind(name))));
    }
    let placeholder = match lower.as_str() {
        "<media omitted>" | "<médias omis>" | "<medien ausgeschlossen>" => Some("media"),
        "image omitted" | "photo omitted" => Some("image"),
        "video omitted" | "gif omitted" => Some("video"),
        "audio omitted" => Some("audio"),
        "sticker omitted" => Some("sticker"),
        "document omitted" => Some("document"),
        "contact card omitted" => Some("contact"),
        _ => None,
    };
    if let Some(kind) = placeholder {
        return Some((kind, format!("[{kind}]")));
    }
    if matches!(
        lower.trim_end_matches('.'),
        "this message was deleted" | "you deleted this message"
    ) {
        return Some(("revoked", String::new()));
    }
    if e.marked {
        return None;
    }
    Some(("text", body.to_string()))
}

fn media_kind(file: &str) -> &'static str {
    let ext = file
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "jpg" | "jpeg" | "png" | "webp" | "heic" => "image",
        "mp4" | "mov" | "3gp" | "gif" => "video",
        "opus" | "m4a" | "mp3" | "aac" | "ogg" => "audio",
        _ => "document",
    }
}

fn message(
    options: &Options,
    e: &Entry,
    ms: i64,
    kind: &str,
    content: String,
    key: &str,
) -> NewMessage {
    let is_me = options
        .me
        .as_deref()
        .is_some_and(|me| me.eq_ignore_ascii_case(&e.author));
    let phone = (!e.author.chars().any(char::is_alphabetic))
        .then(|| jid::normalize(&e.author).ok())
        .flatten();
    let (sender, push_name) = match (is_me, phone) {
        (true, _) => (
            options
                .own_jid
                .clone()
                .unwrap_or_else(|| options.chat_jid.clone()),
            None,
        ),
        (false, Some(jid)) => (jid, None),
        (false, None) => (options.chat_jid.clone(), Some(e.author.clone())),
    };
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    NewMessage {
        chat_jid: options.chat_jid.clone(),
        id: format!("EXP{}", digest[..29].to_ascii_uppercase()),
        sender,
        content,
        timestamp_ms: ms,
        is_from_me: is_me,
        message_type: kind.to_string(),
        push_name,
        mentions: Vec::new(),
        quoted_id: None,
        origin: Origin::Export,
        media: None,
    }
}
