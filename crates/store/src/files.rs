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
pub fn create_private(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .doing(|| format!("opening database {}", path.display()))?;
    Ok(())
}
