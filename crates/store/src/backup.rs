//! Copies of the database made with SQLite's online backup API: consistent while other
//! processes write, and verified before they are trusted.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{Db, SCHEMA_VERSION};
use crate::error::{Doing, Error, NotABackup, Result};
use crate::files::create_private;

/// Pages copied per step, between progress reports.
const PAGES_PER_STEP: i32 = 1024;

/// How a copy is checked before it is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// `PRAGMA quick_check`: every page readable and well-formed, every record sound;
    /// about half the time of the full check on a large archive.
    QuickCheck,
    /// `PRAGMA integrity_check`: also that every index agrees with its table.
    IntegrityCheck,
}

impl Check {
    fn pragma(self) -> &'static str {
        match self {
            Self::QuickCheck => "PRAGMA quick_check",
            Self::IntegrityCheck => "PRAGMA integrity_check",
        }
    }

    /// The column of the pragma's one-row answer.
    fn column(self) -> &'static str {
        match self {
            Self::QuickCheck => "quick_check",
            Self::IntegrityCheck => "integrity_check",
        }
    }
}

impl Db {
    /// Writes a consistent copy of the database to `dest` (mode 0600), checks it and
    /// syncs it to disk. `progress` gets (pages done, pages total).
    pub fn backup_to(&self, dest: &Path, check: Check, progress: &dyn Fn(u64, u64)) -> Result<()> {
        copy(&self.conn, dest, check, progress)
    }

    /// Replaces the whole content of this database with `source`, in one transaction
    /// through SQLite's own locking, then applies any migrations the copy lacks.
    pub fn restore_from(&mut self, source: &Path) -> Result<()> {
        overwrite(source, &mut self.conn)?;
        let version = self.user_version()?;
        if version < SCHEMA_VERSION {
            self.migrate()?;
        }
        Ok(())
    }
}

/// Copies the SQLite database at `source` (any SQLite file, such as the device store) to
/// `dest` the same way.
pub fn copy_file(source: &Path, dest: &Path) -> Result<()> {
    let src = open_read_only(source)?;
    copy(&src, dest, Check::IntegrityCheck, &|_, _| {})
}

/// Replaces the SQLite database at `dest` (created if missing) with a copy of `source`.
pub fn overwrite_file(source: &Path, dest: &Path) -> Result<()> {
    create_private(dest)?;
    let mut dst = Connection::open(dest).doing(|| format!("opening {}", dest.display()))?;
    overwrite(source, &mut dst)
}

/// One step of -1 pages copies everything in one transaction of the destination.
fn overwrite(source: &Path, dst: &mut Connection) -> Result<()> {
    let src = open_read_only(source)?;
    let backup = Backup::new(&src, dst)?;
    let deadline = Instant::now() + super::BUSY_TIMEOUT;
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            _ if Instant::now() > deadline => return Err(stayed_busy()),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Checks a backup before it is restored: a non-empty SQLite file, wabot's own, of a
/// schema this wabot knows, intact. Returns its schema version.
pub fn verify(path: &Path) -> Result<i64> {
    let refused = |problem| Error::NotABackup {
        path: path.to_path_buf(),
        problem,
    };
    if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        return Err(refused(NotABackup::Empty));
    }
    let conn = open_read_only(path)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get("user_version"))
        .map_err(|_| refused(NotABackup::NotSqlite))?;
    if version > SCHEMA_VERSION {
        return Err(refused(NotABackup::Newer(version)));
    }
    if let Some(whose) =
        super::check_identity(&conn, version).doing(|| format!("reading {}", path.display()))?
    {
        return Err(refused(NotABackup::Foreign(whose)));
    }
    if version == 0 {
        return Err(refused(NotABackup::NoSchema));
    }
    let check: String =
        conn.query_row("PRAGMA integrity_check", [], |r| r.get("integrity_check"))?;
    if check != "ok" {
        return Err(refused(NotABackup::Damaged(check)));
    }
    Ok(version)
}

/// A restore that waited out the busy timeout: SQLite's own word for it, so it reads
/// and classifies as every other busy write.
fn stayed_busy() -> Error {
    Error::sqlite(
        "restoring".to_string(),
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("the database stayed busy; try again when the other job is done".to_string()),
        ),
    )
}

fn open_read_only(path: &Path) -> Result<Connection> {
    if !path.is_file() {
        return Err(Error::NotFound {
            what: "file",
            key: path.display().to_string(),
        });
    }
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .doing(|| format!("opening {}", path.display()))
}

fn copy(src: &Connection, dest: &Path, check: Check, progress: &dyn Fn(u64, u64)) -> Result<()> {
    create_private(dest)?;
    let mut dst = Connection::open(dest).doing(|| format!("creating {}", dest.display()))?;
    // A read transaction pins one snapshot: writers carry on, and the copy never has to
    // restart because the source changed under it.
    src.execute_batch("BEGIN")?;
    let copied = (|| -> rusqlite::Result<()> {
        src.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
        let backup = Backup::new(src, &mut dst)?;
        loop {
            let step = backup.step(PAGES_PER_STEP)?;
            let p = backup.progress();
            let total = p.pagecount.max(0) as u64;
            progress(total.saturating_sub(p.remaining.max(0) as u64), total);
            match step {
                StepResult::Done => return Ok(()),
                StepResult::More => {}
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    })();
    src.execute_batch("COMMIT")?;
    copied.doing(|| format!("copying into {}", dest.display()))?;
    // A backup is one self-contained file, not a WAL database with side files.
    dst.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
    let verdict: String = dst.query_row(check.pragma(), [], |r| r.get(check.column()))?;
    if verdict != "ok" {
        return Err(Error::Corrupt {
            path: dest.to_path_buf(),
            check: check.pragma(),
            verdict,
        });
    }
    drop(dst);
    File::open(dest)
        .and_then(|f| f.sync_all())
        .doing(|| format!("syncing {}", dest.display()))?;
    Ok(())
}
