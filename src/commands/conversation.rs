//! A chat's messages as a person reads them on a terminal: a line per day, then
//! `HH:MM  Author: text`, replies quoting what they answer, media with their files and
//! transcripts, edits and deletions marked. `show` and `search -C` print through it.

use std::collections::HashMap;

use anyhow::Result;
use chrono::TimeZone;

use crate::chats::{Names, Written};
use crate::config::Config;
use crate::db::{Db, MessageMedia, MessageRow};

/// How much of a quoted message a reply shows.
const QUOTE_CHARS: usize = 60;

pub struct Conversation<'a> {
    db: &'a Db,
    names: Names<'a>,
    tz: chrono_tz::Tz,
    color: bool,
    /// The store directory media paths are relative to.
    store_dir: std::path::PathBuf,
    day: Option<chrono::NaiveDate>,
}

impl<'a> Conversation<'a> {
    pub fn new(db: &'a Db, config: &'a Config, color: bool) -> Self {
        Self {
            db,
            names: Names::new(db, config),
            tz: config.timezone(),
            color,
            store_dir: config
                .database_path
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default(),
            day: None,
        }
    }

    /// The lines of `rows` (one chat's, oldest first), a day line before each new day.
    pub fn lines(&mut self, rows: &[MessageRow], out: &mut Vec<String>) -> Result<()> {
        let Some(first) = rows.first() else {
            return Ok(());
        };
        let ids: Vec<&str> = rows.iter().map(|m| m.id.as_str()).collect();
        let media: HashMap<String, MessageMedia> = self
            .db
            .media_of_messages(&first.chat_jid, &ids)?
            .into_iter()
            .map(|m| (m.file.message_id.clone(), m))
            .collect();
        for row in rows {
            let Some(local) = self.tz.timestamp_millis_opt(row.timestamp).single() else {
                continue;
            };
            if self.day != Some(local.date_naive()) {
                self.day = Some(local.date_naive());
                out.push(self.paint("2", &format!("── {} ──", local.format("%A, %-d %B %Y"))));
            }
            let author = self.names.author_of(Written::of_row(row));
            let mut text = self.text_of(row, media.get(&row.id));
            if let Some(quoted) = &row.quoted_id {
                text = format!("{}\n{text}", self.quote(&row.chat_jid, quoted)?);
            }
            let head = format!("{}  {}: ", local.format("%H:%M"), self.paint("1", &author));
            let indent = " ".repeat(7);
            for (i, line) in text.lines().enumerate() {
                out.push(if i == 0 {
                    format!("{head}{line}")
                } else {
                    format!("{indent}{line}")
                });
            }
        }
        Ok(())
    }

    /// Forgets the day shown last: the next message starts with its day again.
    pub fn break_here(&mut self, out: &mut Vec<String>) {
        if self.day.take().is_some() {
            out.push("--".into());
        }
    }

    fn text_of(&self, row: &MessageRow, media: Option<&MessageMedia>) -> String {
        if row.revoked_at.is_some() {
            return self.paint("9", "(deleted)");
        }
        let mut text = row.content.clone();
        if let Some(media) = media {
            if let Some(said) = &media.transcript {
                text = format!("{text} «{said}»");
            }
            if let Some(path) = &media.file.local_path {
                text.push_str(
                    &self.paint("2", &format!(" ({})", self.store_dir.join(path).display())),
                );
            }
        }
        if row.edited_at.is_some() {
            text.push_str(&self.paint("2", " (edited)"));
        }
        text
    }

    fn quote(&mut self, chat: &str, id: &str) -> Result<String> {
        let said = match self.db.message(chat, id)? {
            Some(q) => {
                let who = self.names.author_of(Written::of_row(&q));
                let words: String = q
                    .content
                    .replace('\n', " ")
                    .chars()
                    .take(QUOTE_CHARS)
                    .collect();
                let cut = if q.content.chars().count() > QUOTE_CHARS {
                    "…"
                } else {
                    ""
                };
                format!("↪ {who}: {words}{cut}")
            }
            None => "↪ (a message not in the archive)".into(),
        };
        Ok(self.paint("2", &said))
    }

    /// `text` in an SGR style when colour is on.
    fn paint(&self, style: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{style}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}
