//! Regression tests for the fault and bad-input campaign: no setting, provider answer
//! or file destroys data or stalls a chat. Each test is named after its case.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use common::bot::{ALICE, Bot};
use common::llm::KEY;
use common::{Sandbox, fixture_config};
use serde_json::{Value, json};

fn messages(sandbox: &Sandbox) -> i64 {
    sandbox.sql("SELECT count(*) FROM messages")
}

fn with_config(sandbox: &Sandbox, edit: impl FnOnce(&mut Value)) {
    let mut config = fixture_config();
    edit(&mut config);
    sandbox.write_config(&config);
}

#[test]
fn case_01_a_retention_beyond_a_century_is_refused_and_nothing_is_deleted() {
    let sandbox = Sandbox::stocked();
    with_config(&sandbox, |c| {
        c["rotation"]["retention_days"] = json!(200_000_000_000_i64)
    });
    let run = sandbox.run(&["cleanup", "--force"]);
    assert_eq!(run.code(), 78, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("rotation.retention_days: must be between 1 and 36500 days"),
        "{}",
        run.stderr()
    );
    assert_eq!(messages(&sandbox), 6);
    let run = sandbox.run(&["cleanup", "--retention-days", "4294967295"]);
    assert_eq!(run.code(), 2, "the flag is range-checked too");
}

#[test]
fn case_02_a_backup_keep_days_that_would_truncate_is_refused() {
    let sandbox = Sandbox::stocked();
    let first = sandbox.json(&["backup", "--json"]);
    let path = sandbox.dir.path().join(first["path"].as_str().unwrap());
    with_config(&sandbox, |c| {
        c["backup"] = json!({"keep_days": 4_294_967_296_i64})
    });
    let run = sandbox.run(&["backup"]);
    assert_eq!(run.code(), 78, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("backup.keep_days: must be between 0 and 36500")
    );
    assert!(path.exists(), "the older backup stays");
}

#[test]
fn case_03_restore_refuses_an_empty_file_and_a_foreign_database() {
    let sandbox = Sandbox::stocked();
    sandbox.write("empty.db", "");
    let run = sandbox.run(&["restore", "empty.db", "--yes"]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("is empty, not a wabot backup"),
        "{}",
        run.stderr()
    );
    let foreign = sandbox.path("other.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE notes (x); INSERT INTO notes VALUES (1);")
        .unwrap();
    let run = sandbox.run(&["restore", "other.db", "--yes"]);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("another program"), "{}", run.stderr());
    assert!(run.stderr().contains("nothing was changed"));
    assert_eq!(messages(&sandbox), 6, "the archive is untouched");
}

