//! cleanup, backup, restore, vacuum, vitality and the extended stats, through the binary.

use crate::common;

use std::fs::File;
use std::process::Stdio;

use common::{Sandbox, finished_json, message_line};
use serde_json::Value;

const TS: i64 = 1_705_329_000;

/// Imports `n` messages spread over 20 chats, ids prefixed with `tag`.
fn import(sandbox: &Sandbox, tag: &str, n: usize) {
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let chat = format!("1555200{:04}@s.whatsapp.net", i % 20);
            message_line(
                &chat,
                &format!("{tag}{i}"),
                i % 4 == 0,
                TS + i as i64,
                &format!("note {tag} number {i} about gardening"),
            )
        })
        .collect();
    let report = sandbox.import_lines(&format!("{tag}.jsonl"), &lines, false);
    assert_eq!(report["imported"], n);
}

fn exec(sandbox: &Sandbox, sql: &str) {
    sandbox.exec(sql);
}

fn dump(sandbox: &Sandbox) -> Vec<String> {
    let conn = rusqlite::Connection::open(sandbox.db_path()).unwrap();
    let mut stmt = conn
        .prepare("SELECT chat_jid, id, sender, content, timestamp, is_from_me, message_type, coalesce(push_name, '') FROM messages ORDER BY chat_jid, id")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(format!(
            "{}|{}|{}|{}|{}|{}|{}|{}",
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, bool>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, String>(7)?
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

const TEN_DAYS_MS: i64 = 10 * 86_400_000;

#[test]
fn cleanup_deletes_what_is_old_in_batches_and_keeps_the_queue() {
    let sandbox = Sandbox::new();
    import(&sandbox, "old", 5_000);
    import(&sandbox, "new", 10);
    exec(&sandbox, &format!(
        "UPDATE messages SET created_at = created_at - {TEN_DAYS_MS}, source = 'live'
             WHERE id LIKE 'old%';
         UPDATE messages SET status = 'pending' WHERE id IN ('old1', 'old2');
         INSERT INTO chat_sessions (id, user_jid, chat_jid, created_at, expires_at, last_activity)
             VALUES ('gone', 'a', 'a', 0, 1, 0), ('live', 'b', 'b', 0, 9999999999999, 0);
         INSERT INTO outbox (message_id, chat_jid, content, kind, status, created_at, updated_at)
             VALUES ('X1', 'a', 'old sent', 'reply', 'accepted', 0, 0), ('X2', 'a', 'old pending', 'reply', 'pending', 0, 0);"
    ));
    let preview = sandbox.json(&["cleanup", "--dry-run", "--json"]);
    assert_eq!(preview["deleted"]["messages"], 4_998);
    assert_eq!(
        sandbox.sql::<i64>("SELECT count(*) FROM messages"),
        5_010,
        "a dry run deletes nothing"
    );

    let report = sandbox.json(&["cleanup", "--json"]);
    let d = &report["deleted"];
    assert_eq!(d["messages"], 4_998);
    assert_eq!(d["sessions"], 1);
    assert_eq!(d["outbox"], 1);
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM messages"), 12);
    assert_eq!(
        sandbox.sql::<i64>("SELECT count(*) FROM messages WHERE status = 'pending'"),
        2
    );
    let fts: i64 =
        sandbox.sql("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'gardening'");
    assert_eq!(fts, 12, "the full-text index follows the deletions");
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM outbox"), 1);

    let again = sandbox.json(&["cleanup", "--json"]);
    assert!(
        again["next_due_at"]
            .as_str()
            .is_some_and(|t| t.contains("T")),
        "{again}"
    );
    let forced = sandbox.json(&["cleanup", "--force", "--json"]);
    assert_eq!(forced["deleted"]["messages"], 0);
    let stats = sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["jobs"]["cleanup"]["outcome"], "ok");
    assert_eq!(
        stats["jobs"]["cleanup"]["summary"]["deleted"]["messages"],
        0
    );
    assert_eq!(stats["jobs"]["backup"], Value::Null);
}

#[test]
fn an_imported_export_survives_cleanup_with_the_default_settings() {
    let sandbox = Sandbox::new();
    import(&sandbox, "exp", 20);
    // Imported a month ago; the export itself is older still.
    exec(
        &sandbox,
        &format!("UPDATE messages SET created_at = created_at - 3 * {TEN_DAYS_MS}"),
    );
    let report = sandbox.json(&["cleanup", "--force", "--json"]);
    assert_eq!(report["deleted"]["messages"], 0, "{report}");
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM messages"), 20);
    // The owner asks for it: said on stderr (nobody to ask here), then deleted.
    let run = sandbox.run(&["cleanup", "--include-history", "--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("20 messages of imported or synced history"),
        "{}",
        run.stderr()
    );
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM messages"), 0);
}

#[test]
fn the_cleanup_archive_reimports_to_the_same_rows() {
    let sandbox = Sandbox::new();
    import(&sandbox, "a", 3_000);
    let before = dump(&sandbox);
    let report = sandbox.json(&[
        "cleanup",
        "--retention-days",
        "0",
        "--include-history",
        "--archive",
        "archive.jsonl",
        "--json",
    ]);
    assert_eq!(report["archived"], 3_000);
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM messages"), 0);
    let reimport = sandbox.json(&["import", "--format", "jsonl", "archive.jsonl", "--json"]);
    assert_eq!(reimport["imported"], 3_000);
    assert_eq!(dump(&sandbox), before);
}

/// Inserts `n` messages from another process while `during` runs.
fn with_concurrent_import<T>(sandbox: &Sandbox, n: usize, during: impl FnOnce() -> T) -> T {
    let lines: Vec<String> = (0..n)
        .map(|i| {
            message_line(
                "15553000000@s.whatsapp.net",
                &format!("w{i}"),
                false,
                TS + i as i64,
                "written meanwhile",
            )
        })
        .collect();
    let file = sandbox.write("writer.jsonl", &lines.join("\n"));
    let mut writer = sandbox
        .cmd(&["import", "--format", "jsonl", file.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    sandbox.wait_for(
        "the writer's first rows",
        "SELECT count(*) FROM messages WHERE id LIKE 'w%'",
    );
    let result = during();
    assert!(
        writer.try_wait().unwrap().is_none(),
        "the writer finished before the work under test did: no overlap was tested"
    );
    let out = writer.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    result
}

#[test]
fn a_backup_taken_while_another_process_writes_is_complete_and_intact() {
    let sandbox = Sandbox::new();
    import(&sandbox, "base", 2_000);
    let (committed, report) = with_concurrent_import(&sandbox, 60_000, || {
        let committed: i64 = sandbox.sql("SELECT count(*) FROM messages");
        (committed, sandbox.json(&["backup", "--json"]))
    });
    let path = std::path::PathBuf::from(report["path"].as_str().unwrap());
    let path = if path.is_absolute() {
        path
    } else {
        sandbox.path(path.to_str().unwrap())
    };
    assert!(
        path.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("wabot-")
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert!(
        rows >= committed,
        "backup has {rows} rows, {committed} were committed before it began"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        report["bytes"].as_u64().unwrap(),
        std::fs::metadata(&path).unwrap().len()
    );
    assert!(
        !path.with_extension("db-wal").exists(),
        "a backup is one self-contained file"
    );
}

#[test]
fn a_backup_is_quick_checked_and_full_checked_on_request() {
    let sandbox = Sandbox::new();
    import(&sandbox, "a", 50);
    let quick = sandbox.json(&["backup", "--output", "quick.db", "--json"]);
    assert_eq!(quick["verified"], "quick_check");
    // An index that no longer agrees with its table: only the full check sees it.
    exec(
        &sandbox,
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_schema SET sql = 'CREATE INDEX messages_time ON messages (created_at)'
             WHERE name = 'messages_time';
         PRAGMA writable_schema = OFF;",
    );
    let quick = sandbox.json(&["backup", "--output", "quick2.db", "--json"]);
    assert_eq!(quick["verified"], "quick_check");
    let full = sandbox.run(&["backup", "--output", "full.db", "--full-check", "--json"]);
    assert_eq!(full.code(), 1, "{}", full.stderr());
    assert!(
        full.stderr().contains("failed its PRAGMA integrity_check"),
        "{}",
        full.stderr()
    );
    assert!(
        !sandbox.path("full.db").exists(),
        "an unverified copy is not kept"
    );
    assert!(!sandbox.path("full.db.partial").exists());
}

#[test]
fn backups_rotate_by_count_and_age() {
    let sandbox = Sandbox::new();
    import(&sandbox, "a", 10);
    let dir = sandbox.path("store/backups");
    std::fs::create_dir_all(&dir).unwrap();
    for name in [
        "wabot-20200101-000000.db",
        "wabot-20200102-000000.db",
        "wabot-20200103-000000.db",
    ] {
        std::fs::write(dir.join(name), "old").unwrap();
    }
    std::fs::write(dir.join("wabot-20200101-000000.device.db"), "old").unwrap();
    let report = sandbox.json(&["backup", "--keep", "2", "--keep-days", "0", "--json"]);
    let removed: Vec<String> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert_eq!(removed.len(), 2, "{removed:?}");
    assert!(
        removed
            .iter()
            .any(|p| p.ends_with("wabot-20200101-000000.db"))
    );
    assert!(!dir.join("wabot-20200101-000000.device.db").exists());
    assert!(dir.join("wabot-20200103-000000.db").exists());
    // The default rule (backup.keep_days = 7) removes the 2020 one that is left.
    let report = sandbox.json(&["backup", "--json"]);
    assert_eq!(report["removed"].as_array().unwrap().len(), 1);
}

#[test]
fn restore_round_trip_keeps_the_previous_database() {
    let sandbox = Sandbox::new();
    import(&sandbox, "a", 100);
    let snapshot = dump(&sandbox);
    let report = sandbox.json(&["backup", "--output", "snap.db", "--json"]);
    assert!(report["removed"].as_array().unwrap().is_empty());
    import(&sandbox, "b", 50);
    let later = dump(&sandbox);

    let run = sandbox.run(&["restore", "snap.db"]);
    assert_eq!(
        run.code(),
        2,
        "no --yes and no terminal: refuse: {}",
        run.stderr()
    );
    assert_eq!(dump(&sandbox), later);

    let run = sandbox.run(&["restore", "snap.db", "--yes"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(dump(&sandbox), snapshot);
    let kept = rusqlite::Connection::open(sandbox.path("store/wabot.db.pre-restore")).unwrap();
    let n: i64 = kept
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 150);
    assert_eq!(sandbox.json(&["stats", "--json"])["messages"]["total"], 100);
}

#[test]
fn restore_refuses_a_running_listener_a_newer_schema_and_a_broken_file() {
    let sandbox = Sandbox::new();
    import(&sandbox, "a", 10);
    sandbox.json(&["backup", "--output", "snap.db", "--json"]);
    let lock = File::create(sandbox.path("store/wabot.db.lock")).unwrap();
    lock.try_lock().unwrap();
    let run = sandbox.run(&["restore", "snap.db", "--yes"]);
    assert_eq!(run.code(), 75, "{}", run.stderr());
    assert!(
        run.stderr().contains("holds the WhatsApp connection"),
        "{}",
        run.stderr()
    );
    drop(lock);

    rusqlite::Connection::open(sandbox.path("snap.db"))
        .unwrap()
        .execute_batch("PRAGMA user_version = 42")
        .unwrap();
    let run = sandbox.run(&["restore", "snap.db", "--yes"]);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("newer wabot"), "{}", run.stderr());
    sandbox.write(
        "junk.db",
        "definitely not sqlite, just some text that is long enough",
    );
    let run = sandbox.run(&["restore", "junk.db", "--yes"]);
    assert_eq!(run.code(), 1);
    assert_eq!(
        sandbox.json(&["stats", "--json"])["messages"]["total"],
        10,
        "nothing was lost"
    );
}

#[test]
fn vacuum_compacts_and_reports_sizes() {
    let sandbox = Sandbox::new();
    import(&sandbox, "a", 4_000);
    sandbox.json(&[
        "cleanup",
        "--retention-days",
        "0",
        "--include-history",
        "--json",
    ]);
    let report = sandbox.json(&["vacuum", "--json"]);
    let (before, after) = (
        report["size_before_bytes"].as_u64().unwrap(),
        report["size_after_bytes"].as_u64().unwrap(),
    );
    assert!(after < before / 2, "{before} → {after}");
    assert_eq!(after, std::fs::metadata(sandbox.db_path()).unwrap().len());
    let into = sandbox.json(&["vacuum", "--into", "compact.db", "--json"]);
    assert_eq!(
        into["size_after_bytes"].as_u64().unwrap(),
        std::fs::metadata(sandbox.path("compact.db")).unwrap().len()
    );
    let run = sandbox.run(&["vacuum", "--into", "compact.db"]);
    assert_eq!(run.code(), 1, "an existing target is refused");
}

#[test]
fn vitality_needs_a_live_listener_and_queues_one_message_a_day() {
    let sandbox = Sandbox::new();
    import(&sandbox, "v", 1);
    let run = sandbox.run(&["vitality"]);
    assert_eq!(run.code(), 69);
    assert!(
        run.stderr()
            .contains("listener is not running (last heartbeat: never)"),
        "{}",
        run.stderr()
    );
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM outbox"), 0);

    exec(&sandbox, "INSERT INTO listener_heartbeat (id, pid, started_at, updated_at, connected, state)
                    VALUES (1, 1, strftime('%s','now') * 1000 - 3600000, strftime('%s','now') * 1000, 1, 'running')");
    let report = sandbox.json(&["vitality", "--wait", "0", "--json"]);
    assert_eq!(report["queued"], true);
    assert_eq!(report["chat"]["jid"], "15550009999@s.whatsapp.net");
    assert_eq!(report["chat"]["name"], "me");
    let content = report["content"].as_str().unwrap();
    assert!(
        content.starts_with("wabot is alive\nlistener connected"),
        "{content}"
    );
    let again = sandbox.json(&["vitality", "--wait", "0", "--json"]);
    assert_eq!(again["queued"], false);
    assert_eq!(
        sandbox.sql::<i64>("SELECT count(*) FROM outbox WHERE kind = 'vitality'"),
        1
    );

    exec(
        &sandbox,
        "UPDATE listener_heartbeat SET updated_at = updated_at - 600000",
    );
    assert_eq!(
        sandbox.run(&["vitality"]).code(),
        69,
        "a stale heartbeat means no delivery"
    );
    let stats = sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["listener"]["alive"], false);
    assert_eq!(stats["jobs"]["vitality"]["outcome"], "failed");
}

#[test]
fn vitality_prints_its_crontab_line() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["vitality", "--print-cron"]).stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "CRON_TZ=Europe/Berlin");
    assert!(
        lines[1].starts_with("0 9 * * * /") && lines[1].ends_with("app.json vitality"),
        "{out}"
    );
}

#[test]
fn the_vitality_canary_waits_for_the_phone_and_doctor_names_the_half_that_failed() {
    let sandbox = Sandbox::new();
    import(&sandbox, "v", 1);
    exec(&sandbox, "INSERT INTO listener_heartbeat (id, pid, started_at, updated_at, connected, state)
                    VALUES (1, 1, strftime('%s','now') * 1000 - 3600000, strftime('%s','now') * 1000, 1, 'running')");
    let child = sandbox.spawn(&["vitality", "--wait", "60", "--json"]);
    sandbox.wait_for(
        "the queued canary",
        "SELECT count(*) FROM outbox WHERE kind = 'vitality'",
    );
    // The listener's part: WhatsApp acked it, the owner's phone sent its receipt.
    exec(
        &sandbox,
        "UPDATE outbox SET status = 'delivered', sent_at = 1, delivered_at = 2",
    );
    let report = finished_json(child);
    assert_eq!(report["canary"], "confirmed", "{report}");

    // A canary WhatsApp took but the phone never confirmed: the receiving half.
    exec(
        &sandbox,
        "UPDATE outbox SET status = 'accepted', delivered_at = NULL,
             created_at = created_at - 3600000",
    );
    let doctor = sandbox.run(&["doctor"]);
    assert_ne!(doctor.code(), 0);
    assert!(
        doctor.stdout().contains("the receiving half failed"),
        "{}",
        doctor.stdout()
    );
    exec(&sandbox, "UPDATE outbox SET status = 'pending'");
    assert!(
        sandbox
            .run(&["doctor"])
            .stdout()
            .contains("the sending half failed")
    );
}
