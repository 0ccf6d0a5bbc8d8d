//! The two LLM API formats against strict local stand-ins: the old `perplexity`
//! section on the Agent API, an OpenAI-compatible provider with its own key, retired
//! and wrong endpoints, and what every call cost.

use crate::common;

use common::bot::{ALICE, Bot};
use common::llm::{AGENT_COST, KEY};
use serde_json::{Value, json};

/// An `llm` section in place of the fixture's `perplexity` section.
fn with_llm_section(section: Value) -> impl FnOnce(&mut Value) {
    move |c: &mut Value| {
        let url = c["perplexity"]["base_url"].clone();
        c.as_object_mut().unwrap().remove("perplexity");
        let mut section = section;
        section["base_url"] = url;
        section["timeout_seconds"] = json!(2);
        c["llm"] = section;
    }
}

#[test]
fn chat_completions_answer_with_their_own_key_variable() {
    let bot = Bot::new(with_llm_section(json!({
        "api": "chat-completions", "model": "gpt-4o-mini", "temperature": 0.3,
        "api_key_env": "OPENAI_API_KEY"
    })));
    bot.receive(&[(ALICE, "What is Spark?")]);

    let missing = bot.sandbox.run(&["process-once"]);
    assert_eq!(missing.code(), 78, "{}", missing.stderr());
    assert!(
        missing.stderr().contains("OPENAI_API_KEY is not set"),
        "names the variable: {}",
        missing.stderr()
    );

    bot.sandbox
        .write(".env", &format!("OPENAI_API_KEY={KEY}\n"));
    assert_eq!(bot.process_ok()["answered"], 1);
    assert_eq!(bot.llm.paths(), ["/chat/completions"]);
    let request = &bot.llm.requests()[0];
    assert_eq!(request["model"], "gpt-4o-mini");
    assert_eq!(request["temperature"], 0.3);
    assert_eq!(request["max_tokens"], 600);
    let roles: Vec<String> = bot
        .llm
        .conversation(0)
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert_eq!(roles, ["system", "user"]);
    assert_eq!(
        bot.outbox()[0]["content"],
        "Answer to: What is Spark?\n\nSources:\n[1] https://example.com/source"
    );
    let calls: String = bot.sandbox.sql("SELECT api || ' ' || model FROM llm_calls");
    assert_eq!(calls, "chat-completions gpt-4o-mini");
}

#[test]
fn an_agent_preset_is_sent_without_model_or_tools() {
    let bot = Bot::new(with_llm_section(json!({"api": "agent", "preset": "low"})));
    bot.receive(&[(ALICE, "Plan my week")]);
    assert_eq!(bot.process_ok()["answered"], 1);
    assert_eq!(bot.llm.paths(), ["/v1/agent"]);
    let request = &bot.llm.requests()[0];
    assert_eq!(request["preset"], "low");
    assert!(request.get("model").is_none() && request.get("tools").is_none());
    assert!(request.get("temperature").is_none(), "unset means not sent");
}

#[test]
fn a_retired_endpoint_names_the_setting_and_keeps_the_messages() {
    let bot = Bot::new(with_llm_section(json!({
        "api": "chat-completions", "model": "sonar"
    })));
    bot.llm.retire_chat_completions();
    bot.receive(&[(ALICE, "Still there?")]);
    let (run, _) = bot.process();
    assert_eq!(run.code(), 78, "{}", run.stderr());
    let said = run.stderr();
    assert!(said.contains("moved or was retired"), "{said}");
    assert!(
        said.contains("llm.api (agent | chat-completions)"),
        "{said}"
    );
    assert!(!said.contains(KEY), "never the key");
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE status = 'pending'"),
        1,
        "the message waits for the fixed setting"
    );
}