#[test]
fn case_04_a_foreign_database_with_a_messages_table_is_refused_everywhere() {
    let sandbox = Sandbox::stocked();
    let foreign = sandbox.path("chat-app.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE messages (id, body); PRAGMA user_version = 3;")
        .unwrap();
    let run = sandbox.run(&["restore", "chat-app.db", "--yes"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert!(run.stderr().contains("another program"), "{}", run.stderr());
    assert_eq!(messages(&sandbox), 6);

    let run = sandbox.run(&["--db", "chat-app.db", "stats"]);
    assert_eq!(run.code(), 78, "{}", run.stderr());
    assert!(run.stderr().contains("another program"), "{}", run.stderr());
    assert!(!run.stderr().contains("CREATE TABLE"), "no SQL dump");

    // A real restore keeps the previous archive, and that copy restores in turn.
    sandbox.run(&["backup", "--output", "snap.db"]);
    std::fs::remove_file(sandbox.path("snap.db")).unwrap();
    let snap = sandbox.json(&["backup", "--output", "snap.db", "--json"]);
    assert!(snap["path"].is_string());
    let run = sandbox.run(&["restore", "snap.db", "--yes"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let run = sandbox.run(&["restore", "store/wabot.db.pre-restore", "--yes"]);
    assert_eq!(
        run.code(),
        0,
        "a .pre-restore file always restores: {}",
        run.stderr()
    );
    assert_eq!(messages(&sandbox), 6);
}

#[test]
fn case_05_retry_after_is_capped_and_a_new_message_is_not_held_back() {
    let bot = Bot::new(|_| {});
    bot.receive(&[(ALICE, "busy? [429:86400x1]")]);
    let started = common_now_ms();
    let (run, summary) = bot.process();
    assert_eq!(run.code(), 75, "rate limited everywhere: retry later");
    assert_eq!(summary["deferred"], 1, "{summary}");
    let next: i64 = bot.sandbox.sql("SELECT max(next_attempt_at) FROM messages");
    assert!(
        next <= started + 3_600_000 + 60_000,
        "a day-long Retry-After holds the turn at most an hour: {}",
        next - started
    );
    bot.receive(&[(ALICE, "are you there?")]);
    let summary = bot.process_ok();
    assert_eq!(
        summary["answered"], 2,
        "the new message brings the turn back: {summary}"
    );
    assert_eq!(bot.outbox().len(), 1, "one reply for the turn");
}

fn common_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn case_06_a_runaway_answer_is_capped_before_outbox_and_memory() {
    let bot = Bot::new(|c| c["replies"] = json!({"max_chars": 3000}));
    bot.receive(&[(ALICE, "tell me everything [huge:500000]")]);
    assert_eq!(bot.process_ok()["answered"], 1);
    let parts = bot.outbox();
    assert!(parts.len() <= 5, "{} messages for one answer", parts.len());
    let last = parts.last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        last.contains("more characters of this answer were left out"),
        "{last}"
    );
    let memory: i64 = bot.sandbox.sql("SELECT length(context) FROM chat_sessions");
    assert!(memory < 20_000, "memory holds {memory} bytes");
}

#[test]
fn case_07_a_run_that_lost_its_lease_does_not_call_the_llm_for_that_turn() {
    // Run A claims two chats and is held in the LLM call of the first; meanwhile the
    // second chat's lease runs out (moved into the past: time is not waited for) and run
    // B takes it over and is held too. Released, A answers the first chat and must see
    // that the second is no longer its own before it pays for an LLM call.
    let bot = Bot::new(|c| {
        c["perplexity"]["timeout_seconds"] = json!(30);
        c["polling"]["lease_seconds"] = json!(60);
        c["monitored_entities"] = json!([
            {"type": "user", "phone": "15550003001", "name": "u1"},
            {"type": "user", "phone": "15550003002", "name": "u2"},
        ]);
    });
    let (first, second) = ("15550003001@s.whatsapp.net", "15550003002@s.whatsapp.net");
    bot.receive(&[(first, "hello [hold]"), (second, "hello [hold]")]);
    let a = bot
        .sandbox
        .cmd(&["process-once", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    held(&bot, 1);
    bot.sandbox.exec(&format!(
        "UPDATE messages SET claim_until = 1 WHERE chat_jid = '{second}'"
    ));
    let b = bot
        .sandbox
        .cmd(&["process-once", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    held(&bot, 2);
    bot.llm.release();
    let (a, b) = (summary(a), summary(b));
    assert_eq!(
        (a["answered"].as_i64(), a["llm_calls"].as_i64()),
        (Some(1), Some(1)),
        "{a}"
    );
    assert_eq!(
        (b["answered"].as_i64(), b["llm_calls"].as_i64()),
        (Some(1), Some(1)),
        "{b}"
    );
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE status = 'answered'"),
        2
    );
    assert_eq!(bot.outbox().len(), 2, "one reply per turn");
    assert_eq!(
        bot.llm.requests().len(),
        2,
        "no LLM call for a turn another run owns"
    );
}

/// Waits until `n` LLM calls are held by the stand-in.
fn held(bot: &Bot, n: usize) {
    bot.llm.wait_tagged("hold", n);
}

/// The JSON summary of a `process-once --json` that must succeed.
fn summary(run: std::process::Child) -> Value {
    let out = run.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn case_08_lease_and_cleanup_interval_out_of_range_are_refused() {
    let sandbox = Sandbox::stocked();
    with_config(&sandbox, |c| {
        c["polling"]["lease_seconds"] = json!(18_446_744_073_709_552_i64);
        c["rotation"]["cleanup_interval_hours"] = json!(9_223_372_036_854_775_807_i64);
    });
    let run = sandbox.run(&["config", "check"]);
    assert_eq!(run.code(), 78);
    let said = run.stderr();
    assert!(
        said.contains("polling.lease_seconds: must be between 2 and 86400"),
        "{said}"
    );
    assert!(
        said.contains("rotation.cleanup_interval_hours: must be between 1 and 8784"),
        "{said}"
    );
}

#[test]
fn case_09_an_absurd_send_wait_is_refused_before_anything_is_queued() {
    let sandbox = Sandbox::stocked();
    let run = sandbox.run(&[
        "send",
        "--to",
        ALICE,
        "hi",
        "--wait",
        "18446744073709551615",
    ]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("--wait"));
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM outbox"), 0);
}

#[test]
fn case_10_error_messages_are_bounded() {
    let sandbox = Sandbox::stocked();
    let query = format!("\"{}", "x".repeat(100_000));
    let run = sandbox.run(&["search", &query]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("malformed search query"));
    assert!(
        run.stderr().len() < 2_500,
        "{} bytes of error",
        run.stderr().len()
    );
}

#[test]
fn case_11_vacuum_into_writes_a_private_file() {
    let sandbox = Sandbox::stocked();
    let run = sandbox.run(&["vacuum", "--into", "compact.db"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let mode = std::fs::metadata(sandbox.path("compact.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let copy = rusqlite::Connection::open(sandbox.path("compact.db")).unwrap();
    let n: i64 = copy
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 6);
}

#[test]
fn case_12_a_killed_backups_partial_file_is_removed_by_the_next_backup() {
    let sandbox = Sandbox::stocked();
    let stale = sandbox.write(
        "store/backups/wabot-20261101-000000.db.partial",
        "half a copy",
    );
    let journal = sandbox.write(
        "store/backups/wabot-20261101-000000.db.partial-journal",
        "its rollback journal",
    );
    let old = SystemTime::now() - Duration::from_secs(3600);
    for leftover in [&stale, &journal] {
        std::fs::File::options()
            .write(true)
            .open(leftover)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let fresh = sandbox.write(
        "store/backups/wabot-20261123-000000.db.partial",
        "in progress",
    );
    let run = sandbox.run(&["backup"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(!stale.exists(), "the killed run's leftover is gone");
    assert!(!journal.exists(), "and the journal SQLite kept beside it");
    assert!(
        fresh.exists(),
        "a partial still being written is left alone"
    );
    let foreign = sandbox.write("store/backups/notes.partial", "not ours");
    std::fs::File::options()
        .write(true)
        .open(&foreign)
        .unwrap()
        .set_modified(old)
        .unwrap();
    assert_eq!(sandbox.run(&["backup"]).code(), 0);
    assert!(
        foreign.exists(),
        "a file wabot did not name is never removed"
    );
}

#[test]
fn case_13_app_json_must_hold_exactly_one_object() {
    let sandbox = Sandbox::stocked();
    for (text, want) in [
        ("[]", "must hold one JSON object"),
        ("{} x", "more after the configuration object"),
        (
            "{}\n{\"polling\": {}}",
            "more after the configuration object",
        ),
        ("", "found nothing"),
    ] {
        sandbox.write("app.json", text);
        let run = sandbox.run(&["config", "check"]);
        assert_eq!(run.code(), 78, "{text:?}");
        assert!(run.stderr().contains(want), "{text:?}: {}", run.stderr());
    }
}

#[test]
fn case_14_send_splits_long_texts_like_replies() {
    let sandbox = Sandbox::stocked();
    let text = "This sentence is part of a very long manual message. ".repeat(2300);
    let report = sandbox.json(&["send", "--to", ALICE, &text, "--json"]);
    let parts = report["parts"].as_array().unwrap().len();
    assert!(parts >= 40, "{parts} parts");
    let longest: i64 = sandbox.sql("SELECT max(length(content)) FROM outbox");
    assert!(longest <= 3000, "{longest}");
    let total: i64 = sandbox.sql("SELECT count(*) FROM outbox WHERE kind = 'manual'");
    assert_eq!(total as usize, parts);
}

#[test]
fn case_15_a_transient_bad_answer_is_retried_and_failed_turns_can_be_requeued() {
    let bot = Bot::new(|_| {});
    bot.receive(&[(ALICE, "hello [garbagex1]")]);
    let summary = bot.process_ok();
    assert_eq!(
        summary["answered"], 1,
        "an HTML page with 200 is retried: {summary}"
    );
    assert_eq!(summary["llm_calls"], 2);

    bot.receive(&[(ALICE, "odd one [400x1]")]);
    assert_eq!(bot.process_ok()["failed"], 1, "a real 400 is not retried");
    let report = bot.sandbox.json(&["retry", "--chat", "Alice", "--json"]);
    assert_eq!(report["requeued"], 1);
    assert_eq!(
        bot.process_ok()["answered"],
        1,
        "the requeued turn is answered"
    );
    let report = bot.sandbox.json(&["retry", "--json"]);
    assert_eq!(report["requeued"], 0);
    assert!(!bot.sandbox.run(&["retry"]).stderr().contains(KEY));
}
