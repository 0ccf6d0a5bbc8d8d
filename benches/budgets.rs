//! wabot's performance budgets, measured on the real binary side by side with the
//! `sqlite3` command-line tool doing the same work on the same file. Prints one line per
//! figure (medians); with `--check` it exits 1 when a budget is missed.
//! `cargo bench --features bench --bench budgets [-- --check]`; WABOT_BENCH_MESSAGES sets
//! the archive's size (default 200000; 1000000 is a decade of a busy account).

#[path = "../tests/it/common/changes.rs"]
#[allow(dead_code)]
mod changes;
#[path = "../tests/it/common/llm.rs"]
#[allow(dead_code)]
mod llm;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WABOT: &str = env!("CARGO_BIN_EXE_wabot");
const CHATS: usize = 500;
const BASE_TS: i64 = 1_705_329_000;
/// Common words; the rest of the vocabulary is synthetic, drawn with a Zipf-like skew as
/// in real chats (a few words everywhere, most words rare).
const WORDS: [&str; 16] = [
    "spark", "dinner", "tomorrow", "weekend", "garden", "meeting", "train", "coffee", "flink",
    "budget", "holiday", "picture", "music", "doctor", "school", "recipe",
];
const VOCABULARY: usize = 5_000;
/// A word in about 60 % of the messages, and one in about 1 %.
const COMMON: &str = "dinner";
const RARE: &str = "w300x";
/// Rows cleanup deletes while a writer carries on.
const CLEANUP_ROWS: usize = 100_000;

fn word(rank: usize) -> String {
    match WORDS.get(rank) {
        Some(w) => (*w).to_string(),
        None => format!("w{rank}x"),
    }
}

struct Bench {
    dir: tempfile::TempDir,
    missed: Vec<String>,
}

