//! `wabot vacuum`: compact the database, weekly from cron.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::{load_config, logged_job, open_db};
use crate::cli::{Global, VacuumArgs};
use crate::output;

#[derive(Debug, Serialize)]
struct Report {
    size_before_bytes: u64,
    size_after_bytes: u64,
    seconds: f64,
    into: Option<String>,
}

pub fn run(global: &Global, args: &VacuumArgs) -> Result<()> {
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let before = db.file_size();
    let target_dir = match &args.into {
        Some(path) => {
            if path.exists() {
                bail!(
                    "{} already exists; VACUUM INTO needs a new file",
                    path.display()
                );
            }
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf()
        }
        None => config
            .database_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf(),
    };
    check_free_space(&target_dir, before)?;
    let started = Instant::now();
    let report = logged_job(
        &mut db,
        "vacuum",
        |db| {
            db.vacuum(args.into.as_deref())?;
            Ok(Report {
                size_before_bytes: before,
                size_after_bytes: match &args.into {
                    Some(path) => std::fs::metadata(path).map_or(0, |m| m.len()),
                    None => db.file_size(),
                },
                seconds: started.elapsed().as_secs_f64(),
                into: args.into.as_ref().map(|p| p.display().to_string()),
            })
        },
        |r| serde_json::to_value(r).unwrap_or_default(),
    )?;
    if args.output.json {
        return output::print_json(&report);
    }
    if output::stdout_is_terminal() {
        output::line(format_args!(
            "{} → {} in {:.1} s",
            indicatif::HumanBytes(report.size_before_bytes),
            indicatif::HumanBytes(report.size_after_bytes),
            report.seconds
        ))?;
    }
    Ok(())
}

/// VACUUM writes a full copy of the database before it replaces the old one.
fn check_free_space(dir: &Path, needed: u64) -> Result<()> {
    let stat = rustix::fs::statvfs(dir)
        .with_context(|| format!("checking free space in {}", dir.display()))?;
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    let margin = needed / 10 + (1 << 20);
    if free < needed + margin {
        bail!(
            "not enough free space in {}: VACUUM needs about {} and {} are free",
            dir.display(),
            indicatif::HumanBytes(needed + margin),
            indicatif::HumanBytes(free)
        );
    }
    Ok(())
}
