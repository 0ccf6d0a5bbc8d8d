//! Secrets come from the environment first, then from the env files beside app.json:
//! `.env`, then `wabot.env` (the deploy's `EnvironmentFile`, so systemd and cron read
//! one file). Nothing here ever prints a value: a malformed line is named by number
//! only.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error;

/// The env files read beside app.json, in this order.
pub const FILES: [&str; 2] = [".env", "wabot.env"];

pub fn lookup(files: &[PathBuf], name: &str) -> Result<Option<String>> {
    if let Some(value) = std::env::var_os(name) {
        let value = value.to_string_lossy().trim().to_string();
        return Ok((!value.is_empty()).then_some(value));
    }
    for file in files {
        if let Some(value) = lookup_in(file, name)? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

fn lookup_in(dotenv: &Path, name: &str) -> Result<Option<String>> {
    let entries = match dotenvy::from_path_iter(dotenv) {
        Ok(entries) => entries,
        Err(e) if e.not_found() => return Ok(None),
        Err(e) => return Err(error::config(format!("{}: {e}", dotenv.display()))),
    };
    warn_if_readable_by_others(dotenv);
    for entry in entries {
        match entry {
            Ok((key, value)) if key == name => {
                let value = value.trim().to_string();
                return Ok((!value.is_empty()).then_some(value));
            }
            Ok(_) => {}
            Err(dotenvy::Error::LineParse(line, _)) => {
                return Err(error::config(format!(
                    "{}: line {} is malformed (its content is not shown: it may hold a secret)",
                    dotenv.display(),
                    line_number(dotenv, &line)
                )));
            }
            Err(e) => return Err(error::config(format!("{}: {e}", dotenv.display()))),
        }
    }
    Ok(None)
}

/// 1-based line number of `line` in the file, or "?" if it cannot be found again.
fn line_number(path: &Path, line: &str) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.lines().position(|l| l.trim() == line.trim()))
        .map_or_else(|| "?".into(), |i| (i + 1).to_string())
}

fn warn_if_readable_by_others(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        log::warn!(
            "{} is readable by other users; chmod 600 it, it holds secrets",
            path.display()
        );
    }
}
