//! `wabot backup` and `wabot restore`.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use serde::Serialize;

use super::{load_config, open_db};
use crate::backups::{self, Retention};
use crate::cli::{BackupArgs, Global, RestoreArgs};
use crate::clock;
use crate::db::{self, Check, Db};
use crate::{files, lock, output};

#[derive(Debug, Serialize)]
struct BackupReport {
    path: String,
    bytes: u64,
    seconds: f64,
    /// How the copy was verified: `quick_check` or `integrity_check` (`--full-check`).
    verified: Check,
    device_store: Option<String>,
    removed: Vec<String>,
}

pub fn run(global: &Global, args: &BackupArgs) -> Result<()> {
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let now = clock::now_ms();
    let dir = &config.backup_dir;
    let target = match &args.output {
        Some(path) => path.clone(),
        None => {
            files::create_private_dir(dir)?;
            backups::new_path(dir, now)
        }
    };
    let bar = output::progress_bar(
        0,
        "backup {bar:40} {pos}/{len} pages",
        global.quiet || args.json.json,
    );
    let device = config.device_store_path();
    let check = if args.full_check {
        Check::IntegrityCheck
    } else {
        Check::QuickCheck
    };
    let started = Instant::now();
    let result = (|| -> Result<BackupReport> {
        let db = &mut db;
        let rule = Retention {
            // Both settings are range-checked at load, so they fit.
            keep: args
                .keep
                .or(config.file.backup.keep.and_then(|k| u32::try_from(k).ok())),
            keep_days: args
                .keep_days
                .or(u32::try_from(config.file.backup.keep_days).ok()),
        };
        // Only in backup.dir, which wabot owns; an --output elsewhere is left alone.
        if args.output.is_none() {
            for stale in backups::remove_stale_partials(dir)? {
                log::info!(
                    "removed {}, left by a backup that was killed",
                    stale.display()
                );
            }
        }
        write_backup(db, &target, check, &device, &bar)?;
        let removed = if args.output.is_none() {
            backups::rotate(dir, &rule, now, &target)?
        } else {
            Vec::new()
        };
        Ok(BackupReport {
            path: target.display().to_string(),
            bytes: std::fs::metadata(&target).map_or(0, |m| m.len()),
            seconds: started.elapsed().as_secs_f64(),
            verified: check,
            device_store: device
                .exists()
                .then(|| backups::device_path(&target).display().to_string()),
            removed: removed.iter().map(|p| p.display().to_string()).collect(),
        })
    })();
    let summary = match &result {
        Ok(report) => serde_json::to_value(report).unwrap_or_default(),
        Err(e) => serde_json::json!({ "error": format!("{e:#}") }),
    };
    db.record_job("backup", now, result.is_ok(), &summary)?;
    let report = result?;
    bar.finish_and_clear();
    if args.json.json {
        return output::print_json(&report);
    }
    if output::stdout_is_terminal() {
        output::line(format_args!(
            "backed up to {} ({}, {:.1} s){}",
            report.path,
            indicatif::HumanBytes(report.bytes),
            report.seconds,
            if report.removed.is_empty() {
                String::new()
            } else {
                format!("; removed {} old backups", report.removed.len())
            }
        ))?;
    }
    Ok(())
}

/// Copies into a temporary name first, so a backup that exists under its final name is
/// always complete and verified.
fn write_backup(
    db: &Db,
    target: &Path,
    check: Check,
    device: &Path,
    bar: &ProgressBar,
) -> Result<()> {
    let temporary = target.with_extension("db.partial");
    let result = db
        .backup_to(&temporary, check, &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .map_err(anyhow::Error::from)
        .and_then(|()| {
            std::fs::rename(&temporary, target)
                .with_context(|| format!("renaming to {}", target.display()))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result?;
    if device.exists() {
        db::copy_file(device, &backups::device_path(target))
            .context("backing up the device store")?;
    }
    if let Some(dir) = target.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).ok();
    }
    Ok(())
}

pub fn restore(global: &Global, args: &RestoreArgs) -> Result<()> {
    let config = load_config(global)?;
    let path = &config.database_path;
    // No listener may hold the connection (or the database) while it is replaced.
    let _lock = lock::acquire(path)?;
    let version = db::verify(&args.file)?;
    if !args.yes {
        output::confirm(
            &format!(
                "Replace {} with the backup {} (schema {version})? The current database is kept as {}.pre-restore.",
                path.display(),
                args.file.display(),
                path.display()
            ),
            "restore replaces the database: pass --yes when not running interactively",
        )?;
    }
    let mut db = Db::open(path)?;
    let mut keep = path.as_os_str().to_owned();
    keep.push(".pre-restore");
    let keep = std::path::PathBuf::from(keep);
    let _ = std::fs::remove_file(&keep);
    db.backup_to(&keep, Check::QuickCheck, &|_, _| {})
        .context("keeping the current database")?;
    db.restore_from(&args.file)?;
    let device_backup = backups::device_path(&args.file);
    if device_backup.exists() {
        db::overwrite_file(&device_backup, &config.device_store_path())
            .context("restoring the device store")?;
    }
    if !global.quiet {
        eprintln!(
            "restored {} from {}; the previous database is {}",
            path.display(),
            args.file.display(),
            keep.display()
        );
    }
    Ok(())
}
