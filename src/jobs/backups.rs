//! Backup files in `backup.dir`: their names (UTC time, so DST never makes two equal)
//! and their rotation.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDateTime};

use crate::clock::DAY_MS;

const PREFIX: &str = "wabot-";
const FORMAT: &str = "%Y%m%d-%H%M%S";

/// `wabot-YYYYmmdd-HHMMSS.db` for the instant `now`, not yet taken in `dir`.
pub fn new_path(dir: &Path, now: i64) -> PathBuf {
    let stamp = DateTime::from_timestamp_millis(now)
        .unwrap_or_default()
        .format(FORMAT)
        .to_string();
    let mut path = dir.join(format!("{PREFIX}{stamp}.db"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{PREFIX}{stamp}-{n}.db"));
        n += 1;
    }
    path
}

/// The device store's copy that belongs to a database backup.
pub fn device_path(backup: &Path) -> PathBuf {
    backup.with_extension("device.db")
}

/// When a backup file was taken, from its name; `None` for files that are not ours.
fn taken_at(name: &str) -> Option<i64> {
    let stem = name.strip_prefix(PREFIX)?.strip_suffix(".db")?;
    if stem.ends_with(".device") {
        return None;
    }
    let stamp = stem.get(..15)?;
    let at = NaiveDateTime::parse_from_str(stamp, FORMAT).ok()?;
    Some(at.and_utc().timestamp_millis())
}

/// A partial copy untouched for this long belongs to a backup that was killed (a live
/// one writes every few milliseconds).
pub const STALE_PARTIAL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Removes the partial copies (`wabot-….db.partial`) that killed backups left in `dir`,
/// with the rollback journal SQLite keeps beside one (`….db.partial-journal`); returns
/// them. Only names wabot gives its backups are touched.
pub fn remove_stale_partials(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(removed);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let partial = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| {
                n.strip_suffix(".partial")
                    .or_else(|| n.strip_suffix(".partial-journal"))
            })
            .and_then(taken_at)
            .is_some();
        let idle = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= STALE_PARTIAL);
        if partial && idle {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            removed.push(path);
        }
    }
    Ok(removed)
}

pub struct Retention {
    pub keep: Option<u32>,
    pub keep_days: Option<u32>,
}

/// Removes the backups (and their device-store copies) in `dir` that neither rule keeps:
/// a backup stays if it is among the newest `keep` or younger than `keep_days`.
/// `protect` is never removed. Returns what was removed.
pub fn rotate(dir: &Path, rule: &Retention, now: i64, protect: &Path) -> Result<Vec<PathBuf>> {
    let mut backups: Vec<(i64, PathBuf)> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let at = taken_at(path.file_name()?.to_str()?)?;
            Some((at, path))
        })
        .collect();
    backups.sort_by(|a, b| b.cmp(a));
    let mut removed = Vec::new();
    for (rank, (at, path)) in backups.into_iter().enumerate() {
        let by_count = rule.keep.is_some_and(|n| rank < n as usize);
        let by_age = rule
            .keep_days
            .is_some_and(|days| now.saturating_sub(at) < i64::from(days) * DAY_MS);
        if by_count || by_age || path == protect {
            continue;
        }
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        let device = device_path(&path);
        if device.exists() {
            std::fs::remove_file(&device)?;
        }
        removed.push(path);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_and_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_705_329_000_000;
        let first = new_path(dir.path(), now);
        assert_eq!(first.file_name().unwrap(), "wabot-20240115-143000.db");
        std::fs::write(&first, "x").unwrap();
        assert_eq!(
            new_path(dir.path(), now).file_name().unwrap(),
            "wabot-20240115-143000-2.db"
        );
        assert_eq!(taken_at("wabot-20240115-143000-2.db"), Some(now));
        assert_eq!(taken_at("wabot-20240115-143000.device.db"), None);
        assert_eq!(taken_at("notes.db"), None);
    }

    #[test]
    fn keeps_the_newest_n_or_the_young_and_their_device_copies_go_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_705_329_000_000;
        let paths: Vec<PathBuf> = (0..5)
            .map(|age_days| {
                let p = new_path(dir.path(), now - age_days * DAY_MS);
                std::fs::write(&p, "x").unwrap();
                std::fs::write(device_path(&p), "d").unwrap();
                p
            })
            .collect();
        std::fs::write(dir.path().join("unrelated.txt"), "keep me").unwrap();
        let rule = Retention {
            keep: Some(2),
            keep_days: Some(3),
        };
        let removed = rotate(dir.path(), &rule, now, &paths[0]).unwrap();
        assert_eq!(removed, [paths[3].clone(), paths[4].clone()]);
        assert!(!device_path(&paths[4]).exists());
        assert!(paths[2].exists() && device_path(&paths[2]).exists());
        let only_count = Retention {
            keep: Some(1),
            keep_days: None,
        };
        let removed = rotate(dir.path(), &only_count, now, &paths[0]).unwrap();
        assert_eq!(removed, [paths[1].clone(), paths[2].clone()]);
        assert!(dir.path().join("unrelated.txt").exists());
    }
}
