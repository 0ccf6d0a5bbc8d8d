//! Reading columns that hold one of core's stored words (statuses, kinds) as their
//! types. rusqlite's `FromSql` cannot be implemented here for core's types, so the
//! mapping is this one function.

use std::str::FromStr;

use rusqlite::Row;
use rusqlite::types::Type;

use crate::error::BadWord;

/// The column `name` of `row`, parsed; a word no type knows fails the read, naming the
/// column and the word (the store's error turns it into [`crate::Error::Invalid`]),
/// rather than being passed on as text.
pub(crate) fn parsed<T>(row: &Row<'_>, name: &str) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(name)?;
    text.parse().map_err(|e| {
        let index = row.as_ref().column_index(name).unwrap_or_default();
        let bad = BadWord {
            column: name.to_string(),
            word: text.clone(),
            source: Box::new(e),
        };
        rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(bad))
    })
}
