//! `wabot import --format jsonl`: idempotency, rejections, concurrency, and stats agreement.

use crate::common;

use std::io::Write;
use std::process::Stdio;

use common::{Sandbox, fixtures, message_line};
use serde_json::Value;

const ALICE: &str = "15550001111@s.whatsapp.net";
const BASE_TS: i64 = 1_705_329_000;

fn fixture_messages() -> String {
    fixtures().join("messages.jsonl").display().to_string()
}

#[test]
fn importing_twice_adds_nothing_the_second_time_and_stats_agree() {
    let sandbox = Sandbox::new();
    let file = fixture_messages();
    let first = sandbox.json(&["import", "--format", "jsonl", &file, "--json"]);
    assert_eq!(first["imported"], 6);
    assert_eq!(first["duplicates"], 0);
    assert_eq!(first["rejected"], 0);
    let second = sandbox.json(&["import", "--format", "jsonl", &file, "--json"]);
    assert_eq!(second["imported"], 0);
    assert_eq!(second["duplicates"], 6);

    let stats = sandbox.json(&["stats", "--json"]);
    let m = &stats["messages"];
    assert_eq!(m["total"], 6);
    assert_eq!(m["inbound"], 5);
    assert_eq!(m["outbound"], 1);
    assert_eq!(m["pending"], 0, "imports are history");
    assert_eq!(stats["chats"], 3);
    assert_eq!(
        stats["top_chats"][0]["chat"]["jid"],
        "120363041234567890@g.us"
    );
    assert_eq!(stats["top_chats"][0]["messages"], 3);
    // 2024-01-15T14:31:40Z, the newest fixture message, in the configured zone.
    assert_eq!(stats["last_message_at"], "2024-01-15T15:31:40+01:00");
    assert_eq!(
        sandbox.sql::<i64>("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'spark'"),
        1
    );
    let alice: String = sandbox.sql(&format!("SELECT name FROM chats WHERE jid = '{ALICE}'"));
    assert_eq!(alice, "Alice");
    let runs: i64 =
        sandbox.sql("SELECT count(*) FROM job_runs WHERE job = 'import' AND outcome = 'ok'");
    assert_eq!(runs, 2);
}

