//! The store's one error type. What a caller acts on (busy, missing, refused) is a
//! variant of its own; any other SQLite failure keeps SQLite's error under what the
//! store was doing. Display holds only the store's own words and `source()` the rest,
//! so `{err:#}` reads as the `anyhow` contexts used to.

use std::path::{Path, PathBuf};

use wabot_core::checkpoint;
use wabot_core::error::Kind;

use crate::SCHEMA_VERSION;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What `doing` says of an SQLite error that was passed on without a context.
const SQLITE: &str = "SQLite";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLITE_BUSY or SQLITE_LOCKED after the busy wait: another process holds the
    /// write lock (exit 75, cron tries again).
    #[error("{doing}")]
    Busy {
        doing: String,
        #[source]
        source: rusqlite::Error,
    },
    /// A mistyped `--db` must not quietly become a new, empty archive (exit 69).
    #[error(
        "no database at {}; create one with `wabot import`, `wabot listen` or `wabot demo`, \
         or point --db / database.path at an existing one",
        path.display()
    )]
    NoDatabase { path: PathBuf },
    /// This user may not write the database or its directory (exit 78); `what` says
    /// what to do about it.
    #[error("{what} (reading commands such as `stats` and `search` work read-only)")]
    Access { what: String },
    /// The file cannot be used as this wabot's database as it stands.
    #[error("database {}", path.display())]
    Schema {
        path: PathBuf,
        #[source]
        problem: Schema,
    },
    /// A file refused as a backup to restore, before anything was changed.
    #[error("{} {problem}; nothing was changed", path.display())]
    NotABackup { path: PathBuf, problem: NotABackup },
    /// A copy that failed its check after it was written.
    #[error("the copy {} failed its {check}: {verdict}", path.display())]
    Corrupt {
        path: PathBuf,
        check: &'static str,
        verdict: String,
    },
    /// A row (or file) that must exist does not.
    #[error("{key}: no such {what}")]
    NotFound { what: &'static str, key: String },
    /// A stored word (a status, a kind) that this wabot does not know.
    #[error("column {column} holds {word:?}, which this wabot does not know")]
    Invalid {
        column: String,
        word: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A chat without a stored message has nothing a sync could walk back from
    /// (exit 69).
    #[error(
        "{chat} has no stored message to walk back from: wait until one message of the \
         chat arrives, or import an export of it \
         (`wabot import --format whatsapp-export --chat {chat} FILE`)"
    )]
    NoAnchor { chat: String },
    /// A sync step the chat's checkpoint does not allow (exit 2). The reason is part of
    /// the message: a waiting `sync` is told it through the request row's text.
    #[error("sync of {chat}: {refused}")]
    Refused {
        chat: String,
        refused: checkpoint::Refused,
    },
    /// A full-text query SQLite cannot parse (exit 2); the query is quoted, cut short.
    #[error("malformed search query {query}")]
    Query {
        query: String,
        #[source]
        source: rusqlite::Error,
    },
    /// wabot's private files and backups.
    #[error("{doing}")]
    Io {
        doing: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{doing}")]
    Sqlite {
        doing: String,
        #[source]
        source: rusqlite::Error,
    },
}

/// Why a file is not a database this wabot can use as it stands.
#[derive(Debug, thiserror::Error)]
pub enum Schema {
    #[error("not an SQLite database (is --db pointing at the right file?)")]
    NotSqlite,
    #[error(
        "schema version {0} was written by a newer wabot (this one knows up to \
         {SCHEMA_VERSION}); upgrade wabot or restore a backup. The file was not changed."
    )]
    Newer(i64),
    /// Another program's database (exit 78); the text says whose it seems to be.
    #[error("{0}")]
    Foreign(String),
    #[error(
        "has schema version {0} and needs an upgrade to {SCHEMA_VERSION}, which takes write \
         access: run any wabot command once as its owner"
    )]
    NeedsUpgrade(i64),
    #[error("applying migration {number:04}")]
    Migration {
        number: usize,
        #[source]
        source: rusqlite::Error,
    },
}

