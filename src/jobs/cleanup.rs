//! Retention: messages and records older than the cutoff deleted, optionally archived
//! as JSON lines first (on disk, synced, before their rows go).

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};

use crate::db::{ArchivedMessage, CleanupCounts, Cutoffs, Db};

/// Deletes what `cut` makes due, appending the messages to `archive` first when given;
/// returns the counts and how many messages were archived.
pub fn sweep(db: &mut Db, cut: &Cutoffs, archive: Option<&Path>) -> Result<(CleanupCounts, usize)> {
    let mut archived = 0;
    let mut writer = match archive {
        Some(path) => Some((
            path,
            BufWriter::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(path)
                    .with_context(|| format!("opening archive {}", path.display()))?,
            ),
        )),
        None => None,
    };
    let mut keep = |rows: &[ArchivedMessage]| -> Result<()> {
        let Some((path, out)) = writer.as_mut() else {
            return Ok(());
        };
        for row in rows {
            serde_json::to_writer(&mut *out, row)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        // The rows are deleted right after: they must be on disk first.
        out.get_ref()
            .sync_data()
            .with_context(|| format!("syncing archive {}", path.display()))?;
        archived += rows.len();
        Ok(())
    };
    let messages = db.delete_old_messages(cut, &mut keep)?;
    let mut counts = db.delete_old_records(cut)?;
    counts.messages = messages;
    Ok((counts, archived))
}
