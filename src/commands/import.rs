//! `wabot import`: bring messages from files into the store.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

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
    let progress = progress_bar(global, args);
    let input = open_input(&args.file, &progress)?;
    let policy = Policy::new(&config);
    let status_of = |m: &crate::message::NewMessage| Some(policy.on_import(m, args.as_new));
    let summary = logged_job(
        &mut db,
        "import",
        |db| match &export {
            None => import::jsonl(db, input, &status_of),
            Some(options) => import::whatsapp_export(db, input, options, &status_of),
        },
        |s| serde_json::json!({"imported": s.imported, "duplicates": s.duplicates, "rejected": s.rejected}),
    )?;
    progress.finish_and_clear();
    report(global, args, &summary)?;
    if summary.imported == 0 && summary.duplicates == 0 && summary.rejected > 0 {
        bail!(
            "{}: no line could be imported ({} rejected)",
            args.file.display(),
            summary.rejected
        );
    }
    Ok(())
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
    if global.quiet || args.output.json || !output::stderr_is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(style);
    }
    bar
}

fn report(global: &Global, args: &ImportArgs, summary: &Summary) -> Result<()> {
    if args.output.json {
        return output::print_json(summary);
    }
    if !global.quiet {
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
        output::line(format_args!(
            "imported {} messages ({} already stored, {} rejected)",
            summary.imported, summary.duplicates, summary.rejected
        ))?;
    }
    Ok(())
}
