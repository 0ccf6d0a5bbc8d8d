//! Every provider the README names, against a stand-in that answers as that server
//! documents: the README's config for llama.cpp, Ollama and vLLM; OpenAI's refusals of
//! `max_tokens` and temperatures; the Agent API's presets, effort levels, tool choice and
//! cut-short runs; reasoning that never reaches WhatsApp.

use crate::common;

use common::bot::{ALICE, Bot};
use common::llm::{LOCAL_MODEL, Server};
use serde_json::{Value, json};

/// The README's config for a local server.
fn local_section() -> Value {
    json!({"api": "chat-completions", "model": LOCAL_MODEL, "api_key_env": null,
           "citations": false})
}

#[test]
fn each_local_server_answers_with_the_readmes_config_and_no_key() {
    for server in [Server::LlamaCpp, Server::Ollama, Server::Vllm] {
        let bot = Bot::against(server, local_section(), |_| {});
        bot.sandbox.write(".env", "");
        bot.receive(&[(ALICE, "What is Spark?")]);
        assert_eq!(bot.process_ok()["answered"], 1, "{server:?}");
        assert_eq!(bot.llm.paths(), ["/v1/chat/completions"], "{server:?}");
        assert_eq!(
            bot.llm.auth_headers(),
            [None],
            "{server:?}: no key, none sent"
        );
        let request = &bot.llm.requests()[0];
        assert_eq!(request["max_tokens"], 600, "{server:?}");
        assert!(request.get("max_completion_tokens").is_none(), "{server:?}");
        assert_eq!(
            bot.outbox()[0]["content"],
            "Answer to: What is Spark?",
            "{server:?}: the reasoning field is never sent"
        );
    }
}

#[test]
fn a_model_name_a_local_server_does_not_serve_stops_the_run_naming_the_setting() {
    for server in [Server::Ollama, Server::Vllm] {
        let mut section = local_section();
        section["model"] = json!("llama3");
        let bot = Bot::against(server, section, |_| {});
        bot.receive(&[(ALICE, "hi")]);
        let (run, _) = bot.process();
        assert_eq!(run.code(), 78, "{server:?}: {}", run.stderr());
        assert!(run.stderr().contains("llm.model"), "{}", run.stderr());
        assert_eq!(
            bot.count("SELECT count(*) FROM messages WHERE status = 'pending'"),
            1
        );
    }
}

