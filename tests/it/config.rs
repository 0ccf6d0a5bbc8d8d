//! `wabot config check` and every configuration rule, through the real binary.

use crate::common;

use common::{Sandbox, fixture_config, fixtures};
use serde_json::{Value, json};

/// Applies `edit` to the fixture config and expects exit 78 with `message` on stderr.
fn rejects(edit: impl FnOnce(&mut Value), message: &str) {
    let sandbox = Sandbox::new();
    let mut config = fixture_config();
    edit(&mut config);
    sandbox.write_config(&config);
    let run = sandbox.run(&["config", "check"]);
    assert_eq!(
        run.code(),
        78,
        "expected exit 78 for {message:?}: {}",
        run.stderr()
    );
    assert!(
        run.stderr().contains(message),
        "expected {message:?} in: {}",
        run.stderr()
    );
    assert!(
        run.stdout().is_empty(),
        "printed a config despite the error"
    );
}

#[test]
fn fixture_config_is_valid() {
    let sandbox = Sandbox::new();
    let report = sandbox.json(&["config", "check", "--json"]);
    assert_eq!(report["warnings"], json!([]), "nothing to warn about");
    let entities = report["config"]["monitored_entities"].as_array().unwrap();
    assert_eq!(entities[0]["jid"], "15550001111@s.whatsapp.net");
    assert_eq!(entities[1]["require_mention"], true);
    assert_eq!(report["config"]["vitality"]["timezone"], "Europe/Berlin");
}

