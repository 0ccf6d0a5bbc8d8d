//! `wabot import`: bring messages from files into the store.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;

use super::{create_db, load_config, logged_job};
use crate::cli::{Global, ImportArgs, ImportFormat};
use crate::config::Config;
use crate::error::{self, Kind};
use crate::import::{self, Summary};
use crate::output;
use crate::policy::Policy;

/// How many rejected lines a person sees on stderr; `--json` carries them all.
const SHOWN_ERRORS: usize = 20;

pub fn run(global: &Global, args: &ImportArgs) -> Result<()> {
    let config = load_config(global)?;
    let export = match args.format {
        ImportFormat::Jsonl => None,
        ImportFormat::WhatsappExport => Some(export_options(&config, args)?),
    };
    let mut db = create_db(&config)?;
    db.tune_for_bulk()?;
    let policy = Policy::new(&config);
    let status_of = |m: &crate::message::NewMessage| Some(policy.on_import(m, args.as_new));
    let summary = match &export {
        None => {
            let progress = progress_bar(global, args);
            let input = open_input(&args.file, &progress)?;
            let summary = logged_job(
                &mut db,
                "import",
                |db| import::jsonl(db, input, &status_of),
                job_summary,
            )?;
            progress.finish_and_clear();
            summary
        }
        Some(options) => {
            let input = open_seekable(&args.file)?;
            let media_dir = config.media_dir();
            let media = import::whatsapp::MediaStore {
                dir: &media_dir,
                max_bytes: u64::try_from(config.file.media.max_bytes).unwrap_or(u64::MAX),
            };
            let name = args.file.display().to_string();
            logged_job(
                &mut db,
                "import",
                |db| import::whatsapp::import(db, &name, input, options, &status_of, &media),
                job_summary,
            )?
        }
    };
    report(global, args, &summary, &config)?;
    if summary.imported == 0 && summary.duplicates == 0 && summary.rejected > 0 {
        bail!(
            "{}: no line could be imported ({} rejected)",
            args.file.display(),
            summary.rejected
        );
    }
    Ok(())
}

fn job_summary(s: &Summary) -> serde_json::Value {
    serde_json::json!({"imported": s.imported, "duplicates": s.duplicates, "rejected": s.rejected})
}

/// An export is read whole or, as a zip, by seeking: standard input is buffered first.
fn open_seekable(path: &Path) -> Result<Box<dyn import::whatsapp::Input>> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        return Ok(Box::new(std::io::Cursor::new(bytes)));
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(Box::new(file))
}

fn export_options(config: &Config, args: &ImportArgs) -> Result<import::export::Options> {
    let chat = args.chat.as_deref().unwrap_or_default();
    let chat_jid = crate::jid::normalize(chat)
        .map_err(|e| error::failure(Kind::Usage, format!("--chat {e}")))?;
    let zone = match &args.timezone {
        Some(name) => name.parse::<chrono_tz::Tz>().map_err(|_| {
            error::failure(
                Kind::Usage,
                format!("--timezone: {name:?} is not an IANA time zone"),
            )
        })?,
        None => config.timezone(),
    };
    Ok(import::export::Options {
        chat_jid,
        me: args.me.clone(),
        own_jid: config.self_jid(),
        zone,
        order: args.date_order,
        reimport: args.reimport,
    })
}

fn open_input(path: &Path, progress: &ProgressBar) -> Result<Box<dyn BufRead>> {
    if path == Path::new("-") {
        return Ok(Box::new(BufReader::new(
            progress.wrap_read(std::io::stdin().lock()),
        )));
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    if let Ok(meta) = file.metadata() {
        progress.set_length(meta.len());
    }
    Ok(Box::new(BufReader::with_capacity(
        1 << 16,
        progress.wrap_read(file),
    )))
}

fn progress_bar(global: &Global, args: &ImportArgs) -> ProgressBar {
    output::progress_bar(
        0,
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        global.quiet || args.output.json,
    )
}

fn report(global: &Global, args: &ImportArgs, summary: &Summary, config: &Config) -> Result<()> {
    if args.output.json {
        // Guesses and losses are said on stderr too: a script may not read the JSON.
        if let Some(export) = summary.export.as_ref().filter(|_| !global.quiet) {
            explain_export(&args.file, export);
        }
        return output::print_json(summary);
    }
    if !global.quiet {
        if let Some(export) = &summary.export {
            explain_export(&args.file, export);
        }
        for error in summary.errors.iter().take(SHOWN_ERRORS) {
            eprintln!("{}:{}: {}", args.file.display(), error.line, error.reason);
        }
        if summary.rejected > SHOWN_ERRORS {
            eprintln!(
                "… and {} more rejected lines (--json lists up to 1000)",
                summary.rejected - SHOWN_ERRORS
            );
        }
    }
    if output::stdout_is_terminal() {
        let skipped: Vec<String> = summary
            .export
            .iter()
            .flat_map(|e| &e.skipped)
            .map(|(why, n)| format!("{n} {}", why.replace('_', " ")))
            .collect();
        let skipped = if skipped.is_empty() {
            String::new()
        } else {
            format!("; skipped: {}", skipped.join(", "))
        };
        let media = summary
            .export
            .as_ref()
            .filter(|e| e.media.stored > 0)
            .map(|e| format!(", {} attached files kept", e.media.stored))
            .unwrap_or_default();
        let rotation = &config.file.rotation;
        let kept = if rotation.include_history {
            format!(
                "cleanup deletes them {} days after this import (rotation.include_history)",
                rotation.retention_days
            )
        } else {
            "cleanup keeps them (rotation.include_history is off)".to_string()
        };
        output::line(format_args!(
            "imported {} messages{media} ({} already stored, {} rejected{skipped}); {kept}",
            summary.imported, summary.duplicates, summary.rejected
        ))?;
    }
    Ok(())
}

/// Says on stderr what a person should know about how an export was read: a guessed
/// date order, a guessed or lossy encoding, skipped lines and missing attachments.
fn explain_export(file: &Path, export: &import::whatsapp::ExportReport) {
    let file = file.display();
    if export.date_order_guessed {
        eprintln!(
            "{file}: dates read as {} ({:?}): a guess, since another order also fits every date; \
             the chosen one makes the times run forward most smoothly (--date-order to force)",
            export.date_order.name(),
            export.date_order
        );
    }
    let decoding = &export.decoding;
    if decoding.lossy() {
        eprintln!(
            "{file}: text read as {}{}{}: check names and accents",
            decoding.encoding,
            if decoding.encoding_guessed {
                " (a guess: it is not UTF-8)"
            } else {
                ""
            },
            if decoding.replaced > 0 {
                format!(", {} unreadable characters replaced", decoding.replaced)
            } else {
                String::new()
            }
        );
    }
    if export.media.missing > 0 && export.archive_chat.is_some() {
        eprintln!(
            "{file}: {} attachments named in the chat are not in it (export \"with media\" as a zip to keep them)",
            export.media.missing
        );
    }
    for failure in &export.media.failed {
        eprintln!("{file}: attachment not kept: {failure}");
    }
}
