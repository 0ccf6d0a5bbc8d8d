//! A newcomer's first hour: the demo, closed pipes, bare file names, a mistyped
//! `--db`, permissions, config words, tables that fit, and words that tell the truth.

use crate::common;

use std::io::Read;
use std::process::Stdio;

use common::{Sandbox, fixture_config, fixtures};
use serde_json::json;

#[test]
fn the_demo_shows_the_product_working_with_nothing_but_the_binary() {
    let sandbox = Sandbox::empty();
    let run = sandbox.run(&["demo", "--dir", "try"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let out = run.stdout();
    assert!(out.contains("12 messages added now"), "{out}");
    assert!(out.contains("1 pending"), "stats: {out}");
    assert!(out.contains("[sencha]"), "search: {out}");
    assert!(
        out.contains("\"endpoint\": \"https://api.perplexity.ai/v1/agent\""),
        "{out}"
    );
    assert!(
        out.contains("Longjing"),
        "the dry run shows the new question: {out}"
    );
    let again = sandbox.run(&["demo", "--dir", "try"]);
    assert_eq!(again.code(), 0);
    assert!(
        again
            .stdout()
            .contains("0 messages added now, 12 there already")
    );
    let stats = sandbox.json(&["--config", "try/app.json", "stats", "--json"]);
    assert_eq!(stats["messages"]["total"], 12);
    assert_eq!(stats["messages"]["pending"], 1);
}

#[test]
fn printing_commands_end_quietly_on_a_closed_pipe() {
    let sandbox = Sandbox::stocked();
    for args in [
        vec!["completions", "fish"],
        vec!["completions", "zsh"],
        vec!["completions", "bash"],
        vec!["man"],
        vec!["stats"],
        vec!["search", "Spark"],
        vec!["config", "check"],
    ] {
        for _ in 0..3 {
            let mut child = sandbox
                .cmd(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            drop(child.stdout.take()); // the reader is gone before anything is written
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            let status = child.wait().unwrap();
            assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
            assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        }
    }
}

#[test]
fn vacuum_works_on_a_bare_file_name() {
    let sandbox = Sandbox::empty();
    let file = fixtures().join("messages.jsonl");
    sandbox.json(&[
        "--db",
        "big.db",
        "import",
        "--format",
        "jsonl",
        file.to_str().unwrap(),
        "--json",
    ]);
    let run = sandbox.run(&["--db", "big.db", "vacuum"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let cmd = sandbox
        .cmd(&["vacuum"])
        .env("WABOT_DB", "big.db")
        .output()
        .unwrap();
    assert!(
        cmd.status.success(),
        "{}",
        String::from_utf8_lossy(&cmd.stderr)
    );
}

#[test]
fn a_mistyped_db_is_named_and_never_created() {
    let sandbox = Sandbox::stocked();
    for args in [
        vec!["--db", "store/wabbot.db", "stats"],
        vec!["--db", "store/wabbot.db", "search", "Spark"],
        vec!["--db", "store/wabbot.db", "chats"],
        vec!["--db", "store/wabbot.db", "cleanup"],
    ] {
        let run = sandbox.run(&args);
        assert_eq!(run.code(), 69, "{args:?}: {}", run.stderr());
        assert!(
            run.stderr().contains("no database at store/wabbot.db"),
            "{}",
            run.stderr()
        );
    }
    assert!(!sandbox.path("store/wabbot.db").exists());
}

/// Runs wabot as an unprivileged user (root reads and writes anything, which would
/// hide the problem); `None` where that is not possible.
fn as_nobody(sandbox: &Sandbox, args: &[&str]) -> Option<common::Run> {
    let setpriv = std::path::Path::new("/usr/bin/setpriv");
    if !setpriv.exists() || !rustix_is_root() {
        return None;
    }
    let mut cmd = std::process::Command::new(setpriv);
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        env!("CARGO_BIN_EXE_wabot"),
    ])
    .args(args)
    .current_dir(sandbox.dir.path())
    .env_remove("WABOT_CONFIG")
    .env_remove("WABOT_DB")
    .stdin(Stdio::null());
    Some(common::Run(cmd.output().unwrap()))
}

fn rustix_is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

#[test]
fn a_database_this_user_cannot_write_is_read_read_only_and_writes_say_what_to_do() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::stocked();
    let open = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    // Everyone may enter and read; only root may write.
    open(sandbox.dir.path(), 0o755);
    open(&sandbox.path("store"), 0o755);
    open(&sandbox.db_path(), 0o644);
    open(&sandbox.path("app.json"), 0o644);
    for side in ["store/wabot.db-wal", "store/wabot.db-shm"] {
        if sandbox.path(side).exists() {
            open(&sandbox.path(side), 0o644);
        }
    }
    let Some(stats) = as_nobody(&sandbox, &["stats", "--json"]) else {
        eprintln!("skipped: needs root and setpriv to act as another user");
        return;
    };
    assert_eq!(
        stats.code(),
        0,
        "reading works read-only: {}",
        stats.stderr()
    );
    assert!(
        stats.stdout().contains("\"total\": 6"),
        "{}",
        stats.stdout()
    );
    let search = as_nobody(&sandbox, &["search", "Spark", "--json"]).unwrap();
    assert_eq!(search.code(), 0, "{}", search.stderr());
    let pause = as_nobody(&sandbox, &["pause"]).unwrap();
    assert_eq!(pause.code(), 78, "{}", pause.stderr());
    assert!(
        pause.stderr().contains("may not write"),
        "{}",
        pause.stderr()
    );
    assert!(pause.stderr().contains("wabot.db"), "{}", pause.stderr());
    assert!(
        !pause.stderr().contains("os error 13"),
        "{}",
        pause.stderr()
    );
}

#[test]
fn config_errors_speak_json_and_an_empty_config_warns() {
    let sandbox = Sandbox::new();
    let mut config = fixture_config();
    config["polling"]["batch_size"] = json!("ten");
    sandbox.write_config(&config);
    let run = sandbox.run(&["config", "check"]);
    assert_eq!(run.code(), 78);
    assert!(
        run.stderr().contains("expected a whole number"),
        "{}",
        run.stderr()
    );
    sandbox.write("app.json", "{}");
    let run = sandbox.run(&["config", "check"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr().contains("nothing will be answered"),
        "{}",
        run.stderr()
    );
    let report = sandbox.json(&["config", "check", "--json"]);
    assert_eq!(report["warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn tables_fit_the_width_show_names_and_say_when_empty() {
    let sandbox = Sandbox::stocked();
    sandbox.run(&[
        "send",
        "--to",
        "Alice",
        &"a long manual message ".repeat(10),
    ]);
    for args in [
        vec!["search", "Spark"],
        vec!["outbox", "list"],
        vec!["stats"],
    ] {
        let out = sandbox.cmd(&args).env("COLUMNS", "80").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{args:?}: {line}");
        }
        if args[0] != "stats" {
            assert!(text.contains("Alice"), "{args:?} shows names: {text}");
            assert!(!text.contains("@s.whatsapp.net"), "{args:?}: {text}");
        }
    }
    let json = sandbox.json(&["search", "Spark", "--json"]);
    assert_eq!(
        json[0]["chat"],
        serde_json::json!({"jid": "15550001111@s.whatsapp.net", "name": "Alice"}),
        "JSON keeps the JID beside the name the tables show"
    );
    let none = sandbox.run(&["search", "zebra"]);
    assert_eq!(none.code(), 1, "nothing found is exit 1, as grep's");
    assert_eq!(none.stdout().trim(), "", "and prints nothing into a pipe");
    let empty = sandbox.run(&["outbox", "list", "--status", "failed"]);
    assert_eq!(
        empty.stdout().trim(),
        "no failed messages in the outbox (`wabot outbox list` shows the others)",
        "rows of other states are there"
    );
}

#[test]
fn resume_says_what_happens_to_the_messages_that_waited() {
    let sandbox = Sandbox::stocked();
    sandbox.run(&["pause"]);
    let line = common::message_line(
        "15550001111@s.whatsapp.net",
        "late",
        false,
        1_705_329_999,
        "still there?",
    );
    let file = sandbox.write("late.jsonl", &line);
    sandbox.json(&[
        "import",
        "--format",
        "jsonl",
        file.to_str().unwrap(),
        "--as-new",
        "--json",
    ]);
    // The sentence is for people: it is printed on a terminal only.
    let command = format!("{} resume", env!("CARGO_BIN_EXE_wabot"));
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(sandbox.dir.path())
        .env_remove("WABOT_CONFIG")
        .env_remove("WABOT_DB")
        .output();
    let pending: i64 = sandbox.sql("SELECT count(*) FROM messages WHERE status = 'pending'");
    assert_eq!(pending, 1, "--from-last (the default) answers what waited");
    match out {
        Ok(out) if out.status.success() => {
            let said = String::from_utf8_lossy(&out.stdout);
            assert!(
                said.contains("1 messages that arrived during the pause will be answered"),
                "{said}"
            );
        }
        _ => eprintln!("skipped the wording check: no `script` to give wabot a terminal"),
    }
}

#[test]
fn the_readme_lists_every_command_that_help_lists() {
    let sandbox = Sandbox::empty();
    let help = sandbox.run(&["--help"]).stdout();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() > 20, "{commands:?}");
    for command in commands {
        assert!(
            readme.contains(&format!("`wabot {command}")),
            "README does not document `wabot {command}`"
        );
    }
}

#[test]
fn chats_are_named_the_same_way_everywhere() {
    let sandbox = Sandbox::stocked();
    for args in [
        vec!["exclude", "Alice"],
        vec!["include", "alice", "--from-now"],
        vec!["retry", "--chat", "Alice"],
        vec!["search", "Spark", "--chat", "Alice"],
    ] {
        let run = sandbox.run(&args);
        assert_eq!(run.code(), 0, "{args:?}: {}", run.stderr());
    }
    let run = sandbox.run(&["exclude", "Nobody"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("no chat or contact is named \"Nobody\""),
        "{}",
        run.stderr()
    );
    let excluded: i64 = sandbox.sql("SELECT count(*) FROM chat_tracking WHERE excluded = 1");
    assert_eq!(excluded, 0, "Alice was excluded by name and included again");
}
