//! Bulk import of messages from files. Imported messages are history unless the caller
//! marks them new; every line is judged on its own and a bad one never aborts the file.

mod jsonl;

use std::io::BufRead;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::db::Db;
use crate::message::{NewMessage, Status};

/// Records per transaction: large enough to amortise the commit, small enough that a
/// concurrent writer (the listener) never waits long.
const BATCH: usize = 5_000;

/// At most this many line errors are kept for the report; `rejected` counts them all.
const MAX_REPORTED_ERRORS: usize = 1_000;

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub imported: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub errors: Vec<LineError>,
}

#[derive(Debug, Serialize)]
pub struct LineError {
    pub line: usize,
    pub reason: String,
}

impl Summary {
    fn reject(&mut self, line: usize, reason: String) {
        self.rejected += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(LineError { line, reason });
        }
    }
}

/// Imports JSONL from `input`; `status_of` decides which stored records the agent answers.
pub fn jsonl(
    db: &mut Db,
    input: impl BufRead,
    status_of: &dyn Fn(&NewMessage) -> Option<Status>,
) -> Result<Summary> {
    let mut summary = Summary::default();
    let mut batch = Batch::default();
    for (index, line) in input.split(b'\n').enumerate() {
        let number = index + 1;
        let bytes = line.with_context(|| format!("reading line {number}"))?;
        let Ok(text) = std::str::from_utf8(&bytes) else {
            summary.reject(number, "not valid UTF-8".into());
            continue;
        };
        let text = text.trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            continue;
        }
        match jsonl::parse_line(text) {
            Ok(record) => batch.push(number, record),
            Err(reason) => summary.reject(number, reason),
        }
        if batch.records.len() >= BATCH {
            batch.flush(db, &mut summary, status_of)?;
        }
    }
    batch.flush(db, &mut summary, status_of)?;
    summary.errors.sort_by_key(|e| e.line);
    Ok(summary)
}

/// Records waiting for their transaction, with the line each came from.
#[derive(Default)]
struct Batch {
    lines: Vec<usize>,
    records: Vec<NewMessage>,
}

impl Batch {
    fn push(&mut self, line: usize, record: NewMessage) {
        self.lines.push(line);
        self.records.push(record);
    }

    fn flush(
        &mut self,
        db: &mut Db,
        summary: &mut Summary,
        status_of: &dyn Fn(&NewMessage) -> Option<Status>,
    ) -> Result<()> {
        if self.records.is_empty() {
            return Ok(());
        }
        let report = db.ingest(std::mem::take(&mut self.records), status_of)?;
        summary.imported += report.inserted;
        summary.duplicates += report.duplicates;
        for rejection in report.rejected {
            summary.reject(self.lines[rejection.index], rejection.reason);
        }
        self.lines.clear();
        Ok(())
    }
}
