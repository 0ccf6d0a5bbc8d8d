//! search, pause/resume, exclusions, chats, send and the outbox's cancel/retry.

use crate::common;

use common::{Sandbox, finished_json, message_line};
use serde_json::Value;

const ALICE: &str = "15550001111@s.whatsapp.net";
const FAMILY: &str = "120363041234567890@g.us";
const TS: i64 = 1_705_329_000;

fn import(sandbox: &Sandbox, name: &str, lines: &[String], as_new: bool) {
    sandbox.import_lines(name, lines, as_new);
}

fn pending(sandbox: &Sandbox) -> i64 {
    sandbox.sql("SELECT count(*) FROM messages WHERE status = 'pending'")
}

#[test]
fn search_orders_ranks_filters_and_highlights() {
    let sandbox = Sandbox::new();
    let lines = [
        message_line(
            ALICE,
            "a1",
            false,
            TS,
            "Apache Spark is a cluster computing engine",
        ),
        message_line(
            ALICE,
            "a2",
            false,
            TS + 86_400,
            "spark spark spark: the spark of genius",
        ),
        message_line(
            "15550004444",
            "b1",
            false,
            TS + 2 * 86_400,
            "Flink and Spark compared",
        ),
        message_line(ALICE, "a3", false, TS, "nothing relevant here"),
    ];
    import(&sandbox, "m.jsonl", &lines, false);
    let ids = |hits: &serde_json::Value| -> Vec<String> {
        hits.as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect()
    };
    let hits = sandbox.json(&["search", "spark", "--json"]);
    assert_eq!(ids(&hits), ["b1", "a2", "a1"], "newest first");
    let ranked = sandbox.json(&["search", "spark", "--rank", "--json"]);
    assert_eq!(ids(&ranked)[0], "a2", "bm25 puts the densest match first");
    assert_eq!(ids(&ranked).len(), 3);
    let among_two = sandbox.json(&["search", "spark", "--rank", "--among", "2", "--json"]);
    assert_eq!(
        ids(&among_two),
        ["a2", "b1"],
        "only the newest two matches are ranked"
    );
    assert!(hits[1]["snippet"].as_str().unwrap().contains("[spark]"));
    for key in [
        "chat", "id", "sender", "author", "sent_at", "text", "snippet",
    ] {
        assert!(hits[0].get(key).is_some(), "{key}");
    }
    let phrase = sandbox.json(&["search", "\"cluster computing\"", "--json"]);
    assert_eq!(phrase.as_array().unwrap().len(), 1);
    let prefix = sandbox.json(&["search", "gen*", "--json"]);
    assert_eq!(prefix[0]["id"], "a2");
    let in_chat = sandbox.json(&["search", "spark", "--chat", "+1 555 000 4444", "--json"]);
    assert_eq!(in_chat.as_array().unwrap().len(), 1);
    let dated = sandbox.json(&[
        "search",
        "spark",
        "--since",
        "2024-01-16",
        // A day given as the end is included whole.
        "--until",
        "2024-01-16",
        "--json",
    ]);
    let ids: Vec<&str> = dated
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a2"]);
    let limited = sandbox.json(&["search", "spark", "--limit", "1", "--json"]);
    assert_eq!(limited.as_array().unwrap().len(), 1);
}

#[test]
fn a_malformed_query_is_a_usage_error_not_a_panic() {
    let sandbox = Sandbox::new();
    import(
        &sandbox,
        "m.jsonl",
        &[message_line(ALICE, "a1", false, TS, "hello")],
        false,
    );
    for query in ["\"unterminated", "AND", "(spark", "spark NOT"] {
        let run = sandbox.run(&["search", query]);
        assert_eq!(run.code(), 2, "{query}: {}", run.stderr());
        assert!(
            run.stderr().contains("malformed search query"),
            "{}",
            run.stderr()
        );
        assert!(!run.stderr().contains("panicked"));
    }
    let run = sandbox.run(&["search", "x", "--since", "last week"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("--since"), "{}", run.stderr());
    for args in [
        &["search", "x", "--among", "5"][..],
        &["search", "x", "--rank", "--among", "0"],
    ] {
        let run = sandbox.run(args);
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr());
        assert!(run.stderr().contains("--among"), "{}", run.stderr());
    }
}

