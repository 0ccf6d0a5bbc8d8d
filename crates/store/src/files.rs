//! Private files and directories: everything that holds messages or keys is created
//! readable by its owner only, from the first instant.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use crate::Result;
use crate::error::Doing;

/// Creates a directory (0700) and its parents, if missing.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .doing(|| format!("creating directory {}", dir.display()))?;
    }
    Ok(())
}

/// Creates the database's directory (0700) and file (0600) if they do not exist, so
/// messages are never readable by other users, not even for a moment.
///
/// An existing file is never opened here. POSIX locks belong to the process, and
/// closing any descriptor of a file drops all of them, those of SQLite connections
/// already open included (SQLite's "How To Corrupt An SQLite Database File", §2.2):
/// another process could then checkpoint and delete the WAL under them. `create_new`
/// (O_EXCL) opens only a file it has just created, which no connection can have open.
pub fn create_private(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    if path.exists() {
        return Ok(());
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        // Another thread or process created it between the two steps.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).doing(|| format!("creating database {}", path.display())),
    }
}