#[test]
fn openai_reasoning_models_refuse_max_tokens_and_the_run_says_which_setting_to_change() {
    let section = json!({"api": "chat-completions", "model": "gpt-5-mini",
                         "max_tokens_field": "max_tokens"});
    let bot = Bot::against(Server::OpenAi, section, |_| {});
    bot.receive(&[(ALICE, "What is Spark?")]);
    let (run, _) = bot.process();
    assert_eq!(run.code(), 78, "{}", run.stderr());
    assert!(
        run.stderr().contains("llm.max_tokens_field"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        bot.count("SELECT count(*) FROM messages WHERE status = 'pending'"),
        1,
        "the message waits for the setting, it did not fail"
    );
    assert_eq!(bot.count("SELECT count(*) FROM llm_calls"), 1, "paid once");

    // The field OpenAI's own root gets by default (wabot-core tests the default).
    let right = json!({"api": "chat-completions", "model": "gpt-5-mini",
                       "max_tokens_field": "max_completion_tokens"});
    let bot = Bot::against(Server::OpenAi, right.clone(), |_| {});
    bot.receive(&[(ALICE, "What is Spark?")]);
    assert_eq!(bot.process_ok()["answered"], 1);
    assert_eq!(bot.llm.requests()[0]["max_completion_tokens"], 600);

    let mut warm = right;
    warm["temperature"] = json!(0.2);
    let bot = Bot::against(Server::OpenAi, warm, |_| {});
    bot.receive(&[(ALICE, "What is Spark?")]);
    let (run, _) = bot.process();
    assert_eq!(run.code(), 78, "{}", run.stderr());
    assert!(run.stderr().contains("llm.temperature"), "{}", run.stderr());
}

#[test]
fn a_presets_own_prompt_is_kept_and_the_chats_prompt_added_unless_told_otherwise() {
    for (mode, instructions, first_role) in [
        (None, false, "system"),
        (Some("replace"), true, "user"),
        (Some("omit"), false, "user"),
    ] {
        let mut section = json!({"api": "agent", "preset": "low"});
        if let Some(mode) = mode {
            section["preset_prompt"] = json!(mode);
        }
        let bot = Bot::against(Server::Perplexity, section, |_| {});
        bot.receive(&[(ALICE, "Plan my week")]);
        assert_eq!(bot.process_ok()["answered"], 1, "{mode:?}");
        let request = &bot.llm.requests()[0];
        assert_eq!(
            request.get("instructions").is_some(),
            instructions,
            "{mode:?}"
        );
        assert_eq!(request["input"][0]["role"], first_role, "{mode:?}");
        assert!(request.get("max_output_tokens").is_none(), "{mode:?}");
    }
}

#[test]
fn an_effort_level_and_a_required_search_are_sent_as_documented() {
    let bot = Bot::against(
        Server::Perplexity,
        json!({"api": "agent", "effort": "fast@2026-10-16.0"}),
        |_| {},
    );
    bot.receive(&[(ALICE, "News?")]);
    assert_eq!(bot.process_ok()["answered"], 1);
    assert_eq!(bot.llm.requests()[0]["effort"], "fast@2026-10-16.0");
    let calls: String = bot.sandbox.sql("SELECT model FROM llm_calls");
    assert_eq!(calls, "openai/gpt-5-mini", "the model that answered");

    let bot = Bot::against(
        Server::Perplexity,
        json!({"api": "agent", "model": "perplexity/sonar", "tool_choice": "required"}),
        |_| {},
    );
    bot.receive(&[(ALICE, "News?")]);
    assert_eq!(bot.process_ok()["answered"], 1);
    let request = &bot.llm.requests()[0];
    assert_eq!(request["tool_choice"], "required");
    assert_eq!(request["tools"], json!([{"type": "web_search"}]));
    let sources: i64 = bot.count("SELECT sources FROM llm_calls");
    assert_eq!(
        sources, 1,
        "one distinct source came back, recorded per call"
    );
    let stats = bot.sandbox.run(&["stats"]);
    assert!(
        stats.stdout().contains("1 of 1 answers with sources"),
        "{}",
        stats.stdout()
    );
}

#[test]
fn a_cut_answer_is_sent_saying_so_and_one_cut_while_thinking_fails_once_unpaid_again() {
    for server in [Server::Perplexity, Server::Vllm] {
        let section = match server {
            Server::Perplexity => json!({"api": "agent", "model": "perplexity/sonar"}),
            _ => local_section(),
        };
        let bot = Bot::against(server, section, |c| c["polling"]["max_attempts"] = json!(3));
        bot.receive(&[(ALICE, "What is Spark? [cut]")]);
        assert_eq!(bot.process_ok()["answered"], 1, "{server:?}");
        let sent = bot.outbox()[0]["content"].as_str().unwrap().to_string();
        assert!(
            sent.starts_with("Spark is a fast engine for … [answer cut short: "),
            "{sent}"
        );
        let note: String = bot.sandbox.sql("SELECT note FROM llm_calls");
        assert!(note.starts_with("cut short: "), "{server:?}: {note}");

        bot.receive(&[(ALICE, "And Flink? [cutthink]")]);
        let summary = bot.process_ok();
        assert_eq!(summary["failed"], 1, "{server:?}: {summary}");
        assert_eq!(summary["llm_calls"], 1, "{server:?}: not paid for again");
        let error: String = bot
            .sandbox
            .sql("SELECT last_error FROM messages WHERE content LIKE 'And Flink%'");
        assert!(error.contains("llm.max_tokens"), "{error}");
        assert_eq!(
            bot.outbox().len(),
            1,
            "{server:?}: nothing of the thinking is sent"
        );
        assert_eq!(
            bot.process_ok()["llm_calls"],
            0,
            "{server:?}: never asked again"
        );
    }
}

#[test]
fn reasoning_opened_by_the_template_never_reaches_whatsapp() {
    let bot = Bot::against(Server::LlamaCpp, local_section(), |_| {});
    bot.receive(&[(ALICE, "What is Spark? [halfthink]")]);
    assert_eq!(bot.process_ok()["answered"], 1);
    assert_eq!(bot.outbox()[0]["content"], "Spark is fast.");
}
