//! The only place SQL lives. Opening a database applies pragmas and migrations.

mod account;
mod backup;
mod browse;
mod changes;
mod columns;
mod control;
mod delivery;
mod error;
pub mod files;
mod heartbeat;
mod history_chunks;
mod jobs;
mod llm_calls;
mod maintenance;
mod media;
mod messages;
mod outbox;
mod quarantine;
mod queue;
mod search;
mod sessions;
mod stats;
mod sync;
mod transcripts;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use account::{AccountState, REACHOUT_ASSUMED_MS};
pub use backup::{Check, copy_file, overwrite_file, verify};
pub use browse::MessageRow;
pub use changes::{Change, Changed};
pub use control::{ChatRow, ResumeMode};
pub use delivery::{MAX_RESENDS, Requeued};
pub use error::{Error, NotABackup, Result, Schema};
pub use heartbeat::Heartbeat;
pub use history_chunks::{ChunkCounts, TRANSFER_STALL_MS};
pub use llm_calls::LlmCall;
pub use maintenance::{ArchivedMessage, CleanupCounts, Cutoffs};
#[cfg(any(test, feature = "test-support"))]
pub use media::MAX_DOWNLOAD_ATTEMPTS;
pub use media::MediaRow;
pub use quarantine::{PollSecret, Quarantined};
pub use queue::{ClaimRequest, QueuedMessage, Release, Turn};
pub use search::{Hit, RANK_AMONG, SearchFilter, SearchOrder};
pub use sessions::SessionRow;
pub use stats::{OutboxCounts, Stats, UsageFigures};
pub use sync::{Checkpoint, Cursor, Request, RequestState, no_anchor};
pub use transcripts::{MessageMedia, TranscriptCounts, Untranscribed};
pub use wabot_core::account::Standing;
pub use wabot_core::outbox::{
    ACK_TIMEOUT_MS, Delivery, DeliveryUpdate, OutboxKind, OutboxRow, Outgoing,
};

// The core modules under their own names, so `crate::jid` reads as it does in the binary.
use wabot_core::{attachment, checkpoint, clock, inbound, jid, kind, message, policy, status};

use error::Doing;
use files::create_private;

/// Whether another process held the database longer than we were willing to wait: an
/// [`Error::Busy`] anywhere in the chain, or an SQLite busy that reached `anyhow` raw.
pub fn is_busy(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<Error>().is_some_and(Error::is_busy)
            || cause
                .downcast_ref::<rusqlite::Error>()
                .is_some_and(error::is_busy_code)
    })
}

/// The failure kind of the first store error in the chain that has one, for the exit
/// code.
pub fn failure_kind(err: &anyhow::Error) -> Option<wabot_core::error::Kind> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Error>().and_then(Error::kind))
        .or_else(|| is_busy(err).then_some(wabot_core::error::Kind::Temporary))
}

/// Numbered migrations, applied in order; the database's `user_version` is the number
/// of migrations it has.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_sync_request_error.sql"),
    include_str!("../migrations/0003_llm_usage.sql"),
    include_str!("../migrations/0004_application_id.sql"),
    include_str!("../migrations/0005_skip_reason.sql"),
    include_str!("../migrations/0006_linked_device_ingest.sql"),
    include_str!("../migrations/0007_account_state.sql"),
    include_str!("../migrations/0008_read_receipts.sql"),
    include_str!("../migrations/0009_webhook_transports.sql"),
    include_str!("../migrations/0010_transcripts.sql"),
    include_str!("../migrations/0011_archive_scale.sql"),
    include_str!("../migrations/0012_delivery_truth.sql"),
    include_str!("../migrations/0013_versions.sql"),
    include_str!("../migrations/0014_llm_models.sql"),
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// `PRAGMA application_id` of a wabot database: "wabo" in ASCII (set by migration 0004).
pub const APPLICATION_ID: i64 = 0x7761_626f;
/// Tables every wabot database has had since its first schema: how a database written
/// before the application id existed is recognised.
const OWN_TABLES: [&str; 3] = ["messages", "outbox", "chat_sessions"];

/// How long a writer waits for another before giving up with "busy" (exit 75).
const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Db {
    conn: Connection,
    path: PathBuf,
}

