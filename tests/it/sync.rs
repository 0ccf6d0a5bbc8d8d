//! `wabot sync` as an operator runs it: status on a fresh store, refusals, exits, and
//! the conversation with a listener through request rows (the listener's side is played
//! here on the database, as it would write it).

use crate::common;

use common::{Sandbox, finished_json, message_line};

const ALICE: &str = "15550001111@s.whatsapp.net";
const FAMILY: &str = "120363041234567890@g.us";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A store with one message of Alice's chat.
fn with_alice() -> Sandbox {
    let sandbox = Sandbox::new();
    let line = message_line(ALICE, "A1", false, 1_700_000_000, "hello");
    let file = sandbox.write("one.jsonl", &format!("{line}\n"));
    let run = sandbox.run(&["import", "--format", "jsonl", file.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    sandbox
}

fn exec(sandbox: &Sandbox, sql: &str) {
    sandbox.exec(sql);
}

/// A heartbeat as a running listener writes it, so `sync` hands its work over.
fn pretend_listener(sandbox: &Sandbox) {
    exec(
        sandbox,
        &format!(
            "INSERT OR REPLACE INTO listener_heartbeat (id, pid, started_at, updated_at, connected, state)
             VALUES (1, 1, {now}, {now}, 1, 'running')",
            now = now_ms()
        ),
    );
}

fn wait_for(sandbox: &Sandbox, what: &str, query: &str) {
    sandbox.wait_for(what, query);
}

/// `sync --chat ALICE ARGS` started against the pretended listener, once its request
/// is queued.
fn waiting_sync(sandbox: &Sandbox, args: &[&str]) -> std::process::Child {
    let mut all = vec!["sync", "--chat", ALICE];
    all.extend_from_slice(args);
    let child = sandbox.spawn(&all);
    wait_for(
        sandbox,
        "the request",
        "SELECT count(*) FROM sync_requests WHERE status = 'queued'",
    );
    child
}

#[test]
fn status_works_on_a_fresh_database() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["sync", "--status"]);
    assert_eq!(run.code(), 69, "no database yet: {}", run.stderr());
    let sandbox = with_alice();
    let status = sandbox.json(&["sync", "--status", "--json"]);
    assert_eq!(status["status"]["is_syncing"], false);
    assert_eq!(status["status"]["is_latest"], false);
    assert_eq!(
        status["status"]["total_chats"], 3,
        "the chats not yet started count too, as in the table"
    );
    assert_eq!(status["chats"].as_array().unwrap().len(), 0);
    let not_started: Vec<&str> = status["not_started"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["jid"].as_str().unwrap())
        .collect();
    assert_eq!(
        not_started,
        vec![ALICE, FAMILY, "15550009999@s.whatsapp.net"],
        "every answered chat is listed, the self chat too"
    );
    let text = sandbox.run(&["sync", "--status"]);
    assert_eq!(text.code(), 0);
    assert!(text.stdout().contains("not_started"), "{}", text.stdout());
    assert!(
        text.stdout().contains("0 of 3 chats completed"),
        "{}",
        text.stdout()
    );
}

#[test]
fn without_a_linked_device_sync_exits_69() {
    let sandbox = with_alice();
    let run = sandbox.run(&["sync", "--chat", "+1 555 000 1111"]);
    assert_eq!(run.code(), 69, "{}", run.stderr());
    assert!(run.stderr().contains("wabot pair"), "{}", run.stderr());
    let status = sandbox.json(&["sync", "--status", "--json"]);
    assert_eq!(
        status["chats"].as_array().unwrap().len(),
        0,
        "nothing was started"
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    let sandbox = with_alice();
    for (args, names) in [
        (vec!["sync", "--chat", ALICE, "--max", "20000"], "--max"),
        (vec!["sync", "--chat", ALICE, "--max", "0"], "--max"),
        (
            vec!["sync", "--chat", ALICE, "--resume", "--restart"],
            "--restart",
        ),
        (vec!["sync"], "--chat"),
        (vec!["sync", "--chat", "not a number"], "--chat"),
    ] {
        let run = sandbox.run(&args);
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr());
        assert!(run.stderr().contains(names), "{args:?}: {}", run.stderr());
    }
}

