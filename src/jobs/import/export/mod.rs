//! WhatsApp's own "Export chat" text, as phones in many locales write it: Android
//! `15/01/2024, 14:30 - Name: text`, iOS `[15/01/2024, 14:30:05] Name: text` and the
//! other layouts in [`header::LAYOUTS`], any date order (decided per file, see
//! [`dates::decide`]), calendar eras, 12-hour clocks in words, invisible direction marks,
//! multi-line messages, system lines, placeholders, attachments and edited markers in
//! the languages of [`locale::LOCALES`].

mod body;
mod dates;
mod header;
pub mod locale;
mod text;

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveDateTime};
use sha2::{Digest, Sha256};

pub use body::mimetype;
pub use dates::DateOrder;
pub use locale::Media;

use crate::jid;
use crate::message::{NewMessage, Origin};
use header::Stamp;
use text::Normalized;

pub struct Options {
    /// Canonical JID of the chat the export belongs to.
    pub chat_jid: String,
    /// The exporting user's display name: their lines are outbound.
    pub me: Option<String>,
    /// The account's own JID, the sender of outbound lines when known.
    pub own_jid: Option<String>,
    pub zone: chrono_tz::Tz,
    /// Forces the date order instead of deciding it from the dates.
    pub order: Option<DateOrder>,
    /// Import a file already imported in another time zone all the same.
    pub reimport: bool,
}

/// Why lines that are not messages were skipped (the report's `skipped` keys).
pub const SKIPPED_SYSTEM_LINE: &str = "system_line";
pub const SKIPPED_NOTICE: &str = "system_notice";
pub const SKIPPED_BEFORE_FIRST: &str = "before_first_message";

/// One message of the export, or why its line could not be read.
pub struct Record {
    /// The line the message starts on (1-based).
    pub line: usize,
    pub message: Result<NewMessage, String>,
    /// The author as written.
    pub author: String,
    /// The time as written, when it could be read.
    pub local: Option<NaiveDateTime>,
    pub edited: bool,
    /// The attached file the export names.
    pub attachment: Option<(String, Media)>,
    pub caption: Option<String>,
}

/// A parsed export.
pub struct Parsed {
    pub records: Vec<Record>,
    /// The header layout of the file (see [`header::LAYOUTS`]).
    pub layout: &'static str,
    pub date_order: DateOrder,
    /// Another date order would also have read every date: the choice is a guess.
    pub date_order_guessed: bool,
    /// Lines that are not messages, by reason.
    pub skipped: BTreeMap<&'static str, usize>,
}

/// A header line and the lines that continue it.
struct Entry {
    line: usize,
    stamp: Stamp,
    /// What follows the header, continuation lines joined with `\n`.
    rest: String,
}

/// How many unreadable lines an error about a file that is not an export quotes.
const QUOTED_LINES: usize = 3;

/// Parses an export. Fails only when not a single line is a message header: then the
/// error quotes the first lines, which is what a person needs to see what the file is.
pub fn parse(text: &str, options: &Options) -> Result<Parsed, String> {
    let lines = text::lines(text);
    let normalized: Vec<Normalized> = lines.iter().map(|l| Normalized::new(l)).collect();
    let Some(layout) = header::choose_layout(&normalized) else {
        return Err(unrecognised(&lines));
    };
    let mut skipped: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut entries: Vec<Entry> = Vec::new();
    for (index, (raw, norm)) in lines.iter().zip(&normalized).enumerate() {
        match header::recognise(layout, norm) {
            Some((stamp, rest)) => entries.push(Entry {
                line: index + 1,
                stamp,
                rest: raw.get(rest..).unwrap_or_default().to_string(),
            }),
            None => match entries.last_mut() {
                Some(last) => {
                    last.rest.push('\n');
                    last.rest.push_str(raw);
                }
                None if !text::clean(raw).trim().is_empty() => {
                    *skipped.entry(SKIPPED_BEFORE_FIRST).or_default() += 1;
                }
                None => {}
            },
        }
    }
    let stamps: Vec<Stamp> = entries.iter().map(|e| e.stamp.clone()).collect();
    let (date_order, date_order_guessed) = match options.order {
        Some(order) => (order, false),
        None => {
            let decision = dates::decide(&stamps);
            // The file's own attachment names (`PHOTO-2020-11-02-…`) carry dates: when
            // they settle the order, it is no guess.
            let dated: Vec<(&Stamp, NaiveDate)> = entries
                .iter()
                .filter_map(|e| attachment_date(&e.rest).map(|d| (&e.stamp, d)))
                .collect();
            match (decision.guessed, dates::settled_by(&dated, &stamps)) {
                (true, Some(order)) => (order, false),
                _ => (decision.order, decision.guessed),
            }
        }
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut records = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let Some((author, body)) = split_author(&entry.rest) else {
            *skipped.entry(SKIPPED_SYSTEM_LINE).or_default() += 1;
            continue;
        };
        if body::is_marked_event(body, author) {
            *skipped.entry(SKIPPED_NOTICE).or_default() += 1;
            continue;
        }
        let content = match body::classify(body, index == 0) {
            body::Body::Notice => {
                *skipped.entry(SKIPPED_NOTICE).or_default() += 1;
                continue;
            }
            body::Body::Message(content) => content,
        };
        let author = text::clean(author).trim().to_string();
        let local = local_time(&entry.stamp, date_order);
        let message = local.clone().and_then(|local| {
            let ms = dates::instant(local, options.zone)?;
            let key = format!("{}|{ms}|{author}|{}", options.chat_jid, content.identity);
            let n = seen.entry(key.clone()).or_default();
            *n += 1;
            Ok(message(
                options,
                &author,
                ms,
                &content,
                &format!("{key}|{n}"),
            ))
        });
        records.push(Record {
            line: entry.line,
            message,
            author,
            local: local.ok(),
            edited: content.edited,
            attachment: content.attachment,
            caption: content.caption,
        });
    }
    Ok(Parsed {
        records,
        layout: header::LAYOUTS[layout].name,
        date_order,
        date_order_guessed,
        skipped,
    })
}

