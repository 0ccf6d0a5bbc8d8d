//! `wabot process-once` against a local Perplexity stand-in: exactly-once answers,
//! memory, mentions, every LLM failure, crashes and concurrency.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::Run;
use common::bot::{ALICE, Bot, FAMILY};
use common::llm::KEY;
use serde_json::{Value, json};

#[test]
fn answers_each_chat_turn_once_and_remembers_the_exchange() {
    let bot = Bot::new(|_| {});
    bot.receive(&[(ALICE, "What is Apache Spark?"), (ALICE, "And Flink?")]);
    let summary = bot.process_ok();
    assert_eq!(
        (
            summary["claimed"].as_i64(),
            summary["answered"].as_i64(),
            summary["llm_calls"].as_i64()
        ),
        (Some(2), Some(2), Some(1))
    );
    let outbox = bot.outbox();
    assert_eq!(outbox.len(), 1, "one reply for the whole turn");
    let reply = &outbox[0];
    assert_eq!(reply["chat"]["jid"], ALICE);
    assert_eq!(reply["kind"], "reply");
    assert_eq!(reply["status"], "pending");
    assert_eq!(
        reply["content"],
        "Answer to: And Flink?\n\nSources:\n[1] https://example.com/source"
    );
    assert_eq!(reply["reply_to_id"], "in1");
    let created = reply["created_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok() && reply["id"].as_i64().is_some(),
        "{reply}"
    );

    let again = bot.process_ok();
    assert_eq!(again["claimed"], 0, "nothing is answered twice");

    bot.listener_sends();
    bot.receive(&[(ALICE, "Which is faster?")]);
    bot.process_ok();
    let requests = bot.llm.requests();
    assert_eq!(requests.len(), 2);
    let second = bot.llm.conversation(1);
    let roles: Vec<&str> = second.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert!(
        second[0]
            .1
            .starts_with("You are a concise research assistant")
            && second[0].1.contains("Friendly, precise")
    );
    assert_eq!(second[1].1, "What is Apache Spark?\nAnd Flink?");
    assert_eq!(
        second[2].1, "Answer to: And Flink?",
        "memory holds the answer, not the source list"
    );
    assert_eq!(second[3].1, "Which is faster?");
    assert_eq!(
        bot.llm.paths(),
        ["/v1/agent", "/v1/agent"],
        "the fixture's perplexity section answers through the Agent API"
    );
    assert_eq!(requests[1]["model"], "perplexity/sonar");
    assert_eq!(requests[1]["max_output_tokens"], 600);
    assert_eq!(requests[1]["tools"], json!([{"type": "web_search"}]));
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE status = 'answered'"),
        3
    );
    assert_eq!(
        bot.count("SELECT sum(prompt_tokens) FROM llm_calls WHERE outcome = 'ok'"),
        22
    );
    let stats = bot.sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["messages"]["answered"], 3);
    assert_eq!(stats["outbox"]["pending"], 1);
    assert_eq!(
        stats["outbox"]["accepted"], 1,
        "the first reply, as the listener sent it"
    );
    assert_eq!(stats["sessions"]["active"], 1);
}

#[test]
fn an_expired_session_starts_a_fresh_conversation() {
    let bot = Bot::new(|c| {
        c["session_memory"]["mode"] = json!("duration");
        c["session_memory"]["reset_hours"] = json!(1);
    });
    bot.receive(&[(ALICE, "first")]);
    bot.process_ok();
    // Two hours pass: the row still says it is valid, but the rule says it is not.
    let conn = rusqlite::Connection::open(bot.sandbox.db_path()).unwrap();
    conn.execute("UPDATE chat_sessions SET created_at = created_at - 7200000, expires_at = expires_at + 86400000", []).unwrap();
    bot.receive(&[(ALICE, "second")]);
    bot.process_ok();
    assert_eq!(
        bot.llm.conversation(1).len(),
        2,
        "no old context: {:?}",
        bot.llm.conversation(1)
    );
    assert_eq!(bot.count("SELECT count(*) FROM chat_sessions"), 1);
}

