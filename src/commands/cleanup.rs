//! `wabot cleanup`: retention, run daily from cron.

use anyhow::Result;
use serde::Serialize;

use super::{load_config, logged_job, open_db};
use crate::cli::{CleanupArgs, Global};
use crate::clock::{self, DAY_MS};
use crate::db::{CleanupCounts, Cutoffs};
use crate::jobs::cleanup::sweep;
use crate::output;

#[derive(Debug, Serialize)]
struct Report {
    /// Messages stored before this instant (Unix ms) were due.
    cutoff_at: i64,
    dry_run: bool,
    /// Set when the run did nothing because the last cleanup is recent: when it is due.
    next_due_at: Option<i64>,
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
        include_history: args.include_history || config.file.rotation.include_history,
    };
    let mut report = Report {
        cutoff_at: cut.before,
        dry_run: args.dry_run,
        next_due_at: None,
        deleted: CleanupCounts::default(),
        archived: 0,
    };
    let interval = config.file.rotation.cleanup_interval_hours * 3_600_000;
    let last = db.last_successful("cleanup")?;
    let explicit = args.force || args.retention_days.is_some() || args.include_history;
    if let Some(due) = last
        .map(|t| t + interval)
        .filter(|due| *due > now && !explicit)
    {
        report.next_due_at = Some(due);
    } else if args.dry_run {
        report.deleted = db.cleanup_preview(&cut)?;
    } else {
        // Only a run that is due deletes: an hourly cron line says nothing otherwise.
        if cut.include_history {
            confirm_history(&db, &cut, args)?;
        }
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
        match report.next_due_at {
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

/// Deleting imported or synced history is said, and on a terminal asked, first: it is
/// an archive the owner brought in, not a backlog. Asked for this once (the flag) it is
/// said on stderr; under the setting, without a terminal, it goes to the log's info
/// level, so cron does not mail it every time history ages.
fn confirm_history(db: &crate::db::Db, cut: &Cutoffs, args: &CleanupArgs) -> Result<()> {
    let history = db.old_history(cut)?;
    if history == 0 {
        return Ok(());
    }
    let said = format!("cleanup deletes {history} messages of imported or synced history");
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdin());
    if args.include_history || terminal {
        log::warn!("{said}");
    } else {
        log::info!("{said} (rotation.include_history)");
    }
    if args.yes || !terminal {
        // Nobody to ask: the setting or the flag was the owner's answer.
        return Ok(());
    }
    output::confirm(
        &format!("delete {history} messages of imported or synced history?"),
        "",
    )
}
