//! Failure kinds come from `wabot_core::error`; the exit code also knows the store's
//! "database busy", which the core crate cannot see.

pub use wabot_core::error::*;

/// The process exit code for an error: the first classified cause wins, then the
/// store's own kind (a busy database counts as temporary, so cron simply tries again
/// next minute).
pub fn exit_code(err: &anyhow::Error) -> i32 {
    classified_exit_code(err)
        .or_else(|| wabot_store::failure_kind(err).map(Kind::exit_code))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_database_is_temporary() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        let err = anyhow::Error::from(busy).context("importing");
        assert_eq!(exit_code(&err), 75);
        assert_eq!(exit_code(&anyhow::anyhow!("other")), 1);
    }
}