#[test]
fn groups_answer_only_when_mentioned_with_the_chatter_as_context() {
    let bot = Bot::new(|c| c["whatsapp"]["bot_name"] = json!("wabot"));
    bot.receive(&[(FAMILY, "Dinner at 8?")]);
    let summary = bot.process_ok();
    assert_eq!(summary["skipped"], 1);
    assert!(bot.outbox().is_empty());
    bot.receive(&[(FAMILY, "@15550009999 what should we cook?")]);
    assert_eq!(bot.process_ok()["answered"], 1);
    let user = bot.llm.conversation(0)[1].1.clone();
    assert_eq!(
        user,
        "Bob: Dinner at 8?\nBob: @15550009999 what should we cook?"
    );
    bot.receive(&[(FAMILY, "Wabot, and dessert?")]);
    assert_eq!(
        bot.process_ok()["answered"],
        1,
        "the configured name counts as a mention"
    );
    assert_eq!(bot.outbox().len(), 2);
}

#[test]
fn a_wrong_key_stops_the_run_and_loses_nothing() {
    let bot = Bot::new(|_| {});
    bot.receive(&[(ALICE, "hello")]);
    let run = bot
        .sandbox
        .cmd(&["process-once"])
        .env("PERPLEXITY_API_KEY", "pplx-wrong")
        .output()
        .unwrap();
    let run = Run(run);
    assert_eq!(run.code(), 78, "{}", run.stderr());
    assert!(
        run.stderr().contains("HTTP 401") && run.stderr().contains("PERPLEXITY_API_KEY"),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("pplx-wrong") && !run.stderr().contains(KEY));
    assert_eq!(bot.count("SELECT count(*) FROM messages WHERE status = 'pending' AND claim_token IS NULL AND last_error LIKE '%401%'"), 1);
    assert_eq!(
        bot.process_ok()["answered"],
        1,
        "the right key answers what waited"
    );
}

#[test]
fn a_missing_key_is_a_configuration_error() {
    let bot = Bot::new(|_| {});
    std::fs::remove_file(bot.sandbox.path(".env")).unwrap();
    // With something to answer: an idle run needs no key (see the config tests).
    bot.receive(&[(ALICE, "anyone there?")]);
    let run = bot.sandbox.run(&["process-once"]);
    assert_eq!(run.code(), 78);
    assert!(
        run.stderr().contains("PERPLEXITY_API_KEY is not set"),
        "{}",
        run.stderr()
    );
}