#[test]
fn bad_lines_are_rejected_with_line_and_reason_and_the_rest_lands() {
    let sandbox = Sandbox::new();
    let good = message_line(ALICE, "g1", false, BASE_TS, "hello");
    let lines = [
        good.as_str(),
        "",
        "{not json",
        r#"{"id":"","chat_jid":"15550001111","timestamp":1705329000}"#,
        r#"{"id":"x1","chat_jid":"nobody","timestamp":1705329000}"#,
        r#"{"id":"x2","chat_jid":"15550001111","timestamp":946684800}"#,
        r#"{"id":"x3","chat_jid":"15550001111","timestamp":"tomorrow"}"#,
        r#"{"id":"x4","chat_jid":"120363041234567890@g.us","timestamp":1705329000}"#,
        r#"{"id":"ok2","chat_jid":"+1 555-000-1111","sender":"15550001111:7@s.whatsapp.net","timestamp":"2024-01-15T15:00:00+01:00","content":"same chat"}"#,
    ];
    let file = sandbox.write("in.jsonl", &lines.join("\n"));
    let run = sandbox.run(&[
        "import",
        "--format",
        "jsonl",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        run.code(),
        0,
        "a file with some good lines succeeds: {}",
        run.stderr()
    );
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["imported"], 2);
    assert_eq!(report["rejected"], 6);
    let errors: Vec<(i64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_i64().unwrap(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = [
        (3, "key must be a string"),
        (4, "id: is empty"),
        (5, "chat_jid:"),
        (6, "timestamp:"),
        (7, "timestamp:"),
        (8, "sender:"),
    ];
    assert_eq!(errors.len(), expect.len(), "{errors:?}");
    for ((line, reason), (want_line, want)) in errors.iter().zip(expect) {
        assert_eq!(*line, want_line);
        assert!(
            reason.contains(want),
            "line {line}: {reason:?} lacks {want:?}"
        );
    }
    let same_chat: i64 = sandbox.sql(&format!(
        "SELECT count(*) FROM messages WHERE chat_jid = '{ALICE}'"
    ));
    assert_eq!(same_chat, 2, "all spellings of one number land in one chat");
}

#[test]
fn human_mode_reports_rejections_on_stderr_and_stays_quiet_on_stdout() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("in.jsonl", "{\"id\":\"a\"}\n");
    let run = sandbox.run(&["import", "--format", "jsonl", "in.jsonl"]);
    assert_eq!(run.code(), 1, "nothing importable is an error");
    assert!(
        run.stderr().contains("in.jsonl:1: missing field"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("no line could be imported"),
        "{}",
        run.stderr()
    );
    assert!(run.stdout().is_empty());
    drop(file);
    let run = sandbox.run(&["import", "--format", "jsonl", "missing.jsonl"]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("cannot open missing.jsonl"),
        "{}",
        run.stderr()
    );
}

#[test]
fn as_new_queues_only_inbound_messages_of_monitored_chats() {
    let sandbox = Sandbox::new();
    let file = fixture_messages();
    sandbox.json(&["import", "--format", "jsonl", &file, "--as-new", "--json"]);
    // Monitored: Alice (2 inbound) and the Family group (2 inbound, 1 own). 15550004444 is not.
    let pending: i64 = sandbox.sql("SELECT count(*) FROM messages WHERE status = 'pending'");
    assert_eq!(pending, 4);
    let own_pending: i64 =
        sandbox.sql("SELECT count(*) FROM messages WHERE status = 'pending' AND is_from_me = 1");
    assert_eq!(own_pending, 0);
    assert_eq!(sandbox.json(&["stats", "--json"])["messages"]["pending"], 4);
}

#[test]
fn reads_standard_input() {
    let sandbox = Sandbox::new();
    let mut child = sandbox
        .cmd(&["import", "--format", "jsonl", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input = std::fs::read(fixtures().join("messages.jsonl")).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["imported"], 6);
}

/// Two imports at once into one fresh database: both succeed, nothing is lost or doubled.
#[test]
fn concurrent_imports_into_one_database_do_not_fail_with_locked() {
    let sandbox = Sandbox::new();
    let write_file = |name: &str, range: std::ops::Range<i64>| {
        let text: Vec<String> = range
            .map(|i| {
                let chat = format!("1555{:07}@s.whatsapp.net", i % 50);
                message_line(
                    &chat,
                    &format!("m{i}"),
                    i % 3 == 0,
                    BASE_TS + i,
                    "some words here",
                )
            })
            .collect();
        sandbox.write(name, &text.join("\n"))
    };
    // Overlapping halves: 0..30000 and 20000..50000.
    let a = write_file("a.jsonl", 0..30_000);
    let b = write_file("b.jsonl", 20_000..50_000);
    let spawn = |file: &std::path::Path| {
        sandbox
            .cmd(&[
                "import",
                "--format",
                "jsonl",
                file.to_str().unwrap(),
                "--json",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(&a), spawn(&b));
    let reports: Vec<Value> = [first, second]
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "import failed: {stderr}");
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect();
    let imported: i64 = reports
        .iter()
        .map(|r| r["imported"].as_i64().unwrap())
        .sum();
    let duplicates: i64 = reports
        .iter()
        .map(|r| r["duplicates"].as_i64().unwrap())
        .sum();
    assert_eq!(imported, 50_000);
    assert_eq!(duplicates, 10_000);
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM messages"), 50_000);
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM chats"), 50);
    let fts: i64 =
        sandbox.sql("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'words'");
    assert_eq!(
        fts, 50_000,
        "the FTS index holds every message exactly once"
    );
}