#[test]
fn resume_from_now_skips_what_arrived_during_the_pause_from_last_answers_it() {
    let sandbox = Sandbox::new();
    import(
        &sandbox,
        "before.jsonl",
        &[message_line(ALICE, "before", false, TS, "hi")],
        true,
    );
    sandbox.run(&["pause"]);
    import(
        &sandbox,
        "during.jsonl",
        &[message_line(
            ALICE,
            "during",
            false,
            TS + 1,
            "are you there",
        )],
        true,
    );
    assert_eq!(pending(&sandbox), 2);
    assert_eq!(sandbox.run(&["resume", "--from-now"]).code(), 0);
    assert_eq!(pending(&sandbox), 1);
    let skipped: String = sandbox.sql("SELECT id FROM messages WHERE status = 'skipped'");
    assert_eq!(skipped, "during");

    sandbox.run(&["pause"]);
    import(
        &sandbox,
        "during2.jsonl",
        &[message_line(ALICE, "during2", false, TS + 2, "hello?")],
        true,
    );
    assert_eq!(sandbox.run(&["resume", "--from-last"]).code(), 0);
    assert_eq!(pending(&sandbox), 2, "nothing skipped");
    let state: (i64, String) = {
        let conn = rusqlite::Connection::open(sandbox.db_path()).unwrap();
        conn.query_row(
            "SELECT paused, resume_mode FROM processing_state",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    assert_eq!(state, (0, "from_last".to_string()));
    let run = sandbox.run(&["resume", "--from-now", "--from-last"]);
    assert_eq!(run.code(), 2, "the modes exclude each other");
}

#[test]
fn excluded_chats_are_listed_and_include_honours_its_mode() {
    let sandbox = Sandbox::new();
    import(
        &sandbox,
        "a.jsonl",
        &[message_line(ALICE, "x1", false, TS, "hi")],
        true,
    );
    assert_eq!(sandbox.run(&["exclude", "+1 555-000-1111"]).code(), 0);
    import(
        &sandbox,
        "b.jsonl",
        &[message_line(ALICE, "x2", false, TS + 1, "hello")],
        true,
    );
    let chats = sandbox.json(&["chats", "--json"]);
    let alice = chats
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["jid"] == ALICE)
        .unwrap()
        .clone();
    assert_eq!(alice["excluded"], true);
    assert_eq!(alice["monitored"], true);
    assert_eq!(alice["kind"], "user");
    assert_eq!(alice["messages"], 2);
    assert_eq!(sandbox.run(&["include", ALICE, "--from-now"]).code(), 0);
    let left: Vec<String> = {
        let conn = rusqlite::Connection::open(sandbox.db_path()).unwrap();
        let mut s = conn
            .prepare("SELECT id FROM messages WHERE status = 'pending'")
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(left, ["x1"], "only what arrived while excluded is skipped");
    assert_eq!(sandbox.run(&["exclude", "not a chat"]).code(), 2);
}

#[test]
fn exclude_and_include_of_a_chat_nobody_configured_say_what_is_true() {
    let sandbox = Sandbox::stocked();
    let stranger = "15550007777@s.whatsapp.net";
    let run = sandbox.run(&["exclude", stranger]);
    assert_eq!(run.code(), 0);
    assert!(
        run.stderr().contains("not answered anyway") && run.stderr().contains("not stored"),
        "{}",
        run.stderr()
    );
    let run = sandbox.run(&["include", stranger]);
    assert!(
        run.stderr()
            .contains("no longer excluded, but it is not answered"),
        "{}",
        run.stderr()
    );
}

#[test]
fn send_resolves_names_and_refuses_ambiguity() {
    let sandbox = Sandbox::new();
    let mut bob =
        serde_json::from_str::<Value>(&message_line("15550002222", "b", false, TS, "hey")).unwrap();
    bob["push_name"] = "Bob".into();
    let mut bob2 =
        serde_json::from_str::<Value>(&message_line("15550003333", "c", false, TS, "hey")).unwrap();
    bob2["push_name"] = "Bob".into();
    import(
        &sandbox,
        "m.jsonl",
        &[bob.to_string(), bob2.to_string()],
        false,
    );

    let row = sandbox.json(&["send", "--to", "alice", "dinner at 8", "--json"]);
    assert_eq!(row["chat"]["jid"], ALICE, "the entity name from app.json");
    assert_eq!(row["chat"]["name"], "Alice");
    assert_eq!(row["kind"], "manual");
    assert_eq!(row["status"], "pending");
    let row = sandbox.json(&["send", "--to", "Family", "hi all", "--json"]);
    assert_eq!(row["chat"]["jid"], FAMILY);
    let row = sandbox.json(&["send", "--to", "+1 555 000 4444", "hi", "--json"]);
    assert_eq!(row["chat"]["jid"], "15550004444@s.whatsapp.net");
    let run = sandbox.run(&["send", "--to", "bob", "hi"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("ambiguous")
            && run.stderr().contains("15550002222")
            && run.stderr().contains("15550003333"),
        "{}",
        run.stderr()
    );
    let run = sandbox.run(&["send", "--to", "Nobody", "hi"]);
    assert_eq!(run.code(), 2);
    let run = sandbox.run(&["send", "--to", "alice", "hi", "--wait", "0"]);
    assert_eq!(run.code(), 75, "no listener sent it: {}", run.stderr());
}

#[test]
fn outbox_rows_can_be_cancelled_and_retried() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["send", "--to", ALICE, "oops"]);
    assert_eq!(run.code(), 69, "no database yet: nothing to queue into");
    import(
        &sandbox,
        "first.jsonl",
        &[message_line(ALICE, "m1", false, 1_705_329_000, "hi")],
        false,
    );
    let row = sandbox.json(&["send", "--to", ALICE, "oops", "--json"]);
    let id = row["id"].as_i64().unwrap().to_string();
    assert_eq!(sandbox.run(&["outbox", "cancel", &id]).code(), 0);
    assert_eq!(
        sandbox
            .json(&["outbox", "list", "--status", "cancelled", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let run = sandbox.run(&["outbox", "cancel", &id]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("is cancelled, not pending"),
        "{}",
        run.stderr()
    );
    assert_eq!(sandbox.run(&["outbox", "retry", &id]).code(), 0);
    assert_eq!(
        sandbox
            .json(&["outbox", "list", "--status", "pending", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(sandbox.run(&["outbox", "retry", "999"]).code(), 2);
}

#[test]
fn send_wait_returns_once_the_listener_sent_the_message() {
    let sandbox = Sandbox::stocked();
    let child = sandbox
        .cmd(&[
            "send",
            "--to",
            "Alice",
            "are you coming?",
            "--wait",
            "20",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    sandbox.wait_for("the queued row", "SELECT count(*) FROM outbox");
    // The listener's part: the row went out.
    sandbox.exec("UPDATE outbox SET status = 'accepted', sent_at = 1");
    let row = finished_json(child);
    assert_eq!(row["status"], "accepted");
    assert_eq!(row["chat"]["jid"], ALICE);
}

#[test]
fn sends_to_new_contacts_wait_out_a_reachout_timelock() {
    let sandbox = Sandbox::stocked();
    // WhatsApp refused a first message with error 463 a minute ago.
    sandbox.exec(
        "INSERT INTO account_state (id, reachout_refused_at, updated_at)
         VALUES (1, strftime('%s', 'now') * 1000 - 60000, 0)",
    );
    let run = sandbox.run(&["send", "--to", "+1 555 000 7777", "hello"]);
    assert_eq!(run.code(), 75, "{}", run.stderr());
    assert!(run.stderr().contains("error 463"), "{}", run.stderr());
    assert_eq!(sandbox.sql::<i64>("SELECT count(*) FROM outbox"), 0);
    // Alice wrote to the account: her chat needs no reachout.
    let run = sandbox.run(&["send", "--to", "Alice", "hello"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let doctor = sandbox.run(&["doctor"]).stdout();
    assert!(doctor.contains("refuses first messages"), "{doctor}");
}
