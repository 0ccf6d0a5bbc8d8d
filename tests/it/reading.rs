//! Reading the archive as a person and as a script: `show` (a chat as a conversation)
//! and `search` with ripgrep's manners (lines when piped, colour on request, exit 1 on
//! nothing, inclusive days, context).

use crate::common;

use common::Sandbox;

const ALICE: &str = "15550001111@s.whatsapp.net";
const FIRST: &str = "3EB0A1B2C3D4E5F60001";
const SECOND: &str = "3EB0A1B2C3D4E5F60002";

/// The stocked archive with a reply, an edit and a deletion in Alice's chat.
fn archive() -> Sandbox {
    let sandbox = Sandbox::stocked();
    sandbox.exec(&format!(
        "UPDATE messages SET quoted_id = '{FIRST}', edited_at = timestamp + 1000 WHERE id = '{SECOND}';
         INSERT INTO messages (id, chat_jid, sender, push_name, content, timestamp, is_from_me,
                               message_type, status, created_at, revoked_at)
         VALUES ('3EB0A1B2C3D4E5F60099', '{ALICE}', '{ALICE}', 'Alice', 'oops', 1705329100000, 0,
                 'text', 'history', 0, 1705329200000)"
    ));
    sandbox
}

#[test]
fn show_prints_a_chat_as_a_conversation_with_days_replies_edits_and_deletions() {
    let sandbox = archive();
    let run = sandbox.run(&["show", "Alice"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "── Monday, 15 January 2024 ──", "{out}");
    assert_eq!(
        lines[1], "15:30  Alice: Hi! What is Apache Spark?",
        "in Berlin time: {out}"
    );
    assert_eq!(lines[2], "15:30  Alice: ↪ Alice: Hi! What is Apache Spark?");
    assert_eq!(
        lines[3],
        "       And how does it compare to Flink? (edited)"
    );
    assert_eq!(lines[4], "15:31  Alice: (deleted)");
    assert!(!out.contains('\x1b'), "no colour when piped");

    let around = sandbox.run(&["show", ALICE, "--around", SECOND, "--limit", "1"]);
    assert_eq!(around.stdout().lines().count(), 3, "{}", around.stdout());
    let day = sandbox.json(&[
        "show",
        "Alice",
        "--since",
        "2024-01-15",
        "--until",
        "2024-01-15",
        "--json",
    ]);
    assert_eq!(day.as_array().unwrap().len(), 3, "the whole day: {day}");
    let before = sandbox.json(&["show", "Alice", "--until", "2024-01-14", "--json"]);
    assert_eq!(before.as_array().unwrap().len(), 0);
    let unknown = sandbox.run(&["show", "15550007777"]);
    assert_eq!(unknown.code(), 2, "{}", unknown.stderr());
    assert!(unknown.stderr().contains("no chat"), "{}", unknown.stderr());
}

#[test]
fn search_prints_lines_when_piped_and_exits_1_when_nothing_matched() {
    let sandbox = archive();
    let run = sandbox.run(&["search", "spark OR flink"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let fields: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(fields.len(), 4, "time, chat, author, snippet: {}", lines[0]);
    assert_eq!(fields[2], "Alice");

    let none = sandbox.run(&["search", "zeppelin"]);
    assert_eq!(none.code(), 1);
    assert!(
        none.stdout().is_empty() && none.stderr().is_empty(),
        "{}",
        none.stderr()
    );

    let cut = sandbox.run(&["search", "spark OR flink", "--limit", "1"]);
    assert_eq!(cut.stdout().lines().count(), 1);
    assert!(
        cut.stderr().contains("1 shown; more match"),
        "{}",
        cut.stderr()
    );

    let colored = sandbox.run(&["search", "spark", "--color", "always"]);
    assert!(
        colored.stdout().contains("\x1b[1;31mSpark\x1b[0m"),
        "{}",
        colored.stdout()
    );
    let no_color = sandbox
        .cmd(&["search", "spark", "--color", "auto"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&no_color.stdout).contains('\x1b'));
}

#[test]
fn search_takes_days_whole_local_and_relative_times_and_shows_context() {
    let sandbox = archive();
    let day = sandbox.json(&[
        "search",
        "spark OR flink OR dinner",
        "--since",
        "2024-01-15",
        "--until",
        "2024-01-15",
        "--json",
    ]);
    assert_eq!(day.as_array().unwrap().len(), 3, "that whole day: {day}");
    let evening = sandbox.json(&[
        "search",
        "spark OR flink OR dinner",
        "--since",
        "2024-01-15 15:30:10",
        "--json",
    ]);
    assert_eq!(
        evening.as_array().unwrap().len(),
        1,
        "after 15:30:10 Berlin time: {evening}"
    );
    let recent = sandbox.run(&["search", "spark", "--since", "2h"]);
    assert_eq!(
        recent.code(),
        1,
        "nothing in the last two hours: {}",
        recent.stderr()
    );
    let bad = sandbox.run(&["search", "spark", "--since", "last tuesday"]);
    assert_eq!(bad.code(), 2);
    assert!(bad.stderr().contains("an age like 30m"), "{}", bad.stderr());

    let context = sandbox.run(&["search", "flink", "-C", "1"]);
    assert_eq!(context.code(), 0, "{}", context.stderr());
    let out = context.stdout();
    assert!(
        out.contains("Alice: Hi! What is Apache Spark?"),
        "the message before: {out}"
    );
    assert!(out.contains("(deleted)"), "the message after: {out}");
}

#[test]
fn a_pause_and_an_empty_filter_are_said_where_people_look() {
    let sandbox = archive();
    assert_eq!(sandbox.run(&["pause"]).code(), 0);
    let stats = sandbox.json(&["stats", "--json"]);
    assert_eq!(stats["paused"], true, "{stats}");
    let table = sandbox.run(&["stats"]).stdout();
    assert!(table.contains("paused"), "{table}");
    let run = sandbox.run(&["doctor", "--json"]);
    assert!(run.stderr().contains("answering"), "{}", run.stderr());
    let doctor: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let answering = doctor
        .as_array()
        .and_then(|f| f.iter().find(|f| f["check"] == "answering"))
        .cloned()
        .unwrap_or_else(|| panic!("doctor says whether it answers: {doctor}"));
    assert_eq!(answering["ok"], false, "{answering}");
    assert!(
        sandbox
            .run(&["chats"])
            .stdout()
            .contains("answering is paused")
    );
    let dry = sandbox.run(&["process-once", "--dry-run"]);
    assert_eq!(dry.stdout().trim(), "[]");
    assert!(dry.stderr().contains("paused"), "{}", dry.stderr());

    let sent = sandbox.run(&["send", "--to", ALICE, "hello"]);
    assert_eq!(sent.code(), 0, "{}", sent.stderr());
    let failed = sandbox.run(&["outbox", "list", "--status", "failed"]);
    assert!(
        failed.stdout().contains("no failed messages in the outbox"),
        "one is pending: {}",
        failed.stdout()
    );
    let named = sandbox.json(&["stats", "--json"]);
    let family = named["top_chats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["chat"]["jid"] == "120363041234567890@g.us")
        .cloned()
        .unwrap();
    assert!(
        family["chat"]["name"].is_string(),
        "a named group has its name: {family}"
    );
}

#[test]
fn every_command_the_manual_names_has_a_page() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path("man/man1");
    let run = sandbox.run(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let main = std::fs::read_to_string(dir.join("wabot.1")).unwrap();
    for page in ["wabot-search", "wabot-show", "wabot-listen"] {
        let named = format!("{}(1)", page.replace('-', "\\-"));
        assert!(main.contains(&named), "the main page names {named}");
        let text = std::fs::read_to_string(dir.join(format!("{page}.1")))
            .unwrap_or_else(|e| panic!("{page}.1: {e}"));
        assert!(text.contains(".TH"), "{page}.1 is a man page");
    }
    let search = std::fs::read_to_string(dir.join("wabot-search.1")).unwrap();
    assert!(search.contains("context"), "with the command's own options");
}

#[test]
fn the_offsite_script_names_a_missing_tool_before_it_backs_up() {
    let sandbox = Sandbox::stocked();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/backup-offsite.sh");
    let out = std::process::Command::new("/bin/bash")
        .arg(&script)
        .arg("user@host:/backups/")
        .current_dir(sandbox.dir.path())
        .env("PATH", "/nonexistent")
        .env("WABOT", env!("CARGO_BIN_EXE_wabot"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("python3 is not installed"), "{said}");
    assert!(
        !sandbox.path("store/backups").exists(),
        "no backup was taken that could not be copied"
    );
}

#[test]
fn an_exported_chat_imports_back_as_it_was_and_json_and_csv_hold_every_message() {
    let sandbox = Sandbox::stocked();
    // Alice's chat has no message of the account's own: `--me` would name nobody.
    for (chat, me) in [(ALICE, None), ("120363041234567890@g.us", Some("Me"))] {
        let file = sandbox.path("chat.txt");
        let run = sandbox.run(&["export", chat, "--output", file.to_str().unwrap()]);
        assert_eq!(run.code(), 0, "{}", run.stderr());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&file).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let fresh = Sandbox::new();
        let copy = fresh.path("chat.txt");
        std::fs::copy(&file, &copy).unwrap();
        let mut import = vec![
            "import",
            "--format",
            "whatsapp-export",
            copy.to_str().unwrap(),
            "--chat",
            chat,
            "--timezone",
            "Europe/Berlin",
            "--json",
        ];
        if let Some(me) = me {
            import.extend(["--me", me]);
        }
        let imported = fresh.json(&import);
        let original = sandbox.run(&["show", chat]).stdout();
        assert_eq!(
            imported["imported"].as_u64().unwrap() as usize,
            original.lines().filter(|l| !l.starts_with("──")).count(),
            "{imported}"
        );
        assert_eq!(
            fresh.run(&["show", chat]).stdout(),
            original,
            "{chat} round-trips"
        );
    }
    let json = sandbox.json(&["export", ALICE, "--format", "json"]);
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert_eq!(json[0]["sender"]["name"], "Alice");
    assert_eq!(json[0]["text"], "Hi! What is Apache Spark?");
    let csv = sandbox
        .run(&["export", "+1 555 000 4444", "--format", "csv"])
        .stdout();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("time,chat,id,author"));
    assert!(
        lines
            .next()
            .unwrap()
            .contains("Ünïcødé ✓ — emoji 🎉 and RTL שלום"),
        "{csv}"
    );
}

#[test]
fn every_chat_exports_to_its_own_file_and_a_search_exports_across_chats() {
    let sandbox = Sandbox::stocked();
    let dir = sandbox.path("all");
    let run = sandbox.run(&[
        "export",
        "--all",
        "--format",
        "html",
        "--output",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stdout().starts_with("3 chats, 6 messages"),
        "{}",
        run.stdout()
    );
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "three chats and the index: {files:?}");
    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    for file in files.iter().filter(|f| *f != "index.html") {
        assert!(
            index.contains(&format!("href=\"{file}\"")),
            "{file} linked: {index}"
        );
        let page = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(page.contains("messages</h1>"), "{file} is a chat page");
    }
    assert!(
        files.iter().any(|f| f.ends_with("-15550001111.html")),
        "{files:?}"
    );
    let alice = files.iter().find(|f| f.contains("15550001111")).unwrap();
    assert!(
        std::fs::read_to_string(dir.join(alice))
            .unwrap()
            .contains("Apache Spark")
    );

    // One chat's txt in the directory is the same file `export CHAT` writes.
    let txt = sandbox.path("txt");
    let run = sandbox.run(&["export", "--all", "--output", txt.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let alice_txt = alice.replace(".html", ".txt");
    assert_eq!(
        std::fs::read_to_string(txt.join(&alice_txt)).unwrap(),
        sandbox.run(&["export", ALICE]).stdout()
    );
    assert_eq!(
        sandbox.run(&["export", "--all"]).code(),
        2,
        "--all without a directory"
    );

    // A search across chats: oldest first, each message with its chat.
    let found = sandbox.json(&["export", "--search", "and", "--format", "json"]);
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    // 16:00 at +02:00 is before Alice's 14:30 UTC.
    assert_eq!(found[0]["chat"]["jid"], "15550004444@s.whatsapp.net");
    assert_eq!(found[1]["text"], "And how does it compare to Flink?");
    let html = sandbox
        .run(&["export", "--search", "and", "--format", "html"])
        .stdout();
    assert_eq!(html.matches("class=\"row\"").count(), 2, "{html}");
    assert!(
        html.contains(">Alice · Alice<"),
        "the author and the chat: {html}"
    );
    // In one chat, the txt layout applies again.
    let one = sandbox.run(&["export", ALICE, "--search", "and"]);
    assert_eq!(one.code(), 0, "{}", one.stderr());
    assert_eq!(one.stdout().lines().count(), 1, "{}", one.stdout());
    let refused = sandbox.run(&["export", "--search", "and"]);
    assert_eq!(refused.code(), 2);
    assert!(
        refused.stderr().contains("--format txt"),
        "{}",
        refused.stderr()
    );
}
