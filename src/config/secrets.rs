//! Secrets come from the environment first, then from a `.env` file beside app.json.
//! Nothing here ever prints a value: a malformed `.env` line is named by number only.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Result;

use crate::error;

pub fn lookup(dotenv: &Path, name: &str) -> Result<Option<String>> {
    if let Some(value) = std::env::var_os(name) {
        let value = value.to_string_lossy().trim().to_string();
        return Ok((!value.is_empty()).then_some(value));
    }
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