/// Why a file is not restored.
#[derive(Debug, thiserror::Error)]
pub enum NotABackup {
    #[error("is empty, not a wabot backup")]
    Empty,
    #[error("is not an SQLite database, not a wabot backup")]
    NotSqlite,
    #[error(
        "has schema version {0}, written by a newer wabot (this one knows up to {SCHEMA_VERSION})"
    )]
    Newer(i64),
    #[error("is {0}")]
    Foreign(String),
    #[error("holds no wabot schema, not a wabot backup")]
    NoSchema,
    #[error("failed its integrity check ({0})")]
    Damaged(String),
}

/// The column and word of a failed [`crate::columns::parsed`] read, carried through
/// rusqlite's row mapping until [`Error::sqlite`] unpacks it.
#[derive(Debug, thiserror::Error)]
#[error("column {column} holds {word:?}")]
pub(crate) struct BadWord {
    pub column: String,
    pub word: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl Error {
    /// Classifies an SQLite error: busy and locked become [`Error::Busy`], a word
    /// [`crate::columns::parsed`] refused becomes [`Error::Invalid`].
    pub(crate) fn sqlite(doing: String, source: rusqlite::Error) -> Self {
        if is_busy_code(&source) {
            return Error::Busy { doing, source };
        }
        match source {
            rusqlite::Error::FromSqlConversionFailure(index, ty, boxed) => {
                match boxed.downcast::<BadWord>() {
                    Ok(bad) => Error::Invalid {
                        column: bad.column,
                        word: bad.word,
                        source: bad.source,
                    },
                    Err(other) => Error::Sqlite {
                        doing,
                        source: rusqlite::Error::FromSqlConversionFailure(index, ty, other),
                    },
                }
            }
            source => Error::Sqlite { doing, source },
        }
    }

    pub(crate) fn schema(path: &Path, problem: Schema) -> Self {
        Error::Schema {
            path: path.to_path_buf(),
            problem,
        }
    }

    /// Whether another process held the database longer than we were willing to wait.
    pub fn is_busy(&self) -> bool {
        matches!(self, Error::Busy { .. })
    }

    /// The failure kind that decides the exit code, where the store knows one.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            Error::Busy { .. } => Some(Kind::Temporary),
            Error::NoDatabase { .. } | Error::NoAnchor { .. } => Some(Kind::Unavailable),
            Error::Access { .. }
            | Error::Schema {
                problem: Schema::Foreign(_),
                ..
            } => Some(Kind::Config),
            Error::Refused { .. } | Error::Query { .. } => Some(Kind::Usage),
            _ => None,
        }
    }

    /// This error and its sources, outermost first.
    pub(crate) fn causes(&self) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
        std::iter::successors(Some(self as &(dyn std::error::Error + 'static)), |e| {
            e.source()
        })
    }
}

impl From<rusqlite::Error> for Error {
    fn from(source: rusqlite::Error) -> Self {
        Error::sqlite(SQLITE.to_string(), source)
    }
}

pub(crate) fn is_busy_code(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Says what the store was doing when an SQLite or file operation failed.
pub(crate) trait Doing<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Doing<T> for rusqlite::Result<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::sqlite(what(), e))
    }
}

impl<T> Doing<T> for std::io::Result<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io {
            doing: what(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rusqlite::Connection;

    use super::*;
    use crate::Db;
    use crate::checkpoint::Step;
    use crate::status::HeartbeatState;

    fn fresh() -> (tempfile::TempDir, PathBuf, Db) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let db = Db::open(&path).unwrap();
        (dir, path, db)
    }

    fn beat() -> crate::Heartbeat {
        crate::Heartbeat {
            pid: 1,
            started_at: 1,
            updated_at: 1,
            connected: true,
            state: HeartbeatState::Running,
            detail: None,
            last_event_at: None,
        }
    }