#[test]
fn every_llm_error_is_handled_and_a_failing_chat_never_blocks_the_others() {
    let bot = Bot::new(|c| {
        c["polling"]["max_attempts"] = json!(2);
        c["monitored_entities"] = json!([
            {"type": "user", "phone": "15550000001", "name": "bad-request"},
            {"type": "user", "phone": "15550000002", "name": "garbage"},
            {"type": "user", "phone": "15550000003", "name": "always-500"},
            {"type": "user", "phone": "15550000004", "name": "one-429"},
            {"type": "user", "phone": "15550000005", "name": "one-stall"},
            {"type": "user", "phone": "15550000006", "name": "fine"},
        ]);
    });
    bot.receive(&[
        ("15550000001", "[400] please"),
        ("15550000002", "[garbage] please"),
        ("15550000003", "[500] please"),
        ("15550000004", "[429:1x1] please"),
        ("15550000005", "[stall:3000x1] please"),
        ("15550000006", "plain question"),
    ]);
    let summary = bot.process_ok();
    assert_eq!(summary["answered"], 3, "{summary}");
    assert_eq!(summary["failed"], 3, "{summary}");
    let status = |phone: &str| -> (String, String) {
        let conn = rusqlite::Connection::open(bot.sandbox.db_path()).unwrap();
        conn.query_row(
            "SELECT status, coalesce(last_error, '') FROM messages WHERE chat_jid = ?1",
            [format!("{phone}@s.whatsapp.net")],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (s, e) = status("15550000001");
    assert_eq!(s, "failed");
    assert!(e.contains("HTTP 400: The input exceeds"), "{e}");
    let (s, e) = status("15550000002");
    assert_eq!(s, "failed");
    assert!(e.contains("unreadable answer"), "{e}");
    let (s, e) = status("15550000003");
    assert_eq!(s, "failed");
    assert!(e.contains("gave up after 2 attempts: HTTP 500"), "{e}");
    assert_eq!(
        status("15550000004").0,
        "answered",
        "429 with a short Retry-After is retried in the run"
    );
    assert_eq!(
        status("15550000005").0,
        "answered",
        "a stalled call times out and is retried"
    );
    assert_eq!(status("15550000006").0, "answered");
    let stats = bot.sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["messages"]["failed"], 3);
}

#[test]
fn an_unreachable_llm_defers_everything_and_exits_75() {
    let bot = Bot::new(|c| {
        c["polling"]["max_attempts"] = json!(10);
    });
    bot.receive(&[(ALICE, "[429:600] hi"), (FAMILY, "@15550009999 [500] hi")]);
    let (run, summary) = bot.process();
    assert_eq!(run.code(), 75, "{}", run.stderr());
    assert_eq!(summary["deferred"], 2);
    let stats = bot.sandbox.json(&["stats", "--json"]);
    let last = &stats["jobs"]["process-once"];
    assert_eq!(
        last["outcome"], "failed",
        "the job log agrees with exit 75: {last}"
    );
    assert!(
        last["summary"]["error"]
            .as_str()
            .unwrap()
            .contains("could not be reached")
    );
    let wait: i64 = bot.count(&format!("SELECT next_attempt_at - (strftime('%s','now') * 1000) FROM messages WHERE chat_jid = '{ALICE}'"));
    assert!(
        (590_000..=601_000).contains(&wait),
        "Retry-After is honoured across runs: {wait}"
    );
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE status = 'pending' AND claim_token IS NULL"),
        2
    );
    assert_eq!(
        bot.process_ok()["claimed"],
        0,
        "deferred work waits for its time"
    );
}

#[test]
fn the_rate_limit_defers_a_chat_that_talks_too_fast() {
    let bot = Bot::new(|c| c["rate_limit"]["per_chat_per_minute"] = json!(1));
    bot.receive(&[(ALICE, "one")]);
    assert_eq!(bot.process_ok()["answered"], 1);
    bot.receive(&[(ALICE, "two")]);
    let summary = bot.process_ok();
    assert_eq!(summary["deferred"], 1);
    assert_eq!(summary["llm_calls"], 0);
    assert_eq!(bot.outbox().len(), 1);
}

#[test]
fn long_replies_are_split_and_debug_entities_get_a_debug_message() {
    let bot = Bot::new(|c| {
        c["replies"]["max_chars"] = json!(200);
        c["perplexity"]["citations"] = json!(false);
        c["monitored_entities"][0]["debug"] = json!(true);
    });
    bot.receive(&[(ALICE, "[long] tell me everything")]);
    bot.process_ok();
    let outbox = bot.outbox();
    assert_eq!(
        outbox[0]["kind"], "debug",
        "the debug message comes before the reply"
    );
    assert!(
        outbox[0]["content"]
            .as_str()
            .unwrap()
            .contains("[long] tell me everything")
    );
    let parts: Vec<&Value> = outbox.iter().filter(|r| r["kind"] == "reply").collect();
    assert_eq!(parts.len(), 3);
    for part in &parts {
        let text = part["content"].as_str().unwrap();
        assert!(
            text.chars().count() <= 200 && text.ends_with('.'),
            "{text:?}"
        );
        assert_eq!(part["reply_to_id"], parts[0]["reply_to_id"]);
    }
}

