//! wabot's performance budgets, measured on the real binary side by side with the
//! `sqlite3` command-line tool. Prints one line per figure (medians); with `--check` it
//! exits 1 when a budget is missed. `cargo bench --bench budgets [-- --check]`;
//! WABOT_BENCH_MESSAGES sets the database size (default 200000).

#[path = "../tests/common/llm.rs"]
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
    let db = bench.ingest(&jsonl, &sql);
    bench.noop(&db);
    bench.stats_and_search(&db);
    bench.backup(&db);
    bench.cleanup_while_writing(&jsonl);
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

    /// The same rows as JSONL for wabot and as one SQL transaction for sqlite3.
    fn generate(&self, n: usize) -> (PathBuf, PathBuf) {
        let mut jsonl = String::with_capacity(n * 200);
        let mut sql = String::with_capacity(n * 200);
        sql.push_str(
            "BEGIN;\nCREATE TABLE messages (chat_jid TEXT NOT NULL, id TEXT NOT NULL, sender TEXT NOT NULL, \
             content TEXT NOT NULL, timestamp INTEGER NOT NULL, is_from_me INTEGER NOT NULL, UNIQUE (chat_jid, id));\n\
             CREATE INDEX messages_chat_time ON messages (chat_jid, timestamp);\n",
        );
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
                "INSERT INTO messages VALUES ('{chat}','{id}','{sender}','{content}',{},{});",
                ts * 1000,
                i32::from(from_me)
            );
        }
        sql.push_str("COMMIT;\n");
        let (j, s) = (self.path("messages.jsonl"), self.path("messages.sql"));
        std::fs::write(&j, jsonl).expect("write jsonl");
        std::fs::write(&s, sql).expect("write sql");
        (j, s)
    }

    /// Whole-process import against sqlite3 loading the same rows; returns a loaded db.
    fn ingest(&mut self, jsonl: &Path, sql: &Path) -> PathBuf {
        let (mut ours, mut reference) = (Vec::new(), Vec::new());
        let mut last = PathBuf::new();
        for run in 0..3 {
            let db = self.path(&format!("ingest-{run}.db"));
            ours.push(timed(
                wabot(&db).args(["import", "--format", "jsonl"]).arg(jsonl),
            ));
            last = db;
            let plain = self.path(&format!("plain-{run}.db"));
            reference.push(timed(Command::new("sh").arg("-c").arg(format!(
                "sqlite3 {} < {}",
                plain.display(),
                sql.display()
            ))));
        }
        let (o, r) = (median(ours), median(reference));
        let ratio = o.as_secs_f64() / r.as_secs_f64();
        self.report(
            "ingest (import, whole process)",
            format!(
                "{:.0} ms vs sqlite3 {:.0} ms, ratio {ratio:.2}",
                ms(o),
                ms(r)
            ),
            ratio <= 1.5,
            "≤ 1.5× sqlite3",
        );
        last
    }

    /// A cron run with nothing to do, against sqlite3 opening the db for one indexed query.
    fn noop(&mut self, db: &Path) {
        let ours = median(
            (0..21)
                .map(|_| timed(wabot(db).arg("process-once")))
                .collect(),
        );
        let reference = median(
            (0..21)
                .map(|_| {
                    timed(
                        Command::new("sqlite3")
                            .arg(db)
                            .arg("SELECT count(*) FROM messages WHERE status = 'pending'"),
                    )
                })
                .collect(),
        );
        let budget = Duration::from_millis(10).max(reference * 3);
        self.report(
            "cron no-op (process-once)",
            format!("{:.1} ms vs sqlite3 {:.1} ms", ms(ours), ms(reference)),
            ours <= budget,
            "≤ max(10 ms, 3× sqlite3)",
        );
    }

    fn stats_and_search(&mut self, db: &Path) {
        let stats = median(
            (0..11)
                .map(|_| timed(wabot(db).args(["stats", "--json"])))
                .collect(),
        );
        self.report(
            "stats --json (whole process)",
            format!("{:.1} ms", ms(stats)),
            stats <= Duration::from_millis(150),
            "< 150 ms",
        );
        let search = median(
            (0..11)
                .map(|_| timed(wabot(db).args(["search", "w300x", "--limit", "20", "--json"])))
                .collect(),
        );
        self.report(
            "search, 20 hits (whole process)",
            format!("{:.1} ms", ms(search)),
            search <= Duration::from_millis(50),
            "< 50 ms",
        );
    }

    /// Online backup against a plain copy of the same file.
    fn backup(&mut self, db: &Path) {
        let bytes = std::fs::metadata(db).map_or(0, |m| m.len()) as f64;
        let ours = median(
            (0..5)
                .map(|run| {
                    timed(
                        wabot(db)
                            .args(["backup", "--output"])
                            .arg(self.path(&format!("b{run}.db"))),
                    )
                })
                .collect(),
        );
        let copy = median(
            (0..5)
                .map(|run| {
                    let started = Instant::now();
                    std::fs::copy(db, self.path(&format!("c{run}.db"))).expect("copy");
                    started.elapsed()
                })
                .collect(),
        );
        let (ours_mb, copy_mb) = (
            bytes / ours.as_secs_f64() / 1e6,
            bytes / copy.as_secs_f64() / 1e6,
        );
        self.report(
            "backup throughput",
            format!("{ours_mb:.0} MB/s vs file copy {copy_mb:.0} MB/s"),
            ours_mb >= copy_mb / 2.0,
            "≥ ½ of a file copy",
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

    /// cleanup deleting 100 000 expired rows while another process writes one message
    /// at a time, as the listener does: the writer's p99 wait for each write.
    fn cleanup_while_writing(&mut self, jsonl: &Path) {
        let db = self.path("cleanup.db");
        timed(wabot(&db).args(["import", "--format", "jsonl"]).arg(jsonl));
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute(
            "UPDATE messages SET created_at = created_at - 30 * 86400000 WHERE pk <= 100000",
            [],
        )
        .expect("age rows");
        drop(conn);
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
        let mut waits = writer.join().expect("writer");
        waits.sort();
        let p99 = waits[(waits.len() * 99 / 100).min(waits.len() - 1)];
        self.report(
            "cleanup of 100 000 rows: concurrent writer's p99 write",
            format!(
                "{:.1} ms over {} writes (cleanup took {:.0} ms)",
                ms(p99),
                waits.len(),
                ms(took)
            ),
            p99 <= Duration::from_millis(100),
            "≤ 100 ms",
        );
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