/// The error for a file in which no line is a message header.
fn unrecognised(lines: &[&str]) -> String {
    let quoted: Vec<String> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !text::clean(l).trim().is_empty())
        .take(QUOTED_LINES)
        .map(|(i, l)| {
            let shown: String = text::clean(l).chars().take(80).collect();
            format!("line {}: {shown:?}", i + 1)
        })
        .collect();
    if quoted.is_empty() {
        return "no text in it: the file is empty or only blank lines".to_string();
    }
    format!(
        "no line is a WhatsApp message header (such as \"27/03/2022, 21:41 - Name: text\" or \
         \"[27/03/2022, 21:41:35] Name: text\"); the first lines are {}",
        quoted.join(", ")
    )
}

/// `Name: text` → (name, text); `Name:` alone is an empty message. A line with no
/// name is a system line ("Alice added Bob"); so is one whose colon sits inside a
/// quoted group subject (`… changed the subject to "Plans: June"`).
fn split_author(rest: &str) -> Option<(&str, &str)> {
    let (head, _) = rest.split_once('\n').unwrap_or((rest, ""));
    let (author, body) = match rest.split_once(": ") {
        Some((author, body)) if author.len() < head.len() => (author, body),
        _ => {
            let author = head.trim_end().strip_suffix(':')?;
            (author, rest.get(head.len()..).unwrap_or_default())
        }
    };
    let quotes = author
        .chars()
        .filter(|c| matches!(c, '"' | '“' | '”'))
        .count();
    if text::clean(author).trim().is_empty() || quotes % 2 == 1 {
        return None;
    }
    Some((author, body))
}

/// The date in an attachment's name on the line: iOS `PHOTO-2020-11-02-21-47-19.jpg`,
/// Android `IMG-20201102-WA0001.jpg`.
fn attachment_date(rest: &str) -> Option<NaiveDate> {
    static NAMED: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r"(?:PHOTO|VIDEO|AUDIO|STICKER|GIF|IMG|VID|AUD|PTT|STK|DOC)-(\d{4})-?(\d{2})-?(\d{2})",
        )
        .expect("a valid pattern")
    });
    let caps = NAMED.captures(rest)?;
    let number = |i: usize| caps.get(i)?.as_str().parse::<u32>().ok();
    NaiveDate::from_ymd_opt(i32::try_from(number(1)?).ok()?, number(2)?, number(3)?)
}

fn local_time(stamp: &Stamp, order: DateOrder) -> Result<NaiveDateTime, String> {
    let date = dates::date(stamp, order).ok_or_else(|| {
        format!(
            "{} is not a date in {} order (see --date-order)",
            stamp.fields.join(&stamp.separator.to_string()),
            order.name()
        )
    })?;
    let time = dates::time(stamp)
        .ok_or_else(|| format!("{}:{:02} is not a time of day", stamp.hour, stamp.minute))?;
    Ok(NaiveDateTime::new(date, time))
}

fn message(
    options: &Options,
    author: &str,
    ms: i64,
    content: &body::Content,
    key: &str,
) -> NewMessage {
    let is_me = options
        .me
        .as_deref()
        .is_some_and(|me| me.eq_ignore_ascii_case(author));
    let phone = (!author.chars().any(char::is_alphabetic))
        .then(|| jid::normalize(author).ok())
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
        (false, None) => (options.chat_jid.clone(), Some(author.to_string())),
    };
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    NewMessage {
        chat_jid: options.chat_jid.clone(),
        id: format!("EXP{}", digest[..29].to_ascii_uppercase()),
        sender,
        content: content.text.clone(),
        timestamp_ms: ms,
        is_from_me: is_me,
        message_type: content.kind.clone(),
        push_name,
        mentions: Vec::new(),
        quoted_id: None,
        origin: Origin::Export,
        media: None,
        kept: Default::default(),
        transcript: None,
    }
}