#[test]
fn own_sends_and_removed_entities_are_never_answered() {
    let bot = Bot::new(|_| {});
    bot.receive(&[(ALICE, "hello"), ("15550004444", "not monitored")]);
    bot.process_ok();
    let reply_id = bot.outbox()[0]["message_id"].as_str().unwrap().to_string();
    // The listener stores the echo of our own reply, and something marks it pending.
    let conn = rusqlite::Connection::open(bot.sandbox.db_path()).unwrap();
    conn.execute(
        "INSERT INTO messages (chat_jid, id, sender, content, timestamp, is_from_me, status, created_at)
         VALUES (?1, ?2, '15550009999@s.whatsapp.net', 'echo', 1705329999000, 1, 'pending', 0),
                (?1, 'mine', '15550009999@s.whatsapp.net', 'typed on the phone', 1705329999000, 1, 'pending', 0)",
        rusqlite::params![ALICE, reply_id],
    ).unwrap();
    conn.execute(
        "UPDATE messages SET status = 'pending' WHERE chat_jid = '15550004444@s.whatsapp.net'",
        [],
    )
    .unwrap();
    let summary = bot.process_ok();
    assert_eq!(summary["llm_calls"], 0);
    assert_eq!(summary["skipped"], 3, "{summary}");
    // Alice is removed from the configuration: what she sent meanwhile is skipped.
    bot.receive(&[(ALICE, "are you there?")]);
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(bot.sandbox.path("app.json")).unwrap())
            .unwrap();
    config["monitored_entities"]
        .as_array_mut()
        .unwrap()
        .remove(0);
    bot.sandbox.write_config(&config);
    assert_eq!(bot.process_ok()["skipped"], 1);
    assert_eq!(bot.outbox().len(), 1);
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE last_error = 'chat is not monitored'"),
        2
    );
}

#[test]
fn dry_run_shows_the_requests_and_changes_nothing() {
    let bot = Bot::new(|_| {});
    bot.receive(&[(ALICE, "What is Spark?")]);
    std::fs::remove_file(bot.sandbox.path(".env")).unwrap();
    let run = bot.sandbox.run(&["process-once", "--dry-run"]);
    assert_eq!(run.code(), 0, "a dry run needs no key: {}", run.stderr());
    let turns: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(turns[0]["chat"]["jid"], ALICE);
    assert_eq!(turns[0]["chat"]["name"], "Alice", "named as the entity");
    assert_eq!(turns[0]["endpoint"], format!("{}/v1/agent", bot.llm.url));
    let request = &turns[0]["request"];
    assert_eq!(
        request["input"],
        json!([{"type": "message", "role": "user", "content": "What is Spark?"}]),
        "the body exactly as it would be sent"
    );
    assert!(
        request["instructions"]
            .as_str()
            .unwrap()
            .contains("Friendly, precise")
    );
    assert!(bot.llm.requests().is_empty());
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE status = 'pending' AND claim_token IS NULL"),
        1
    );
    assert_eq!(
        bot.count("SELECT count(*) FROM outbox")
            + bot.count("SELECT count(*) FROM job_runs WHERE job = 'process-once'"),
        0
    );
}

