//! Conformance of `wabot import --format whatsapp-export` with real exports written by
//! phones: every file of the shared corpus (`../shared/corpus/whatsapp-exports`, beside
//! the checkout, or `WABOT_EXPORT_CORPUS`) is imported into a fresh store and compared
//! with its `EXPECTED.tsv` row: message count, first and last time as written, authors.
//!
//! The corpus is third-party data and not part of the repository, so this test is
//! ignored by `cargo test`; `scripts/conformance-exports.sh` (run by `.ci/run` when the
//! corpus is there) runs it. It prints one line per file and the totals.

use crate::common;

use std::path::PathBuf;

use common::Sandbox;

const GROUP: &str = "120363041234567890@g.us";

fn corpus() -> PathBuf {
    std::env::var_os("WABOT_EXPORT_CORPUS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/whatsapp-exports"),
        PathBuf::from,
    )
}

/// Names as a person reads them: phones put no-break spaces into phone numbers.
fn plain(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}

struct Expected {
    file: String,
    messages: i64,
    first: String,
    last: String,
    authors: Vec<String>,
}

fn expected(tsv: &str) -> Vec<Expected> {
    tsv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 5, "EXPECTED.tsv row {line:?}");
            let mut authors: Vec<String> = cols[4].split(',').map(plain).collect();
            authors.sort();
            Expected {
                file: cols[0].to_string(),
                messages: cols[1].parse().expect("messages column"),
                first: cols[2].to_string(),
                last: cols[3].to_string(),
                authors,
            }
        })
        .collect()
}

/// What the import stored and reported, in the same terms as the expectation.
fn imported(file: &std::path::Path) -> Result<(i64, String, String, Vec<String>), String> {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&[
        "import",
        "--format",
        "whatsapp-export",
        file.to_str().ok_or("path is not UTF-8")?,
        "--chat",
        GROUP,
        "--timezone",
        "UTC",
        "--json",
    ]);
    if run.code() != 0 {
        return Err(format!("exit {}: {}", run.code(), run.stderr().trim()));
    }
    let report: serde_json::Value =
        serde_json::from_str(&run.stdout()).map_err(|e| format!("no JSON report: {e}"))?;
    // Count and times from the store itself (read in UTC, so wall time as written).
    let conn = rusqlite::Connection::open(sandbox.db_path()).map_err(|e| e.to_string())?;
    let (count, first, last): (i64, Option<i64>, Option<i64>) = conn
        .query_row(
            "SELECT count(*), min(timestamp), max(timestamp) FROM messages",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(|e| e.to_string())?;
    let wall = |ms: Option<i64>| {
        ms.and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    let mut authors: Vec<String> = report["authors"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).map(plain).collect())
        .unwrap_or_default();
    authors.sort();
    let senders: i64 = conn
        .query_row(
            "SELECT count(DISTINCT coalesce(push_name, sender)) FROM messages",
            [],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    if senders != authors.len() as i64 {
        return Err(format!(
            "the report names {} authors, the store {senders}",
            authors.len()
        ));
    }
    Ok((count, wall(first), wall(last), authors))
}

#[test]
#[ignore = "needs the shared corpus beside the checkout: scripts/conformance-exports.sh"]
fn every_corpus_export_imports_as_expected() {
    let dir = corpus();
    let tsv = std::fs::read_to_string(dir.join("EXPECTED.tsv"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("EXPECTED.tsv").display()));
    let rows = expected(&tsv);
    assert!(!rows.is_empty(), "EXPECTED.tsv lists no files");
    let mut exact = 0;
    for want in &rows {
        match imported(&dir.join(&want.file)) {
            Err(err) => println!("FAIL  {}: {err}", want.file),
            Ok((count, first, last, authors)) => {
                let mut diffs = Vec::new();
                if count != want.messages {
                    diffs.push(format!("messages {count}, expected {}", want.messages));
                }
                if first != want.first {
                    diffs.push(format!("first {first}, expected {}", want.first));
                }
                if last != want.last {
                    diffs.push(format!("last {last}, expected {}", want.last));
                }
                if authors != want.authors {
                    diffs.push(format!("authors {authors:?}, expected {:?}", want.authors));
                }
                if diffs.is_empty() {
                    exact += 1;
                    println!("ok    {} ({count} messages)", want.file);
                } else {
                    println!("DIFF  {}: {}", want.file, diffs.join("; "));
                }
            }
        }
    }
    println!("{exact} of {} files exact", rows.len());
    assert_eq!(exact, rows.len(), "some exports did not import as expected");
}
