//! `wabot export`: a chat (or every chat, or what a search found) written out whole,
//! as WhatsApp's own txt layout (which `import --format whatsapp-export` reads back),
//! JSON, CSV or one HTML page.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::TimeZone;

use super::search::range;
use super::show::stored_chat;
use super::{load_config, read_db};
use crate::chats::{Names, Written};
use crate::cli::{ExportArgs, ExportFormat, Global};
use crate::config::Config;
use crate::db::{Db, MessageRow, SearchFilter, SearchOrder};
use crate::error::{self, Kind};

/// What the txt layout calls the account's own messages: `import --me Me` reads it back.
pub const ME: &str = "Me";

pub fn run(global: &Global, args: &ExportArgs) -> Result<()> {
    let config = load_config(global)?;
    let db = read_db(&config)?;
    let range = range(
        args.since.as_deref(),
        args.until.as_deref(),
        config.timezone(),
    )?;
    let mut names = Names::new(&db, &config);
    if args.all {
        let dir = args.output.as_deref().context("--all needs --output DIR")?;
        return every_chat(&db, &config, args.format, range, dir, &mut names);
    }
    let chat = args
        .chat
        .as_deref()
        .map(|given| stored_chat(&db, &config, given))
        .transpose()?;
    let (title, rows) = match (&args.search, chat) {
        (Some(query), chat) => {
            if chat.is_none() && args.format == ExportFormat::Txt {
                return Err(error::failure(
                    Kind::Usage,
                    "--format txt is WhatsApp's layout of one chat: export a search across \
                     chats as json, csv or html, or name the chat",
                ));
            }
            let rows = matching(&db, query, chat.as_deref(), range)?;
            let title = match &chat {
                Some(chat) => format!("{query} in {}", names.of(chat)),
                None => query.clone(),
            };
            (title, rows)
        }
        (None, Some(chat)) => (
            names.of(&chat),
            // The whole range: SQLite's LIMIT takes an i64, so "no limit" is its largest.
            db.messages_in(&chat, range.0, range.1, i64::MAX as usize)?,
        ),
        (None, None) => {
            return Err(error::failure(
                Kind::Usage,
                "name a chat, or give --all or --search",
            ));
        }
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(private_file(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let export = Export {
        title: &title,
        rows: &rows,
        across: args.search.is_some() && args.chat.is_none(),
    };
    export.write(&mut out, args.format, &db, &config, &mut names)?;
    out.flush()?;
    Ok(())
}

/// Messages of one file, and how they are labelled.
struct Export<'a> {
    title: &'a str,
    rows: &'a [MessageRow],
    /// The rows come from several chats: each is labelled with its chat.
    across: bool,
}

impl Export<'_> {
    fn write(
        &self,
        out: &mut dyn Write,
        format: ExportFormat,
        db: &Db,
        config: &Config,
        names: &mut Names,
    ) -> Result<()> {
        let tz = config.timezone();
        let rows = self.rows;
        let authors: Vec<String> = rows
            .iter()
            .map(|row| {
                let author = match row.is_from_me {
                    true => ME.to_string(),
                    false => names.author_of(Written::of_row(row)),
                };
                match self.across {
                    true => format!("{author} · {}", names.of(&row.chat_jid)),
                    false => author,
                }
            })
            .collect();
        match format {
            ExportFormat::Txt => txt(out, rows, &authors, tz)?,
            ExportFormat::Json => {
                // The same shape as `show --json`, in the same dialect.
                let messages: Vec<_> = rows
                    .iter()
                    .map(|row| crate::output::shapes::message(row, names, None))
                    .collect();
                serde_json::to_writer_pretty(&mut *out, &messages)?;
                writeln!(out)?;
            }
            ExportFormat::Csv => csv(out, rows, &authors, tz)?,
            ExportFormat::Html => {
                let mut media = HashMap::new();
                for (chat, ids) in ids_by_chat(rows) {
                    for m in db.media_of_messages(chat, &ids)? {
                        media.insert(m.file.message_id.clone(), m);
                    }
                }
                let store_dir = config
                    .database_path
                    .parent()
                    .unwrap_or(std::path::Path::new("."));
                super::export_html::Page {
                    title: self.title,
                    tz,
                    rows,
                    authors: &authors,
                    media: &media,
                    store_dir,
                }
                .write(out)?;
            }
        }
        Ok(())
    }
}

/// The message ids of each chat among `rows`.
fn ids_by_chat(rows: &[MessageRow]) -> BTreeMap<&str, Vec<&str>> {
    let mut by_chat: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for row in rows {
        by_chat.entry(&row.chat_jid).or_default().push(&row.id);
    }
    by_chat
}

/// Every message matching `query` (in `chat`, in the range), oldest first.
fn matching(
    db: &Db,
    query: &str,
    chat: Option<&str>,
    (since, until): (Option<i64>, Option<i64>),
) -> Result<Vec<MessageRow>> {
    let filter = SearchFilter {
        chat,
        since,
        until,
        limit: i64::MAX as usize,
        order: SearchOrder::Newest,
        ..SearchFilter::default()
    };
    let mut rows = Vec::new();
    for hit in db.search(query, &filter)? {
        // A hit whose message cleanup removed meanwhile is simply not exported.
        rows.extend(db.message(&hit.chat_jid, &hit.id)?);
    }
    rows.reverse();
    Ok(rows)
}

/// `--all`: each chat with messages in the range as its own file in `dir`, named by the
/// chat's name and number so that names alike stay apart; an HTML export gets an
/// `index.html` linking them.
fn every_chat(
    db: &Db,
    config: &Config,
    format: ExportFormat,
    (since, until): (Option<i64>, Option<i64>),
    dir: &Path,
    names: &mut Names,
) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("--output: cannot create the directory {}", dir.display()))?;
    let mut written = Vec::new();
    for chat in db.chats()? {
        let rows = db.messages_in(&chat.jid, since, until, i64::MAX as usize)?;
        if rows.is_empty() {
            continue;
        }
        let title = names.of(&chat.jid);
        let file = format!("{}.{}", file_stem(&title, &chat.jid), extension(format));
        let mut out = std::io::BufWriter::new(private_file(&dir.join(&file))?);
        let export = Export {
            title: &title,
            rows: &rows,
            across: false,
        };
        export.write(&mut out, format, db, config, names)?;
        out.flush()?;
        written.push((title, file, rows.len()));
    }
    if format == ExportFormat::Html {
        let mut index = std::io::BufWriter::new(private_file(&dir.join("index.html"))?);
        super::export_html::index(&mut index, &written)?;
        index.flush()?;
    }
    let messages: usize = written.iter().map(|(_, _, n)| n).sum();
    println!(
        "{} chats, {messages} messages written to {}",
        written.len(),
        dir.display()
    );
    Ok(())
}