/// SIGKILL during the LLM call: the next run after the lease answers exactly once.
#[test]
fn a_run_killed_during_the_llm_call_is_answered_exactly_once_later() {
    let bot = Bot::new(|c| c["monitored_entities"][0]["debug"] = json!(true));
    bot.receive(&[(ALICE, "[stall:1500x1] slow question")]);
    let mut child = bot
        .sandbox
        .cmd(&["process-once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the stand-in holds the call (it stalls 1.5 s before answering).
    bot.llm.wait_tagged("stall:1500x1", 1);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        bot.count(
            "SELECT count(*) FROM messages WHERE status = 'pending' AND claim_token IS NOT NULL"
        ),
        1
    );
    assert_eq!(
        bot.process_ok()["claimed"],
        0,
        "the lease of the dead run still holds"
    );
    // The lease runs out: moved into the past rather than waited for.
    bot.sandbox
        .exec("UPDATE messages SET claim_until = 0 WHERE claim_token IS NOT NULL");
    assert_eq!(bot.process_ok()["answered"], 1);
    assert_eq!(bot.process_ok()["claimed"], 0);
    let outbox = bot.outbox();
    let kinds: Vec<&str> = outbox.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["debug", "reply"],
        "one debug message and one reply, no duplicates"
    );
}

/// Two runs started together on 200 messages in 50 chats: one reply per chat turn.
#[test]
fn overlapping_runs_never_answer_a_turn_twice() {
    let bot = Bot::with_delay(Duration::from_millis(15), |c| {
        c["polling"]["batch_size"] = json!(50);
        let entities: Vec<Value> = (0..50)
            .map(|i| json!({"type": "user", "phone": format!("1555100{i:04}"), "name": format!("u{i}")}))
            .collect();
        c["monitored_entities"] = json!(entities);
    });
    let messages: Vec<(String, String)> = (0..200)
        .map(|i| (format!("1555100{:04}", i % 50), format!("question {i}")))
        .collect();
    let refs: Vec<(&str, &str)> = messages
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    bot.receive(&refs);
    let spawn = || {
        bot.sandbox
            .cmd(&["process-once", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let mut answered = 0;
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        answered += summary["answered"].as_i64().unwrap();
    }
    assert_eq!(answered, 200);
    assert_eq!(
        bot.count("SELECT count(*) FROM outbox WHERE kind = 'reply'"),
        50
    );
    assert_eq!(bot.count("SELECT count(DISTINCT chat_jid) FROM outbox"), 50);
    assert_eq!(bot.llm.requests().len(), 50);
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE status != 'answered'"),
        0
    );
}

#[test]
fn a_paused_bot_answers_nothing() {
    let bot = Bot::new(|_| {});
    bot.receive(&[(ALICE, "hello")]);
    let conn = rusqlite::Connection::open(bot.sandbox.db_path()).unwrap();
    conn.execute("UPDATE processing_state SET paused = 1", [])
        .unwrap();
    let summary = bot.process_ok();
    assert_eq!(summary["paused"], true);
    assert_eq!(summary["claimed"], 0);
}

#[test]
fn a_sender_switching_to_its_lid_form_stays_in_one_conversation() {
    let bot = Bot::new(|_| {});
    bot.receive(&[(ALICE, "first, by phone number")]);
    bot.process_ok();
    // The listener learnt Alice's LID from WhatsApp.
    let conn = rusqlite::Connection::open(bot.sandbox.db_path()).unwrap();
    conn.execute(
        "UPDATE contacts SET lid = '987654321012345@lid' WHERE jid = ?1",
        [ALICE],
    )
    .unwrap();
    bot.listener_sends();
    bot.receive(&[("987654321012345:3@lid", "second, by LID")]);
    assert_eq!(bot.process_ok()["answered"], 1);
    assert_eq!(
        bot.count(&format!(
            "SELECT count(*) FROM messages WHERE chat_jid = '{ALICE}'"
        )),
        2
    );
    assert_eq!(
        bot.llm.conversation(1).len(),
        4,
        "the LID message continues Alice's session"
    );
}

#[test]
fn simulate_runs_the_real_pipeline_in_its_own_session_and_never_queues() {
    let bot = Bot::new(|_| {});
    let run = bot
        .sandbox
        .run(&["simulate", "--entity", "alice", "What is Spark?"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(
        run.stdout().trim(),
        "Answer to: What is Spark?\n\nSources:\n[1] https://example.com/source"
    );
    let run = bot
        .sandbox
        .run(&["simulate", "--entity", "Alice", "And Flink?"]);
    assert_eq!(run.code(), 0);
    let second = bot.llm.conversation(1);
    assert_eq!(second.len(), 4, "the simulated session remembers");
    assert!(second[0].1.contains("Friendly, precise"), "entity persona");
    bot.sandbox
        .run(&["simulate", "--entity", "alice", "--reset", "Fresh start"]);
    assert_eq!(bot.llm.conversation(2).len(), 2);
    assert!(bot.outbox().is_empty(), "simulation never queues");
    assert_eq!(
        bot.count("SELECT count(*) FROM chat_sessions WHERE user_jid LIKE 'simulate:%'"),
        1
    );
    // Interactive: lines on stdin, one answer each.
    let mut child = bot
        .sandbox
        .cmd(&["simulate", "--entity", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"one\n\ntwo\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Alice> Answer to: one") && stdout.contains("Alice> Answer to: two"),
        "{stdout}"
    );
    let run = bot.sandbox.run(&["simulate", "--entity", "nobody", "hi"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("Alice, Family"), "{}", run.stderr());
}

/// Answering on arrival: `replay-events --turns` delivers questions through the
/// listener's own durability hook (built with `--features bench`; CI runs it). Nobody
/// runs `process-once` here, no cron: only the run the listener starts can answer.
#[cfg(feature = "bench")]
#[test]
fn replayed_questions_are_answered_on_arrival_by_a_child_process_without_cron() {
    let bot = Bot::new(|_| {});
    let turns = bot.sandbox.json(&["replay-events", "--turns", "3"]);
    let latencies: Vec<f64> = turns["latencies_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_f64().unwrap())
        .collect();
    assert_eq!(latencies.len(), 3, "{turns}");
    for ms in latencies {
        assert!(
            (900.0..10_000.0).contains(&ms),
            "gathered for a second, then answered at once: {ms} ms"
        );
    }
    assert_eq!(bot.llm.requests().len(), 3, "one LLM call per question");
    let outbox = bot.outbox();
    assert_eq!(outbox.len(), 3);
    assert!(
        outbox
            .iter()
            .all(|r| r["chat"]["jid"] == ALICE && r["kind"] == "reply")
    );
    assert!(
        bot.count("SELECT count(*) FROM job_runs WHERE job = 'process-once' AND outcome = 'ok'")
            >= 3,
        "each answer came from a logged process-once run"
    );
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE status = 'pending'"),
        0
    );
}

#[cfg(feature = "bench")]
#[test]
fn replayed_questions_wait_for_cron_when_answering_on_arrival_is_off() {
    let bot = Bot::new(|c| c["polling"]["on_arrival"] = json!(false));
    let refused = bot.sandbox.run(&["replay-events", "--turns", "1"]);
    assert_eq!(refused.code(), 78, "{}", refused.stderr());
    assert!(refused.stderr().contains("polling.on_arrival is off"));
}

#[test]
fn a_run_answers_a_whole_burst_not_one_batch_of_it() {
    let chats: Vec<String> = (0..20)
        .map(|i| format!("1555010{i:04}@s.whatsapp.net"))
        .collect();
    let entities: Vec<Value> = chats
        .iter()
        .enumerate()
        .map(|(i, jid)| json!({"type": "user", "jid": jid, "name": format!("Person {i}")}))
        .collect();
    let bot = Bot::new(|c| {
        c["monitored_entities"] = json!(entities);
        c["polling"]["batch_size"] = json!(10);
    });
    let burst: Vec<(&str, &str)> = (0..100)
        .map(|i| (chats[i % 20].as_str(), "hello there"))
        .collect();
    bot.receive(&burst);
    let summary = bot.process_ok();
    assert_eq!(summary["answered"], 100, "{summary}");
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE status = 'pending'"),
        0
    );
    assert_eq!(bot.llm.requests().len(), 20, "one call per chat");
}