fn main() {
    let check = std::env::args().any(|a| a == "--check");
    let n: usize = std::env::var("WABOT_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let mut bench = Bench {
        dir: tempfile::tempdir().expect("temp dir"),
        missed: Vec::new(),
    };
    println!(
        "wabot budgets: {n} messages over {CHATS} chats, {} cores",
        std::thread::available_parallelism().map_or(1, |c| c.get())
    );
    let (jsonl, sql) = bench.generate(n);
    let db = bench.ingest(n, &jsonl, &sql);
    bench.noop(&db);
    bench.stats(&db);
    bench.search(&db);
    bench.size(n, &db);
    bench.backup(&db);
    bench.cleanup_while_writing(&db);
    bench.turns();
    bench.listen_memory();
    if bench.missed.is_empty() {
        println!("all budgets met");
    } else {
        println!("missed: {}", bench.missed.join("; "));
        if check {
            std::process::exit(1);
        }
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs a command to completion and returns how long it took; any failure stops the bench.
fn timed(cmd: &mut Command) -> Duration {
    let started = Instant::now();
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// The median of `runs` runs of a command built afresh for each.
fn median_of(runs: usize, mut cmd: impl FnMut(usize) -> Command) -> Duration {
    median((0..runs).map(|run| timed(&mut cmd(run))).collect())
}

fn sqlite3(db: &Path, sql: &str) -> Command {
    let mut cmd = Command::new("sqlite3");
    cmd.arg(db).arg(sql);
    cmd
}

/// What `sqlite3` prints for one query.
fn sqlite3_value(db: &Path, sql: &str) -> String {
    let out = sqlite3(db, sql).output().expect("run sqlite3");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// wabot's schema as its migrations build it, for sqlite3 to load rows into.
fn schema_sql() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/store/migrations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("migrations")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("read migration"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn wabot(db: &Path) -> Command {
    let mut cmd = Command::new(WABOT);
    cmd.arg("--db")
        .arg(db)
        .env("PERPLEXITY_API_KEY", "bench")
        .env_remove("WABOT_CONFIG");
    cmd
}

impl Bench {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn report(&mut self, figure: &str, value: String, ok: bool, budget: &str) {
        println!(
            "{figure}: {value} (budget: {budget}) {}",
            if ok { "ok" } else { "MISSED" }
        );
        if !ok {
            self.missed.push(figure.to_string());
        }
    }

    /// The same rows as JSONL for wabot and, for sqlite3, as one transaction into
    /// wabot's own schema (its indexes, full-text index and triggers) with the pragmas
    /// wabot uses for bulk loads.
    fn generate(&self, n: usize) -> (PathBuf, PathBuf) {
        let mut jsonl = String::with_capacity(n * 200);
        let mut sql = String::with_capacity(n * 250);
        sql.push_str("PRAGMA journal_mode = WAL;\nPRAGMA synchronous = NORMAL;\nPRAGMA cache_size = -65536;\n");
        sql.push_str(&schema_sql());
        sql.push_str("\nBEGIN;\n");
        let mut seed: u64 = 42;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        for i in 0..n {
            let chat_n = next() % CHATS;
            let group = chat_n.is_multiple_of(3);
            let chat = if group {
                format!("1203630{chat_n:011}@g.us")
            } else {
                format!("1555{chat_n:07}@s.whatsapp.net")
            };
            let from_me = next().is_multiple_of(5);
            let sender = if from_me {
                "15550009999@s.whatsapp.net".to_string()
            } else if group {
                format!("1666{:07}@s.whatsapp.net", next() % 2000)
            } else {
                chat.clone()
            };
            let words = 3 + next() % 40;
            // Zipf-like: rank = VOCABULARY^u - 1 for uniform u.
            let content: Vec<String> = (0..words)
                .map(|_| {
                    let u = (next() % 10_000) as f64 / 10_000.0;
                    word((VOCABULARY as f64).powf(u) as usize - 1)
                })
                .collect();
            let content = content.join(" ");
            let ts = BASE_TS + i as i64;
            let id = format!("3EB0{i:016X}");
            let _ = writeln!(
                jsonl,
                r#"{{"id":"{id}","chat_jid":"{chat}","sender":"{sender}","content":"{content}","timestamp":{ts},"is_from_me":{from_me}}}"#
            );
            let _ = writeln!(
                sql,
                "INSERT INTO messages (chat_jid, id, sender, content, timestamp, is_from_me, source, created_at) \
                 VALUES ('{chat}','{id}','{sender}','{content}',{},{},'import',{});",
                ts * 1000,
                i32::from(from_me),
                ts * 1000
            );
        }
        sql.push_str("COMMIT;\n");
        let (j, s) = (self.path("messages.jsonl"), self.path("messages.sql"));
        std::fs::write(&j, jsonl).expect("write jsonl");
        std::fs::write(&s, sql).expect("write sql");
        (j, s)
    }

    /// Whole-process import against sqlite3 loading the same rows into the same schema;
    /// returns a loaded db. Three runs each up to 200 000 messages, one beyond.
    fn ingest(&mut self, n: usize, jsonl: &Path, sql: &Path) -> PathBuf {
        let runs = if n <= 200_000 { 3 } else { 1 };
        let (mut ours, mut reference) = (Vec::new(), Vec::new());
        let db = self.path("archive.db");
        for run in 0..runs {
            let _ = std::fs::remove_file(&db);
            ours.push(timed(
                wabot(&db).args(["import", "--format", "jsonl"]).arg(jsonl),
            ));
            let plain = self.path(&format!("plain-{run}.db"));
            reference.push(timed(Command::new("sh").arg("-c").arg(format!(
                "sqlite3 {} < {}",
                plain.display(),
                sql.display()
            ))));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", plain.display()));
            }
        }
        let (o, r) = (median(ours), median(reference));
        let ratio = o.as_secs_f64() / r.as_secs_f64();
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        self.report(
            "ingest (import, whole process)",
            format!(
                "{:.0} ms ({:.0} messages/s) vs sqlite3 into the same schema {:.0} ms ({:.0}/s), ratio {ratio:.2}",
                ms(o),
                rate(o),
                ms(r),
                rate(r)
            ),
            ratio <= 1.0,
            "≤ 1× sqlite3",
        );
        // Later figures read the file as a running system would find it.
        sqlite3_value(&db, "PRAGMA wal_checkpoint(TRUNCATE)");
        db
    }

    /// A cron run with nothing to do, against sqlite3 opening the db for one indexed query.
    fn noop(&mut self, db: &Path) {
        let ours = median_of(21, |_| {
            let mut cmd = wabot(db);
            cmd.arg("process-once");
            cmd
        });
        let reference = median_of(21, |_| {
            sqlite3(db, "SELECT count(*) FROM messages WHERE status = 'pending'")
        });
        let budget = Duration::from_millis(10).max(reference * 3);
        self.report(
            "cron no-op (process-once)",
            format!("{:.1} ms vs sqlite3 {:.1} ms", ms(ours), ms(reference)),
            ours <= budget,
            "≤ max(10 ms, 3× sqlite3)",
        );
    }

    /// `stats --json` against sqlite3 counting what it reports straight from the table.
    fn stats(&mut self, db: &Path) {
        let ours = median_of(11, |_| {
            let mut cmd = wabot(db);
            cmd.args(["stats", "--json"]);
            cmd
        });
        let reference = median_of(11, |_| {
            sqlite3(
                db,
                "SELECT count(*), sum(is_from_me = 0), sum(is_from_me = 1), sum(status = 'pending'),
                        sum(status = 'answered'), sum(status = 'failed') FROM messages;
                 SELECT chat_jid, count(*) AS n FROM messages GROUP BY chat_jid ORDER BY n DESC LIMIT 10;",
            )
        });
        self.report(
            "stats --json (whole process)",
            format!(
                "{:.1} ms vs sqlite3 counting the table {:.1} ms",
                ms(ours),
                ms(reference)
            ),
            ours <= Duration::from_millis(150),
            "≤ 150 ms",
        );
    }

    /// 20 hits for a common word, newest first and ranked, and for a rare word, against
    /// sqlite3 running the plain queries for the same answers (sorting or ranking every
    /// match) and the newest 20 by rowid (no sort at all: the floor).
    fn search(&mut self, db: &Path) {
        let matches = |word: &str| {
            sqlite3_value(
                db,
                &format!("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '{word}'"),
            )
        };
        let plain = |order: &str, word: &str| {
            format!(
                "SELECT m.chat_jid, m.id, m.timestamp FROM messages_fts JOIN messages m ON m.pk = messages_fts.rowid
                 WHERE messages_fts MATCH '{word}' ORDER BY {order} LIMIT 20"
            )
        };
        for (word, rank) in [(COMMON, false), (COMMON, true), (RARE, false)] {
            let ours = median_of(11, |_| {
                let mut cmd = wabot(db);
                cmd.args(["search", word, "--limit", "20", "--json"]);
                if rank {
                    cmd.arg("--rank");
                }
                cmd
            });
            let order = if rank {
                "bm25(messages_fts)"
            } else {
                "m.timestamp DESC"
            };
            let reference = median_of(11, |_| sqlite3(db, &plain(order, word)));
            let floor = median_of(11, |_| sqlite3(db, &plain("messages_fts.rowid DESC", word)));
            let what = if rank {
                "ranked among the newest 1000"
            } else {
                "newest first"
            };
            let theirs = if rank { "ranking" } else { "sorting" };
            self.report(
                &format!("search {word:?} ({} matches), {what}", matches(word)),
                format!(
                    "{:.1} ms vs sqlite3 {theirs} every match {:.1} ms, newest 20 by rowid {:.1} ms",
                    ms(ours),
                    ms(reference),
                    ms(floor)
                ),
                ours <= Duration::from_millis(50),
                "≤ 50 ms",
            );
        }
    }

    /// The file's size per message and the full-text index's share of it (SQLite's
    /// `dbstat` table, through sqlite3).
    fn size(&mut self, n: usize, db: &Path) {
        let figures = sqlite3_value(
            db,
            "SELECT (SELECT page_count * page_size FROM pragma_page_count, pragma_page_size),
                    (SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'messages_fts%'),
                    (SELECT sum(length(CAST(content AS BLOB))) FROM messages)",
        );
        let parts: Vec<f64> = figures
            .split('|')
            .map(|v| v.parse().expect("a number"))
            .collect();
        let (file, fts, text) = (parts[0], parts[1], parts[2]);
        println!(
            "size: {:.0} bytes per message ({:.0} MB for {n}; the text itself {:.0} bytes per message), \
             full-text index {:.1} % of the file ({:.0} MB)",
            file / n as f64,
            file / 1e6,
            text / n as f64,
            fts * 100.0 / file,
            fts / 1e6
        );
    }

    /// A verified backup, whole process, against sqlite3's `.backup` plus
    /// `PRAGMA quick_check` of the copy; `--full-check` shown beside.
    fn backup(&mut self, db: &Path) {
        let copy = self.path("copy.db");
        let fresh = |copy: &Path| {
            for suffix in ["", ".device.db"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", copy.display()));
            }
        };
        let run = |full: bool| {
            median_of(5, |_| {
                fresh(&copy);
                let mut cmd = wabot(db);
                cmd.args(["backup", "--output"]).arg(&copy);
                if full {
                    cmd.arg("--full-check");
                }
                cmd
            })
        };
        let (ours, full) = (run(false), run(true));
        let reference = median(
            (0..5)
                .map(|_| {
                    fresh(&copy);
                    let started = Instant::now();
                    sqlite3_value(db, &format!(".backup '{}'", copy.display()));
                    let check = sqlite3_value(&copy, "PRAGMA quick_check");
                    assert_eq!(check, "ok");
                    started.elapsed()
                })
                .collect(),
        );
        fresh(&copy);
        let ratio = ours.as_secs_f64() / reference.as_secs_f64();
        self.report(
            "backup with verification (whole process)",
            format!(
                "{:.0} ms vs sqlite3 .backup + quick_check {:.0} ms, ratio {ratio:.2} (--full-check: {:.0} ms)",
                ms(ours),
                ms(reference),
                ms(full)
            ),
            ratio <= 2.0,
            "≤ 2× sqlite3",
        );
    }

    /// The listener's resident set after 100 000 live events went through conversion and
    /// the ingest hook's store path (`wabot replay-events`, a hidden command), three runs.
    fn listen_memory(&mut self) {
        let mut peaks = Vec::new();
        let mut seconds = Vec::new();
        for run in 0..3 {
            let out = wabot(&self.path(&format!("listen{run}.db")))
                .args(["replay-events", "--messages", "100000"])
                .output()
                .expect("run wabot replay-events");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let replayed: serde_json::Value =
                serde_json::from_slice(&out.stdout).expect("replay-events prints JSON");
            peaks.push(replayed["peak_rss_bytes"].as_u64().unwrap_or(u64::MAX));
            seconds.push(Duration::from_secs_f64(
                replayed["seconds"].as_f64().unwrap_or(0.0),
            ));
        }
        peaks.sort_unstable();
        let mib = peaks[1] as f64 / 1_048_576.0;
        let per_message_us = median(seconds).as_secs_f64() * 1e6 / 100_000.0;
        self.report(
            "listen RSS after 100 000 events",
            format!("{mib:.1} MiB (ingest {per_message_us:.0} µs per message)"),
            mib < 64.0,
            "< 64 MiB",
        );
    }

    /// cleanup deleting 100 000 expired rows of a copy of the archive while another
    /// process writes one message at a time, as the listener does: the longest and the
    /// p99 wait of those writes, against sqlite3 deleting the same rows in one statement
    /// (as long as a writer would wait for that).
    fn cleanup_while_writing(&mut self, archive: &Path) {
        let db = self.path("cleanup.db");
        std::fs::copy(archive, &db).expect("copy the archive");
        sqlite3_value(
            &db,
            &format!(
                // Aged live messages: imported history is kept by default (issue 32).
                "UPDATE messages SET created_at = created_at - 30 * 86400000, source = 'live'
                 WHERE pk <= {CLEANUP_ROWS}"
            ),
        );
        let reference_db = self.path("cleanup-reference.db");
        std::fs::copy(&db, &reference_db).expect("copy the archive");
        let reference = timed(&mut sqlite3(
            &reference_db,
            "PRAGMA synchronous = NORMAL;
             DELETE FROM messages WHERE created_at < (unixepoch() - 7 * 86400) * 1000 AND status != 'pending';",
        ));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", reference_db.display()));
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (db, stop) = (db.clone(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                let conn = rusqlite::Connection::open(&db).expect("open");
                conn.busy_timeout(Duration::from_secs(30)).expect("timeout");
                let mut waits = Vec::new();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let started = Instant::now();
                    // Stored now: fresh messages that cleanup must leave alone.
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis());
                    conn.execute_batch(&format!(
                        "BEGIN IMMEDIATE; INSERT INTO messages (chat_jid, id, sender, content, timestamp, created_at)
                         VALUES ('15559999999@s.whatsapp.net', 'live{i}', '15559999999@s.whatsapp.net', 'live message', {now}, {now}); COMMIT;"
                    ))
                    .expect("write");
                    waits.push(started.elapsed());
                    i += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
                waits
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        let took = timed(wabot(&db).args(["cleanup", "--retention-days", "7"]));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let left = sqlite3_value(
            &db,
            &format!("SELECT count(*) FROM messages WHERE pk <= {CLEANUP_ROWS}"),
        );
        assert_eq!(
            left, "0",
            "cleanup must have deleted the aged rows it is timed on"
        );
        let mut waits = writer.join().expect("writer");
        waits.sort();
        let p99 = waits[(waits.len() * 99 / 100).min(waits.len() - 1)];
        let longest = waits[waits.len() - 1];
        self.report(
            "cleanup of 100 000 rows: a concurrent writer's longest wait",
            format!(
                "{:.1} ms (p99 {:.1} ms) over {} writes; cleanup took {:.0} ms, \
                 vs sqlite3 deleting them in one statement {:.0} ms",
                ms(longest),
                ms(p99),
                waits.len(),
                ms(took),
                ms(reference)
            ),
            longest <= Duration::from_millis(100),
            "≤ 100 ms",
        );
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
    }

    /// process-once answering 50 chats against an instant local LLM: wabot's own time
    /// per turn (the stand-in answers at once on loopback).
    fn turns(&mut self) {
        let stand_in = llm::StandIn::start(Duration::ZERO);
        let dir = self.path("turns");
        std::fs::create_dir_all(&dir).expect("dir");
        let entities: Vec<serde_json::Value> = (0..50).map(|i| serde_json::json!({"type": "user", "phone": format!("1555300{i:04}"), "name": format!("u{i}")})).collect();
        let config = serde_json::json!({"monitored_entities": entities, "polling": {"batch_size": 50}, "rate_limit": {"per_chat_per_minute": 600}, "perplexity": {"base_url": stand_in.url}});
        std::fs::write(dir.join("app.json"), config.to_string()).expect("config");
        let mut samples = Vec::new();
        for round in 0..5 {
            let lines: Vec<String> = (0..50)
                .map(|i| format!(r#"{{"id":"r{round}m{i}","chat_jid":"1555300{i:04}","content":"question {round}","timestamp":{}}}"#, BASE_TS + round))
                .collect();
            let file = dir.join(format!("round{round}.jsonl"));
            std::fs::write(&file, lines.join("\n")).expect("write");
            let mut import = Command::new(WABOT);
            import
                .current_dir(&dir)
                .args(["import", "--format", "jsonl", "--as-new"])
                .arg(&file);
            timed(&mut import);
            let mut run = Command::new(WABOT);
            run.current_dir(&dir)
                .env("PERPLEXITY_API_KEY", llm::KEY)
                .arg("process-once");
            samples.push(timed(&mut run) / 50);
        }
        let per_turn = median(samples);
        self.report(
            "claim, context and answer per chat turn (instant LLM)",
            format!("{:.2} ms", ms(per_turn)),
            per_turn <= Duration::from_millis(2),
            "< 2 ms",
        );
    }
}