impl Db {
    /// Opens (creating if needed, mode 0600) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_writable(path).map_err(|err| explain_access(err, path))
    }

    /// How long a write waits for another process's to end before it fails (15 s by
    /// default): a webhook must answer within the provider's own timeout.
    pub fn set_busy_timeout(&self, wait: Duration) -> Result<()> {
        Ok(self.conn.busy_timeout(wait)?)
    }

    /// Opens the database at `path`, which must exist: a mistyped `--db` must not
    /// quietly become a new, empty archive.
    pub fn open_existing(path: &Path) -> Result<Self> {
        require_file(path)?;
        Self::open(path)
    }

    /// For commands that only read: the database must exist; when this user may not
    /// write it (or its directory), it is opened read-only instead.
    pub fn open_for_reading(path: &Path) -> Result<Self> {
        require_file(path)?;
        match Self::open_writable(path) {
            Ok(db) => Ok(db),
            Err(err) if is_access_problem(&err) => {
                log::debug!(
                    "{} is not writable here, reading only: {}",
                    path.display(),
                    chain(&err)
                );
                Self::open_read_only(path).map_err(|e| explain_access(e, path))
            }
            Err(err) => Err(explain_access(err, path)),
        }
    }

    fn open_writable(path: &Path) -> Result<Self> {
        create_private(path)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .doing(|| format!("opening database {}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mut db = Self {
            conn,
            path: path.to_path_buf(),
        };
        retry_while_busy(|| db.prepare())?;
        Ok(db)
    }

    fn open_read_only(path: &Path) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let plain = Connection::open_with_flags(path, flags).and_then(|c| {
            c.query_row("PRAGMA user_version", [], |_| Ok(()))
                .map(|()| c)
        });
        let conn = match plain {
            Ok(conn) => conn,
            // A WAL database whose shared-memory file this user can neither find nor
            // create: read the file as it stands, without locks (nobody can be writing
            // where this user may not).
            Err(_) => {
                let uri = format!("file:{}?immutable=1", uri_path(path));
                Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
                    .doing(|| format!("opening database {} read-only", path.display()))?
            }
        };
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let db = Self {
            conn,
            path: path.to_path_buf(),
        };
        let version = db.user_version()?;
        db.check_schema(version)?;
        if version < SCHEMA_VERSION {
            return Err(Error::schema(path, Schema::NeedsUpgrade(version)));
        }
        Ok(db)
    }

    fn prepare(&mut self) -> Result<()> {
        // Refuse a newer schema, or another program's database, before anything could
        // write to it.
        let version = self.user_version()?;
        self.check_schema(version)?;
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get("journal_mode"))
            .doing(|| self.named())?;
        if !mode.eq_ignore_ascii_case("wal") {
            self.conn
                .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .doing(|| self.named())?;
        }
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .doing(|| self.named())?;
        if version < SCHEMA_VERSION {
            self.migrate()?;
        }
        Ok(())
    }

    /// The database as error messages name it.
    fn named(&self) -> String {
        format!("database {}", self.path.display())
    }

    fn user_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get("user_version"))
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::NotADatabase) => {
                    Error::schema(&self.path, Schema::NotSqlite)
                }
                _ => Error::sqlite(self.named(), e),
            })
    }

    /// Refuses a schema newer than this wabot's, and another program's database.
    fn check_schema(&self, version: i64) -> Result<()> {
        if version > SCHEMA_VERSION {
            return Err(Error::schema(&self.path, Schema::Newer(version)));
        }
        match check_identity(&self.conn, version).doing(|| self.named())? {
            Some(whose) => Err(Error::schema(&self.path, Schema::Foreign(whose))),
            None => Ok(()),
        }
    }

    fn migrate(&mut self) -> Result<()> {
        let named = self.named();
        let path = self.path.clone();
        let tx = self.write().doing(|| named.clone())?;
        // Another process may have migrated while we waited for the write lock.
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get("user_version"))
            .doing(|| named.clone())?;
        if version > SCHEMA_VERSION {
            return Err(Error::schema(&path, Schema::Newer(version)));
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let number = index + 1;
            tx.execute_batch(sql).map_err(|source| {
                if error::is_busy_code(&source) {
                    Error::sqlite(format!("{named}: applying migration {number:04}"), source)
                } else {
                    Error::schema(&path, Schema::Migration { number, source })
                }
            })?;
            log::info!("applied migration {number:04}");
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .doing(|| named.clone())?;
        tx.commit().doing(|| named)?;
        Ok(())
    }

    /// For bulk loads: a page cache large enough for the indexes being filled (64 MiB;
    /// the default 2 MiB makes every index insert a disk read).
    pub fn tune_for_bulk(&self) -> Result<()> {
        self.conn.execute_batch("PRAGMA cache_size = -65536")?;
        Ok(())
    }

    /// A write transaction that takes the write lock up front, so concurrent writers
    /// queue on the busy timeout instead of failing with "database is locked".
    fn write(&mut self) -> rusqlite::Result<Transaction<'_>> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
    }

    /// Runs `work` in a write transaction and commits what it did when it returns
    /// `Ok`; an error rolls everything back. Code that must undo its writes on an `Ok`
    /// outcome keeps a transaction of its own.
    fn in_write<T>(&mut self, work: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let tx = self.write()?;
        let result = work(&tx)?;
        tx.commit()?;
        Ok(result)
    }
}