#[test]
fn a_wrong_base_url_is_a_configuration_error_not_a_failed_message() {
    let bot = Bot::new(|c| {
        let url = c["perplexity"]["base_url"].as_str().unwrap().to_string();
        c["perplexity"]["base_url"] = json!(format!("{url}/v1"));
    });
    bot.receive(&[(ALICE, "hello")]);
    let (run, _) = bot.process();
    assert_eq!(run.code(), 78, "{}", run.stderr());
    assert!(run.stderr().contains("HTTP 404"), "{}", run.stderr());
    assert!(
        run.stderr().contains("perplexity.base_url"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE status = 'pending'"),
        1
    );
}

#[test]
fn stats_show_calls_tokens_and_cost_and_cleanup_keeps_the_total() {
    let bot = Bot::new(|_| {});
    bot.receive(&[(ALICE, "one")]);
    bot.process_ok();
    bot.receive(&[(ALICE, "two")]);
    bot.process_ok();
    let stats = bot.sandbox.json(&["stats", "--json"]);
    let llm = &stats["llm"];
    for window in ["today", "last_7_days", "total"] {
        assert_eq!(llm[window]["calls"], 2, "{window}: {llm}");
        assert_eq!(llm[window]["input_tokens"], 22);
        assert_eq!(llm[window]["output_tokens"], 14);
        let cost = llm[window]["cost_usd"].as_f64().unwrap();
        assert!((cost - 2.0 * AGENT_COST).abs() < 1e-9, "{window}: {cost}");
    }
    let text = bot.sandbox.run(&["stats"]).stdout();
    assert!(
        text.contains("LLM today") && text.contains("$0.0122"),
        "{text}"
    );

    // A call from long ago, older than the retention: cleanup folds it into the totals.
    let conn = rusqlite::Connection::open(bot.sandbox.db_path()).unwrap();
    conn.execute(
        "INSERT INTO llm_calls (chat_jid, api, model, outcome, prompt_tokens, completion_tokens,
             cost, duration_ms, created_at)
         VALUES (?1, 'agent', 'perplexity/sonar', 'ok', 100, 50, 0.5, 10, 1000000000000)",
        [ALICE],
    )
    .unwrap();
    let cleanup = bot.sandbox.run(&["cleanup", "--force"]);
    assert_eq!(cleanup.code(), 0, "{}", cleanup.stderr());
    assert_eq!(bot.count("SELECT count(*) FROM llm_calls"), 2);
    let total = &bot.sandbox.json(&["stats", "--json"])["llm"]["total"];
    assert_eq!(total["calls"], 3, "{total}");
    assert_eq!(total["input_tokens"], 122);
    assert!((total["cost_usd"].as_f64().unwrap() - (0.5 + 2.0 * AGENT_COST)).abs() < 1e-9);
    let week = &bot.sandbox.json(&["stats", "--json"])["llm"]["last_7_days"];
    assert_eq!(week["calls"], 2, "the old call is not in the last 7 days");
}

#[test]
fn config_check_says_what_an_old_model_name_became() {
    let bot = Bot::new(|c| c["perplexity"]["model"] = json!("sonar-pro"));
    let run = bot.sandbox.run(&["config", "check"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stdout()
            .contains("perplexity.model \"sonar-pro\" → Agent API preset \"low\""),
        "{}",
        run.stdout()
    );
    let report = bot.sandbox.json(&["config", "check", "--json"]);
    assert_eq!(report["config"]["llm"]["api"], "agent");
    assert_eq!(report["config"]["llm"]["preset"], "low");
    assert!(report["config"]["llm"]["mapped"].is_string());

    bot.receive(&[(ALICE, "Deep question")]);
    assert_eq!(bot.process_ok()["answered"], 1);
    assert_eq!(bot.llm.requests()[0]["preset"], "low");
}

#[test]
fn both_sections_at_once_are_refused() {
    let bot = Bot::new(|c| c["llm"] = json!({"model": "perplexity/sonar"}));
    let run = bot.sandbox.run(&["config", "check"]);
    assert_eq!(run.code(), 78);
    assert!(
        run.stderr()
            .contains("perplexity: cannot be used together with the llm section")
    );
}
