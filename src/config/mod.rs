//! The configuration as the commands see it: [`load`] reads app.json and looks the
//! secrets up; what the values mean is `wabot_core::config`.

mod secrets;

use std::path::{Path, PathBuf};

use anyhow::Result;

pub use wabot_core::config::*;

use crate::error;

/// Where the configuration comes from, as the command line and environment said.
pub struct Source {
    /// `--config` / `WABOT_CONFIG`; `None` means `./app.json`.
    pub config: Option<PathBuf>,
    /// `--db` / `WABOT_DB`, overriding `database.path`.
    pub db: Option<PathBuf>,
}

/// Reads app.json (a missing default file is fine when `--db` names the database) and
/// looks the secrets up in the environment, then in the `.env` and `wabot.env` files
/// beside it.
pub fn load(source: &Source) -> Result<Config> {
    let explicit = source.config.is_some();
    let path = source
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from("app.json"));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit && source.db.is_some() => {
            None
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(error::config(format!(
                "{}: no such file (pass --config PATH or set WABOT_CONFIG; app.json.example shows every key)",
                path.display()
            )));
        }
        Err(e) => return Err(error::config(format!("{}: {e}", path.display()))),
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // `wabot.env` is the file the systemd units read (deploy/): read beside app.json too,
    // cron's runs find the same secrets as the listener's.
    let env_files = secrets::FILES.map(|name| dir.join(name));
    let lookup = |name: &str| secrets::lookup(&env_files, name);
    Config::from_text(path, text.as_deref(), source.db.clone(), &lookup)
}