#[test]
fn every_validation_rule_names_the_field() {
    type Edit = fn(&mut Value);
    let cases: Vec<(Edit, &str)> = vec![
        (
            |c| c["session_memory"]["timezone"] = json!("Mars/Olympus"),
            r#"session_memory.timezone: "Mars/Olympus" is not an IANA time zone"#,
        ),
        (
            |c| c["vitality"]["timezone"] = json!("Europe/Berlín"),
            "vitality.timezone:",
        ),
        (
            |c| c["session_memory"]["reset_time"] = json!("2am"),
            r#"session_memory.reset_time: "2am" is not a time of day in HH:MM"#,
        ),
        (|c| c["vitality"]["time"] = json!("24:00"), "vitality.time:"),
        (
            |c| c["vitality"]["canary_seconds"] = json!(7200),
            "vitality.canary_seconds: must be at most 3600 seconds",
        ),
        (
            |c| c["whatsapp"]["silent_minutes"] = json!(0),
            "whatsapp.silent_minutes: must be between 1 and 1440 minutes, got 0",
        ),
        (
            |c| c["whatsapp"]["statuses"] = json!("archive"),
            "whatsapp.statuses: unknown variant `archive`",
        ),
        (
            |c| c["session_memory"]["mode"] = json!("weekly"),
            "session_memory.mode: unknown variant `weekly`",
        ),
        (
            |c| {
                c["monitored_entities"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("phone");
            },
            r#"monitored_entities[0]: needs "jid" or "phone""#,
        ),
        (
            |c| {
                let first = c["monitored_entities"][0].clone();
                c["monitored_entities"].as_array_mut().unwrap().push(first);
            },
            "monitored_entities[2]: duplicates monitored_entities[0]",
        ),
        (
            |c| c["monitored_entities"][1]["jid"] = json!("+1 555-000-1111@s.whatsapp.net"),
            "monitored_entities[1].jid:",
        ),
        (
            |c| c["monitored_entities"][0]["phone"] = json!("call me"),
            "monitored_entities[0].phone:",
        ),
        (
            |c| c["monitored_entities"][1]["jid"] = json!("15550002222@s.whatsapp.net"),
            "monitored_entities[1]: a group needs a JID ending in @g.us",
        ),
        (
            |c| c["monitored_entities"][1]["name"] = json!("alice"),
            r#"monitored_entities[1].name: "alice" is already the name of monitored_entities[0]"#,
        ),
        (
            |c| c["monitored_entities"][0]["require_mention"] = json!(true),
            "monitored_entities[0].require_mention: only applies to groups",
        ),
        (
            |c| c["monitored_entities"][0]["type"] = json!("channel"),
            "monitored_entities[0].type: unknown variant `channel`",
        ),
        (
            |c| c["rotation"]["retention_days"] = json!(0),
            "rotation.retention_days: must be between 1 and 36500 days, got 0",
        ),
        (
            |c| c["rotation"]["retention_days"] = json!(-3),
            "rotation.retention_days: must be between 1 and 36500 days, got -3",
        ),
        (
            |c| c["rotation"]["retention_days"] = json!("seven"),
            "rotation.retention_days: invalid type: string",
        ),
        (
            |c| c["polling"]["batch_size"] = json!(0),
            "polling.batch_size: must be between 1 and 1000",
        ),
        (
            |c| c["perplexity"]["base_url"] = json!("api.perplexity.ai"),
            "perplexity.base_url:",
        ),
        (
            |c| c["perplexity"]["temperature"] = json!(3.5),
            "perplexity.temperature: must be between 0 and 2",
        ),
        (
            |c| c["perplexity"]["timeout_seconds"] = json!(0),
            "perplexity.timeout_seconds:",
        ),
        (
            |c| c["whatsapp"]["phone_number"] = json!("me"),
            "whatsapp.phone_number:",
        ),
        (
            |c| c["rotation"]["retention_day"] = json!(7),
            "unknown field `retention_day`",
        ),
    ];
    for (edit, message) in cases {
        rejects(edit, message);
    }
}

#[test]
fn several_problems_are_reported_together() {
    rejects(
        |c| {
            c["rotation"]["retention_days"] = json!(0);
            c["polling"]["batch_size"] = json!(5000);
        },
        "rotation.retention_days",
    );
    let sandbox = Sandbox::new();
    let mut config = fixture_config();
    config["rotation"]["retention_days"] = json!(0);
    config["polling"]["batch_size"] = json!(5000);
    sandbox.write_config(&config);
    let stderr = sandbox.run(&["config", "check"]).stderr();
    assert!(stderr.contains("polling.batch_size") && stderr.contains("rotation.retention_days"));
}

#[test]
fn malformed_json_gives_line_and_column() {
    let sandbox = Sandbox::empty();
    sandbox.write(
        "app.json",
        "{\n  \"polling\": {\n    \"batch_size\": 10,\n  }\n}\n",
    );
    let run = sandbox.run(&["config", "check"]);
    assert_eq!(run.code(), 78);
    assert!(
        run.stderr().contains("app.json: line 4, column 3"),
        "{}",
        run.stderr()
    );
}

#[test]
fn missing_config_is_a_config_error_that_says_how_to_fix_it() {
    let sandbox = Sandbox::empty();
    let run = sandbox.run(&["stats"]);
    assert_eq!(run.code(), 78);
    assert!(run.stderr().contains("--config"), "{}", run.stderr());
    let run = sandbox.run(&["--config", "elsewhere.json", "--db", "x.db", "stats"]);
    assert_eq!(run.code(), 78, "an explicit --config must exist");
    // With --db and no app.json, defaults are enough for store-only commands; reading
    // commands never create the database a mistyped --db names.
    let run = sandbox.run(&["--db", "x.db", "stats", "--json"]);
    assert_eq!(run.code(), 69, "{}", run.stderr());
    assert!(
        run.stderr().contains("no database at x.db"),
        "{}",
        run.stderr()
    );
    assert!(!sandbox.path("x.db").exists());
    let messages = fixtures().join("messages.jsonl");
    let run = sandbox.run(&[
        "--db",
        "x.db",
        "import",
        "--format",
        "jsonl",
        messages.to_str().unwrap(),
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let run = sandbox.run(&["--db", "x.db", "stats", "--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
}

#[test]
fn secrets_come_from_dotenv_beside_the_config_and_are_never_printed() {
    let sandbox = Sandbox::empty();
    sandbox.write("conf/app.json", &fixture_config().to_string());
    sandbox.write(
        "conf/.env",
        "# secrets\nPERPLEXITY_API_KEY=pplx-very-secret-123\n",
    );
    let run = sandbox.run(&["--config", "conf/app.json", "config", "check", "--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(!run.stdout().contains("pplx-very-secret"));
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["secrets"]["PERPLEXITY_API_KEY"], "set (redacted)");
    // The environment wins over .env; an empty value counts as missing.
    let out = sandbox
        .cmd(&["--config", "conf/app.json", "config", "check", "--json"])
        .env("PERPLEXITY_API_KEY", "")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["secrets"]["PERPLEXITY_API_KEY"]
            .as_str()
            .unwrap()
            .starts_with("missing")
    );
}

#[test]
fn the_documented_deploy_layout_works_from_cron_and_an_idle_run_needs_no_key() {
    // README's deploy: app.json and wabot.env (the units' EnvironmentFile) side by side.
    let sandbox = Sandbox::empty();
    sandbox.write("etc/app.json", &fixture_config().to_string());
    let env = sandbox.write(
        "etc/wabot.env",
        "PERPLEXITY_API_KEY=pplx-from-the-unit-file\n",
    );
    std::fs::set_permissions(&env, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // An environment as cron has it: nothing of systemd's.
    let cron = |args: &[&str]| {
        sandbox
            .cmd(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", sandbox.path(""))
            .output()
            .unwrap()
    };
    let check = cron(&["--config", "etc/app.json", "config", "check", "--json"]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let report: Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(report["secrets"]["PERPLEXITY_API_KEY"], "set (redacted)");
    // Without any key, a minute's run with nothing to answer is no failure mail.
    std::fs::remove_file(&env).unwrap();
    let history = fixtures().join("messages.jsonl");
    let imported = cron(&[
        "--config",
        "etc/app.json",
        "import",
        "--format",
        "jsonl",
        history.to_str().unwrap(),
    ]);
    assert_eq!(
        imported.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let idle = cron(&["--config", "etc/app.json", "process-once"]);
    assert_eq!(
        (idle.status.code(), idle.stderr.is_empty()),
        (Some(0), true),
        "{}",
        String::from_utf8_lossy(&idle.stderr)
    );
}

#[test]
fn a_malformed_dotenv_line_is_named_without_its_content() {
    let sandbox = Sandbox::new();
    sandbox.write(
        ".env",
        "A=1\nPERPLEXITY_API_KEY='pplx-secret-unterminated\n",
    );
    let run = sandbox.run(&["config", "check"]);
    assert_eq!(run.code(), 78);
    assert!(
        run.stderr().contains(".env: line 2 is malformed"),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("pplx-secret"), "{}", run.stderr());
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let sandbox = Sandbox::empty();
    sandbox.write("deploy/app.json", &fixture_config().to_string());
    let report = sandbox.json(&["--config", "deploy/app.json", "config", "check", "--json"]);
    assert_eq!(report["config"]["database_path"], "deploy/store/wabot.db");
    let messages = fixtures().join("messages.jsonl");
    let messages = messages.to_str().unwrap();
    sandbox.json(&[
        "--config",
        "deploy/app.json",
        "import",
        "--format",
        "jsonl",
        messages,
        "--json",
    ]);
    let stats = sandbox.json(&["--config", "deploy/app.json", "stats", "--json"]);
    assert_eq!(stats["database"]["path"], "deploy/store/wabot.db");
    assert!(sandbox.path("deploy/store/wabot.db").exists());
    // --db overrides, relative to the working directory.
    let other = ["--config", "deploy/app.json", "--db", "other.db"];
    sandbox.json(
        &[
            &other[..],
            &["import", "--format", "jsonl", messages, "--json"],
        ]
        .concat(),
    );
    let stats = sandbox.json(&[&other[..], &["stats", "--json"]].concat());
    assert_eq!(stats["database"]["path"], "other.db");
}

#[test]
fn the_shipped_example_config_is_valid() {
    let sandbox = Sandbox::empty();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("app.json.example");
    let report = sandbox.json(&[
        "--config",
        example.to_str().unwrap(),
        "config",
        "check",
        "--json",
    ]);
    assert_eq!(report["warnings"], json!([]));
    assert_eq!(report["config"]["llm"]["model"], "perplexity/sonar");
    assert_eq!(
        report["config"]["monitored_entities"][0]["jid"],
        "15550001111@s.whatsapp.net"
    );
}