    #[test]
    fn a_write_behind_another_process_s_lock_is_busy() {
        let (_dir, path, mut db) = fresh();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        db.set_busy_timeout(Duration::from_millis(50)).unwrap();
        let err = db.write_heartbeat(&beat()).unwrap_err();
        assert!(matches!(err, Error::Busy { .. }), "{err:?}");
        assert!(err.is_busy());
        assert_eq!(err.kind(), Some(Kind::Temporary));
        let chained = anyhow::Error::from(err).context("writing the heartbeat");
        assert!(crate::is_busy(&chained));
        other.execute_batch("COMMIT").unwrap();
        db.write_heartbeat(&beat()).unwrap();
    }

    #[test]
    fn a_checkpoint_missing_after_its_write_is_not_found() {
        let (_dir, path, mut db) = fresh();
        let chat = "15550001111@s.whatsapp.net";
        let other = Connection::open(&path).unwrap();
        other
            .execute_batch(&format!(
                "INSERT INTO messages (chat_jid, id, sender, timestamp, created_at)
                     VALUES ('{chat}', 'm1', '{chat}', 1, 1);
                 CREATE TRIGGER vanish AFTER INSERT ON sync_checkpoints
                     BEGIN DELETE FROM sync_checkpoints WHERE chat_jid = NEW.chat_jid; END;"
            ))
            .unwrap();
        let err = db
            .sync_transition(chat, Step::Start, None, None)
            .unwrap_err();
        match &err {
            Error::NotFound { what, key } => {
                assert_eq!((*what, key.as_str()), ("sync checkpoint", chat));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.to_string(), format!("{chat}: no such sync checkpoint"));
    }

    #[test]
    fn a_stored_word_this_wabot_does_not_know_is_invalid_and_named() {
        let (_dir, path, mut db) = fresh();
        db.write_heartbeat(&beat()).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute_batch("UPDATE listener_heartbeat SET state = 'dancing'")
            .unwrap();
        let err = db.heartbeat().unwrap_err();
        match &err {
            Error::Invalid { column, word, .. } => {
                assert_eq!((column.as_str(), word.as_str()), ("state", "dancing"));
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("\"dancing\""), "{err}");
    }

    #[test]
    fn an_unexplained_sqlite_error_keeps_what_the_store_was_doing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none").join("w.db");
        let err = Connection::open_with_flags(&missing, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .doing(|| "opening the test file".to_string())
            .unwrap_err();
        assert!(matches!(err, Error::Sqlite { .. }), "{err:?}");
        let shown = format!("{:#}", anyhow::Error::from(err));
        assert!(shown.starts_with("opening the test file: "), "{shown}");
        assert!(shown.contains("unable to open"), "{shown}");
    }

    #[test]
    fn refusals_keep_their_words_and_exit_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("future.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
        let err = Db::open(&path).err().unwrap();
        assert!(
            matches!(
                err,
                Error::Schema {
                    problem: Schema::Newer(99),
                    ..
                }
            ),
            "{err:?}"
        );
        let shown = format!("{:#}", anyhow::Error::from(err));
        assert!(
            shown.contains("database ")
                && shown.contains("schema version 99 was written by a newer wabot"),
            "{shown}"
        );
        let missing = Db::open_existing(&dir.path().join("typo.db"))
            .err()
            .unwrap();
        assert_eq!(missing.kind(), Some(Kind::Unavailable));
        let foreign = dir.path().join("other.db");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE notes (x);")
            .unwrap();
        let err = Db::open(&foreign).err().unwrap();
        assert_eq!(err.kind(), Some(Kind::Config));
        assert!(format!("{:#}", anyhow::Error::from(err)).contains("another program"));
        let err = crate::verify(&foreign).unwrap_err();
        assert_eq!(err.kind(), None, "restore refuses with exit 1");
        assert!(err.to_string().ends_with("; nothing was changed"), "{err}");
    }
}
