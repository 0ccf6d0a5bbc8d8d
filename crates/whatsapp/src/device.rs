//! whatsapp-rust's own device store (identity and Signal keys): a separate SQLite file
//! beside the database, created private, read here only to learn whether we are paired.

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// The linked account's JID (`15550001111:12@s.whatsapp.net`), if the store is paired.
pub fn paired_as(store: &Path) -> Result<Option<String>> {
    device_column(store, "pn")
}

/// The linked account's own LID (`987654321012345:12@lid`), once the store has it: how
/// migrated groups address the bot.
pub fn own_lid(store: &Path) -> Result<Option<String>> {
    device_column(store, "lid")
}

/// One identity column of the paired device, `None` before pairing.
fn device_column(store: &Path, column: &str) -> Result<Option<String>> {
    if !store.exists() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening the device store {}", store.display()))?;
    let has_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'device')",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(None);
    }
    let value: Option<String> = conn
        .query_row(
            &format!("SELECT {column} FROM device WHERE id = 1"),
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(value.filter(|v| !v.is_empty()))
}

/// Forgets the linked device: the store and its WAL files.
pub fn remove(store: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = store.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(&name) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", store.display())),
        }
    }
    Ok(())
}

/// `+15550001111` from a device JID, for people.
pub fn display_number(jid: &str) -> String {
    let user = jid.split(['@', ':']).next().unwrap_or(jid);
    format!("+{user}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_when_a_store_is_paired() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("device.db");
        assert_eq!(paired_as(&store).unwrap(), None);
        let conn = Connection::open(&store).unwrap();
        assert_eq!(
            paired_as(&store).unwrap(),
            None,
            "an empty file is not paired"
        );
        conn.execute_batch("CREATE TABLE device (id INTEGER PRIMARY KEY, pn TEXT NOT NULL, lid TEXT NOT NULL); INSERT INTO device VALUES (1, '', '')")
            .unwrap();
        assert_eq!(paired_as(&store).unwrap(), None);
        assert_eq!(own_lid(&store).unwrap(), None);
        conn.execute(
            "UPDATE device SET pn = '15550009999:4@s.whatsapp.net', lid = '987654321012345:4@lid'",
            [],
        )
        .unwrap();
        assert_eq!(
            own_lid(&store).unwrap().as_deref(),
            Some("987654321012345:4@lid")
        );
        assert_eq!(
            paired_as(&store).unwrap().as_deref(),
            Some("15550009999:4@s.whatsapp.net")
        );
        assert_eq!(
            display_number("15550009999:4@s.whatsapp.net"),
            "+15550009999"
        );
        drop(conn);
        remove(&store).unwrap();
        assert!(!store.exists());
    }
}
