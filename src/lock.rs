//! The WhatsApp connection has one owner: an exclusive OS lock on a file beside the
//! database. The holder's pid is written into the file so others can name it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::{self, Kind};

/// Held until dropped; the OS releases it if the process dies.
#[derive(Debug)]
pub struct ConnectionLock {
    _file: File,
}

pub fn path_for(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the lock, or fails with exit 69 naming the process that holds it.
pub fn acquire(database: &Path) -> Result<ConnectionLock> {
    let path = path_for(database);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::files::create_private_dir(dir)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            let who = if pid.is_empty() {
                "unknown".into()
            } else {
                pid.to_string()
            };
            // Temporary, not "needs a human": the holder may be a job about to finish or
            // a listener on its way out, and systemd's RestartPreventExitStatus=69 would
            // otherwise stop the listener for good.
            return Err(error::failure(
                Kind::Temporary,
                format!(
                    "another wabot process (pid {who}) holds the WhatsApp connection; try again when it has finished"
                ),
            ));
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    file.flush()?;
    Ok(ConnectionLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_clashes_are_not_needs_a_human() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("wabot.db");
        let first = acquire(&db).unwrap();
        let err = acquire(&db).unwrap_err();
        assert_eq!(
            error::exit_code(&err),
            75,
            "retryable, not a permanent stop"
        );
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        acquire(&db).unwrap();
    }
}