#[test]
fn refusals_come_before_anything_is_queued() {
    let sandbox = with_alice();
    pretend_listener(&sandbox);
    let run = sandbox.run(&["sync", "--chat", ALICE, "--resume"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("nothing to resume"),
        "{}",
        run.stderr()
    );
    let run = sandbox.run(&["sync", "--chat", "15550004444"]);
    assert_eq!(run.code(), 69, "{}", run.stderr());
    assert!(
        run.stderr().contains("no stored message") && run.stderr().contains("import"),
        "{}",
        run.stderr()
    );
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM sync_requests"), 0);
}

#[test]
fn a_running_listener_performs_the_request_and_sync_reports_its_checkpoint() {
    let sandbox = with_alice();
    pretend_listener(&sandbox);
    let child = waiting_sync(&sandbox, &["--max", "120", "--json"]);
    assert_eq!(
        sandbox.sql::<i64>(
            "SELECT count(*) FROM sync_requests WHERE max_messages = 120 AND action = 'start'"
        ),
        1
    );
    // The listener's part: claim, walk back, complete.
    let now = now_ms();
    exec(
        &sandbox,
        &format!(
            "UPDATE sync_requests SET status = 'running';
             INSERT INTO sync_checkpoints (chat_jid, state, cursor_id, cursor_timestamp, cursor_from_me,
                 messages_synced, max_messages, progress_percent, created_at, updated_at, completed_at)
             VALUES ('{ALICE}', 'completed', 'OLD', 1600000000000, 0, 73, 120, 100, {now}, {now}, {now});
             UPDATE sync_requests SET status = 'done';"
        ),
    );
    let report = finished_json(child);
    assert_eq!(report[0]["chat"]["jid"], ALICE);
    assert_eq!(report[0]["state"], "completed");
    assert_eq!(report[0]["messages_synced"], 73);
    assert_eq!(report[0]["cursor"]["id"], "OLD");
    let status = sandbox.json(&["sync", "--status", "--json"]);
    assert_eq!(status["status"]["completed_chats"], 1);
    assert_eq!(status["status"]["messages_synced"], 73);
    assert_eq!(
        status["status"]["is_latest"], false,
        "the Family group is not synced"
    );
}

#[test]
fn a_request_the_listener_refuses_fails_sync_with_its_reason() {
    let sandbox = with_alice();
    pretend_listener(&sandbox);
    let child = waiting_sync(&sandbox, &[]);
    exec(
        &sandbox,
        "UPDATE sync_requests SET status = 'failed', error = 'the sync is in_progress, so it cannot start'",
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot start"));
}

#[test]
fn ctrl_c_while_waiting_withdraws_the_queued_request() {
    let sandbox = with_alice();
    pretend_listener(&sandbox);
    // The request is queued only after the SIGINT handler is installed (sync::run), so
    // once `waiting_sync` saw it, the signal cannot come too early: no wait is needed.
    let mut child = waiting_sync(&sandbox, &[]);
    interrupt(child.id());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(75));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("--resume"), "{err}");
    assert_eq!(
        sandbox.sql::<i64>("SELECT count(*) FROM sync_requests"),
        0,
        "nobody will perform a withdrawn request"
    );
}

fn interrupt(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn cancel_stops_a_sync_in_progress_and_refuses_otherwise() {
    let sandbox = with_alice();
    let now = now_ms();
    exec(
        &sandbox,
        &format!(
            "INSERT INTO sync_checkpoints (chat_jid, state, cursor_id, cursor_timestamp, cursor_from_me,
                 messages_synced, max_messages, progress_percent, created_at, updated_at)
             VALUES ('{ALICE}', 'in_progress', 'C', 1600000000000, 0, 50, 500, 10, {now}, {now})"
        ),
    );
    let run = sandbox.run(&["sync", "--chat", ALICE, "--cancel"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stdout().contains("cancelled, 50 messages"),
        "{}",
        run.stdout()
    );
    let again = sandbox.run(&["sync", "--chat", ALICE, "--cancel"]);
    assert_eq!(again.code(), 2, "{}", again.stderr());
    assert!(
        again.stdout().contains("only a sync in progress"),
        "{}",
        again.stdout()
    );
    let status = sandbox.json(&["sync", "--status", "--json"]);
    assert_eq!(status["chats"][0]["state"], "cancelled");
    assert_eq!(
        status["chats"][0]["cursor"]["id"], "C",
        "the cursor is kept for --resume"
    );
}

#[test]
fn stats_show_the_sync_state() {
    let sandbox = with_alice();
    exec(
        &sandbox,
        &format!(
            "INSERT INTO sync_checkpoints (chat_jid, state, messages_synced, max_messages, created_at, updated_at)
             VALUES ('{ALICE}', 'interrupted', 10, 500, 1, 1)"
        ),
    );
    let stats = sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["sync"]["checkpoints"]["interrupted"], 1, "{stats}");
}

