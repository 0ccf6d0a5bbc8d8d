//! `wabot export`: one chat written out whole, as WhatsApp's own txt layout (which
//! `import --format whatsapp-export` reads back), JSON, CSV or one HTML page.

use std::io::Write;

use anyhow::{Context, Result};
use chrono::TimeZone;

use super::search::range;
use super::show::stored_chat;
use super::{load_config, read_db};
use crate::chats::{Names, Written};
use crate::cli::{ExportArgs, ExportFormat, Global};
use crate::db::MessageRow;

/// What the txt layout calls the account's own messages: `import --me Me` reads it back.
pub const ME: &str = "Me";

pub fn run(global: &Global, args: &ExportArgs) -> Result<()> {
    let config = load_config(global)?;
    let tz = config.timezone();
    let db = read_db(&config)?;
    let chat = stored_chat(&db, &config, &args.chat)?;
    let (since, until) = range(args.since.as_deref(), args.until.as_deref(), tz)?;
    // The whole range: SQLite's LIMIT takes an i64, so "no limit" is its largest.
    let rows = db.messages_in(&chat, since, until, i64::MAX as usize)?;
    let mut names = Names::new(&db, &config);
    let authors: Vec<String> = rows
        .iter()
        .map(|row| match row.is_from_me {
            true => ME.to_string(),
            false => names.author_of(Written::of_row(row)),
        })
        .collect();
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(private_file(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match args.format {
        ExportFormat::Txt => txt(&mut out, &rows, &authors, tz)?,
        ExportFormat::Json => {
            // The same shape as `show --json`, in the same dialect.
            let messages: Vec<_> = rows
                .iter()
                .map(|row| crate::output::shapes::message(row, &mut names, None))
                .collect();
            serde_json::to_writer_pretty(&mut out, &messages)?;
            writeln!(out)?;
        }
        ExportFormat::Csv => csv(&mut out, &rows, &authors, tz)?,
        ExportFormat::Html => {
            let ids: Vec<&str> = rows.iter().map(|m| m.id.as_str()).collect();
            let media = db
                .media_of_messages(&chat, &ids)?
                .into_iter()
                .map(|m| (m.file.message_id.clone(), m))
                .collect();
            let store_dir = config
                .database_path
                .parent()
                .unwrap_or(std::path::Path::new("."));
            super::export_html::Page {
                title: &names.of(&chat),
                tz,
                rows: &rows,
                authors: &authors,
                media: &media,
                store_dir,
            }
            .write(&mut out)?;
        }
    }
    out.flush()?;
    Ok(())
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
