//! Bulk import of messages from files. Imported messages are history unless the caller
//! marks them new; every line is judged on its own and a bad one never aborts the file.

mod archive;
mod decode;
pub mod export;
mod jsonl;
pub mod whatsapp;

use std::io::BufRead;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::db::Db;
use crate::message::{MessageStatus, NewMessage};

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
    /// What a WhatsApp export told beyond the counts.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub export: Option<whatsapp::ExportReport>,
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

/// Decides which stored records the agent answers (`None`: do not store).
pub type StatusOf<'a> = &'a dyn Fn(&NewMessage) -> Option<MessageStatus>;

/// Imports JSONL from `input`.
pub fn jsonl(db: &mut Db, input: impl BufRead, status_of: StatusOf) -> Result<Summary> {
    let records = input.split(b'\n').enumerate().map(|(index, line)| {
        let number = index + 1;
        let bytes = line.with_context(|| format!("reading line {number}"))?;
        let record = match std::str::from_utf8(&bytes) {
            Err(_) => Some(Err("not valid UTF-8".to_string())),
            Ok(text) => {
                let text = text.trim_start_matches('\u{feff}').trim();
                (!text.is_empty()).then(|| jsonl::parse_line(text))
            }
        };
        Ok((number, record))
    });
    store(db, records, status_of)
}

/// Stores numbered records in batches; `None` marks a line with nothing to store.
pub(super) fn store(
    db: &mut Db,
    records: impl Iterator<Item = Result<(usize, Option<Result<NewMessage, String>>)>>,
    status_of: StatusOf,
) -> Result<Summary> {
    let mut summary = Summary::default();
    let mut batch = Batch::default();
    for item in records {
        match item? {
            (_, None) => continue,
            (number, Some(Ok(record))) => batch.push(number, record),
            (number, Some(Err(reason))) => summary.reject(number, reason),
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

    fn flush(&mut self, db: &mut Db, summary: &mut Summary, status_of: StatusOf) -> Result<()> {
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