/// The listener's part, played on the database: finish the queued request of `chat`
/// with a completed checkpoint of `synced` messages.
fn complete_request(sandbox: &Sandbox, chat: &str, synced: i64) {
    wait_for(
        sandbox,
        "the request",
        &format!(
            "SELECT count(*) FROM sync_requests WHERE status = 'queued' AND chat_jid = '{chat}'"
        ),
    );
    let now = now_ms();
    exec(
        sandbox,
        &format!(
            "INSERT OR REPLACE INTO sync_checkpoints (chat_jid, state, cursor_id, cursor_timestamp,
                 cursor_from_me, messages_synced, max_messages, progress_percent, created_at,
                 updated_at, completed_at)
             VALUES ('{chat}', 'completed', 'OLD', 1600000000000, 0, {synced}, 500, 100, {now}, {now}, {now});
             UPDATE sync_requests SET status = 'done' WHERE chat_jid = '{chat}';"
        ),
    );
}

#[test]
fn all_monitored_through_the_listener_syncs_every_answered_chat_in_turn() {
    let sandbox = with_alice();
    let own = "15550009999@s.whatsapp.net";
    let mut group: serde_json::Value =
        serde_json::from_str(&message_line(FAMILY, "F1", false, 1_700_000_100, "dinner?")).unwrap();
    group["sender"] = "15550002222@s.whatsapp.net".into();
    let lines = [
        group.to_string(),
        message_line(own, "S1", true, 1_700_000_200, "note to self"),
    ];
    let report = sandbox.import_lines("more.jsonl", &lines, false);
    assert_eq!(report["imported"], 2, "{report}");
    pretend_listener(&sandbox);
    let child = sandbox.spawn(&["sync", "--all-monitored", "--json"]);
    // One request at a time, in the order the monitored chats are listed.
    for (chat, synced) in [(ALICE, 10), (FAMILY, 20), (own, 30)] {
        complete_request(&sandbox, chat, synced);
    }
    let report = finished_json(child);
    let synced: Vec<i64> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["messages_synced"].as_i64().unwrap())
        .collect();
    assert_eq!(synced, [10, 20, 30]);
    let status = sandbox.json(&["sync", "--status", "--json"]);
    assert_eq!(status["status"]["is_latest"], true, "{status}");
}

#[test]
fn restart_through_the_listener_queues_a_restart_of_a_completed_sync() {
    let sandbox = with_alice();
    pretend_listener(&sandbox);
    let first = sandbox.spawn(&["sync", "--chat", ALICE]);
    complete_request(&sandbox, ALICE, 40);
    assert!(first.wait_with_output().unwrap().status.success());
    let restart = sandbox.spawn(&["sync", "--chat", "Alice", "--restart", "--json"]);
    complete_request(&sandbox, ALICE, 7);
    let out = restart.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sandbox.sql::<i64>("SELECT count(*) FROM sync_requests WHERE action = 'restart'"),
        1
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["messages_synced"], 7);
}

#[test]
fn media_fetch_through_the_listener_prints_the_stored_file() {
    let sandbox = with_alice();
    pretend_listener(&sandbox);
    exec(
        &sandbox,
        &format!(
            "INSERT INTO media_files (chat_jid, message_id, media_type, mimetype, sha256, download,
                 created_at, updated_at)
             VALUES ('{ALICE}', 'A1', 'image', 'image/jpeg', 'ab12',
                 '{{\"direct_path\":\"/v/t62\",\"media_key\":\"00\",\"file_enc_sha256\":\"00\",\"file_length\":4}}', 1, 1)"
        ),
    );
    let child = sandbox.spawn(&["media", "fetch", "--message", "A1", "--chat", "Alice"]);
    wait_for(
        &sandbox,
        "the download request",
        "SELECT count(*) FROM media_files WHERE download_state = 'pending'",
    );
    sandbox.write("store/media/ab12.jpg", "jpeg");
    exec(
        &sandbox,
        "UPDATE media_files SET download_state = 'done', local_path = 'media/ab12.jpg'",
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(printed.ends_with("store/media/ab12.jpg"), "{printed}");
    // Asked again, the file on disk is the answer at once.
    let again = sandbox.run(&["media", "fetch", "--message", "A1"]);
    assert_eq!(again.code(), 0, "{}", again.stderr());
    assert_eq!(again.stdout().trim(), printed);
}
