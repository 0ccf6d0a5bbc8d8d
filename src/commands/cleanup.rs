//! `wabot cleanup`: retention, run daily from cron.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{Context, Result};
use serde::Serialize;

use super::{load_config, logged_job, open_db};
use crate::cli::{CleanupArgs, Global};
use crate::clock::{self, DAY_MS};
use crate::db::{ArchivedMessage, CleanupCounts, Cutoffs, Db};
use crate::output;

#[derive(Debug, Serialize)]
struct Report {
    /// Messages stored before this instant (Unix ms) were due.
    cutoff: i64,
    dry_run: bool,
    /// Set when the run did nothing because the last cleanup is recent.
    not_due_until: Option<i64>,
    deleted: CleanupCounts,
    archived: usize,
}

pub fn run(global: &Global, args: &CleanupArgs) -> Result<()> {
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let now = clock::now_ms();
    let days = args
        .retention_days
        .map_or(config.file.rotation.retention_days, i64::from);
    let cut = Cutoffs {
        before: now.saturating_sub(days.saturating_mul(DAY_MS)),
        now,
    };
    let mut report = Report {
        cutoff: cut.before,
        dry_run: args.dry_run,
        not_due_until: None,
        deleted: CleanupCounts::default(),
        archived: 0,
    };
    let interval = config.file.rotation.cleanup_interval_hours * 3_600_000;
    let last = db.last_successful("cleanup")?;
    let explicit = args.force || args.retention_days.is_some();
    if let Some(due) = last
        .map(|t| t + interval)
        .filter(|due| *due > now && !explicit)
    {
        report.not_due_until = Some(due);
    } else if args.dry_run {
        report.deleted = db.cleanup_preview(&cut)?;
    } else {
        let archive = args.archive.as_deref();
        let (deleted, archived) = logged_job(
            &mut db,
            "cleanup",
            |db| sweep(db, &cut, archive),
            |(d, a)| serde_json::json!({"deleted": d, "archived": a}),
        )?;
        report.deleted = deleted;
        report.archived = archived;
    }
    if args.output.json {
        return output::print_json(&report);
    }
    if output::stdout_is_terminal() {
        let d = &report.deleted;
        let verb = if args.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        match report.not_due_until {
            Some(due) => output::line(format_args!(
                "cleanup is not due until {} (--force runs it now)",
                clock::display(due, config.timezone())
            ))?,
            None => output::line(format_args!(
                "{verb} {} messages, {} sessions, {} outbox rows, {} LLM call records, {} job records, {} media files{}",
                d.messages,
                d.sessions,
                d.outbox,
                d.llm_calls,
                d.job_runs,
                d.media_files,
                if report.archived > 0 {
                    format!("; archived {}", report.archived)
                } else {
                    String::new()
                }
            ))?,
        }
    }
    Ok(())
}

fn sweep(
    db: &mut Db,
    cut: &Cutoffs,
    archive: Option<&std::path::Path>,
) -> Result<(CleanupCounts, usize)> {
    let mut archived = 0;
    let mut writer = match archive {
        Some(path) => Some((
            path,
            BufWriter::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(path)
                    .with_context(|| format!("opening archive {}", path.display()))?,
            ),
        )),
        None => None,
    };
    let mut keep = |rows: &[ArchivedMessage]| -> Result<()> {
        let Some((path, out)) = writer.as_mut() else {
            return Ok(());
        };
        for row in rows {
            serde_json::to_writer(&mut *out, row)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        // The rows are deleted right after: they must be on disk first.
        out.get_ref()
            .sync_data()
            .with_context(|| format!("syncing archive {}", path.display()))?;
        archived += rows.len();
        Ok(())
    };
    let messages = db.delete_old_messages(cut.before, &mut keep)?;
    let mut counts = db.delete_old_records(cut)?;
    counts.messages = messages;
    Ok((counts, archived))
}
