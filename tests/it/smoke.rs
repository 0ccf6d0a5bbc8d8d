//! A day in the life, with only the CLI and a local LLM stand-in: what CI runs to know
//! that the jobs work together, each exiting as documented.

use crate::common;

use common::llm::{KEY, StandIn};
use common::{Sandbox, fixture_config, fixtures};
use serde_json::json;

#[test]
fn a_day_in_the_life() {
    let llm = StandIn::start(std::time::Duration::ZERO);
    let sandbox = Sandbox::new();
    let mut config = fixture_config();
    config["perplexity"]["base_url"] = json!(llm.url);
    sandbox.write_config(&config);
    sandbox.write(".env", &format!("PERPLEXITY_API_KEY={KEY}\n"));
    let messages = fixtures().join("messages.jsonl");
    let messages = messages.to_str().unwrap();

    let step = |args: &[&str], want: i32| {
        let run = sandbox.run(args);
        assert_eq!(run.code(), want, "wabot {args:?}: {}", run.stderr());
        run
    };
    step(&["config", "check"], 0);
    step(&["import", "--format", "jsonl", messages, "--as-new"], 0);
    let summary = sandbox.json(&["process-once", "--json"]);
    assert_eq!(
        summary["answered"], 2,
        "Alice's two questions, one turn: {summary}"
    );
    let outbox = sandbox.json(&["outbox", "list", "--status", "pending", "--json"]);
    assert_eq!(outbox.as_array().unwrap().len(), 1);
    step(&["vitality"], 69);
    step(&["cleanup", "--dry-run"], 0);
    step(&["cleanup"], 0);
    let backup = sandbox.json(&["backup", "--json"]);
    let path = backup["path"].as_str().unwrap().to_string();
    let logged = sandbox.json(&["stats", "--json"]);
    assert_eq!(logged["jobs"]["backup"]["outcome"], "ok");
    step(&["import", "--format", "jsonl", messages], 0);
    step(&["restore", &path, "--yes"], 0);
    step(&["vacuum"], 0);
    let stats = sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["messages"]["total"], 6);
    assert_eq!(
        stats["jobs"]["backup"],
        serde_json::Value::Null,
        "the restored backup was taken before its own run was logged, never half-done"
    );
    assert_eq!(stats["jobs"]["vacuum"]["outcome"], "ok");
    assert_eq!(stats["jobs"]["cleanup"]["outcome"], "ok");
    step(&["listen"], 69);
    step(&["sync", "--status"], 0);
    step(&["sync", "--chat", "15550001111"], 69);
    let completions = step(&["completions", "bash"], 0).stdout();
    assert!(completions.contains("process-once"));
    let man = step(&["man"], 0).stdout();
    assert!(man.contains(".TH wabot"), "{}", &man[..man.len().min(200)]);
}