/// A file name for a chat: its name's letters and digits, then the JID's user part
/// (unique per chat), so `ls` sorts by name and no two chats share a file.
fn file_stem(name: &str, jid: &str) -> String {
    let mut stem = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            stem.push(c);
        } else if !stem.is_empty() && !stem.ends_with('-') {
            stem.push('-');
        }
    }
    let user = jid.split('@').next().unwrap_or(jid);
    let user: String = user.chars().filter(char::is_ascii_alphanumeric).collect();
    let stem = stem.trim_end_matches('-');
    match stem.is_empty() || stem == user {
        true => user,
        false => format!("{stem}-{user}"),
    }
}

fn extension(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Txt => "txt",
        ExportFormat::Json => "json",
        ExportFormat::Csv => "csv",
        ExportFormat::Html => "html",
    }
}

/// `[2024-01-15, 14:30:00] Alice: text`, continuation lines as they are, in the
/// configured zone; the ISO date keeps the day and month unambiguous on import.
fn txt(
    out: &mut dyn Write,
    rows: &[MessageRow],
    authors: &[String],
    tz: chrono_tz::Tz,
) -> Result<()> {
    for (row, author) in rows.iter().zip(authors) {
        let Some(at) = tz.timestamp_millis_opt(row.timestamp).single() else {
            continue;
        };
        let text = if row.revoked_at.is_some() {
            "This message was deleted"
        } else {
            row.content.as_str()
        };
        writeln!(
            out,
            "[{}] {author}: {text}",
            at.format("%Y-%m-%d, %H:%M:%S")
        )?;
    }
    Ok(())
}

fn csv(
    out: &mut dyn Write,
    rows: &[MessageRow],
    authors: &[String],
    tz: chrono_tz::Tz,
) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "time",
        "chat",
        "id",
        "author",
        "from_me",
        "type",
        "text",
        "quoted_id",
        "edited",
        "deleted",
    ])?;
    for (row, author) in rows.iter().zip(authors) {
        let time = tz
            .timestamp_millis_opt(row.timestamp)
            .single()
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        w.write_record([
            time.as_str(),
            &row.chat_jid,
            &row.id,
            author,
            if row.is_from_me { "true" } else { "false" },
            row.message_type.as_str(),
            &row.content,
            row.quoted_id.as_deref().unwrap_or(""),
            if row.edited_at.is_some() {
                "true"
            } else {
                "false"
            },
            if row.revoked_at.is_some() {
                "true"
            } else {
                "false"
            },
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// A new file readable by its owner only: an export holds messages.
fn private_file(path: &std::path::Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("--output: cannot write {}", path.display()))
}