/// A path as the path part of an SQLite `file:` URI: `?`, `#` and `%` escaped.
fn uri_path(path: &Path) -> String {
    path.to_string_lossy()
        .replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23")
}

fn require_file(path: &Path) -> Result<()> {
    if path.is_file() {
        return Ok(());
    }
    Err(Error::NoDatabase {
        path: path.to_path_buf(),
    })
}

/// An error and its causes as one line, as `anyhow`'s `{:#}` shows them.
fn chain(err: &Error) -> String {
    err.causes()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// Whether opening failed because this user may not write the file or its directory.
fn is_access_problem(err: &Error) -> bool {
    err.causes().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
            || cause
                .downcast_ref::<rusqlite::Error>()
                .and_then(rusqlite::Error::sqlite_error_code)
                .is_some_and(|code| {
                    matches!(
                        code,
                        rusqlite::ErrorCode::ReadOnly
                            | rusqlite::ErrorCode::CannotOpen
                            | rusqlite::ErrorCode::PermissionDenied
                    )
                })
    })
}

/// An access failure said in terms of what to do about it; other errors as they are.
fn explain_access(err: Error, path: &Path) -> Error {
    if !is_access_problem(&err) {
        return err;
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_writable = rustix::fs::access(path, rustix::fs::Access::WRITE_OK).is_ok();
    let what = if path.exists() && !file_writable {
        format!(
            "this user may not write {} (see `ls -l`); run wabot as the file's owner, or give it \
             back with `chmod 600`",
            path.display()
        )
    } else {
        format!(
            "this user may not write in the directory {}, where SQLite keeps the database's \
             journal files beside it; run wabot as the directory's owner, or `chmod 700` it",
            dir.display()
        )
    };
    Error::Access { what }
}

/// Switching to WAL and migrating take locks for which SQLite does not always wait
/// (two jobs starting on a fresh database); retry those for as long as a writer would.
fn retry_while_busy(mut step: impl FnMut() -> Result<()>) -> Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match step() {
            Err(err) if err.is_busy() && Instant::now() < deadline => {
                log::debug!("database busy while opening, retrying: {}", chain(&err));
                std::thread::sleep(Duration::from_millis(25));
            }
            result => return result,
        }
    }
}

/// The `mentions` column: a JSON array of JIDs, or NULL for none.
fn mentions(column: Option<String>) -> Vec<String> {
    column
        .and_then(|m| serde_json::from_str(&m).ok())
        .unwrap_or_default()
}

/// Whose `conn`'s database seems to be when it is not wabot's (nor an empty one wabot
/// may create its schema in); `None` when wabot may use it.
fn check_identity(conn: &Connection, version: i64) -> rusqlite::Result<Option<String>> {
    let id: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get("application_id"))?;
    // The common case, every cron run: our own mark, nothing more to read.
    if id == APPLICATION_ID {
        return Ok(None);
    }
    if id != 0 {
        return Ok(Some(format!(
            "an SQLite database of another program (application_id {id:#x}); \
             point --db or database.path at wabot's database"
        )));
    }
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")?
        .query_map([], |r| r.get("name"))?
        .collect::<rusqlite::Result<_>>()?;
    let own = OWN_TABLES.iter().all(|t| tables.iter().any(|n| n == t));
    Ok(match version {
        0 if tables.is_empty() => None,
        1.. if own => None,
        _ => Some(format!(
            "an SQLite database of another program ({} tables, none of them wabot's schema); \
             point --db or database.path at wabot's database",
            tables.len()
        )),
    })
}
