//! Helpers for tests that run the real binary in a temporary directory.
#![allow(dead_code)]

pub mod bot;
pub mod changes;
pub mod llm;
pub mod providers;
pub mod transcribe;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    /// A directory with the fixture app.json in it.
    pub fn new() -> Self {
        let sandbox = Self::empty();
        sandbox.write_config(&fixture_config());
        sandbox
    }

    pub fn empty() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn write_config(&self, config: &Value) -> PathBuf {
        self.write("app.json", &serde_json::to_string_pretty(config).unwrap())
    }

    pub fn db_path(&self) -> PathBuf {
        self.path("store/wabot.db")
    }

    /// A `wabot` command running in the sandbox, isolated from the caller's environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wabot"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("WABOT_CONFIG")
            .env_remove("WABOT_DB")
            .env_remove("PERPLEXITY_API_KEY")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        cmd
    }

    /// A `wabot` command running in the background, its output captured.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start wabot")
    }

    /// Changes to the database's files: what a test waits on while a background
    /// command works.
    pub fn changes(&self) -> changes::Files {
        changes::Files::of_db(&self.db_path())
    }

    /// Waits until `query` counts something: the moment a background command has done
    /// its part.
    pub fn wait_for(&self, what: &str, query: &str) {
        changes::until(what, &[&self.changes()], || self.sql::<i64>(query) > 0);
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.cmd(args).output().expect("run wabot"))
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let run = self.run(args);
        assert_eq!(run.code(), 0, "wabot {args:?} failed: {}", run.stderr());
        serde_json::from_str(&run.stdout())
            .unwrap_or_else(|e| panic!("wabot {args:?} printed no JSON ({e}): {}", run.stdout()))
    }

    /// Runs SQL straight on the database, as another program would.
    pub fn exec(&self, sql: &str) {
        rusqlite::Connection::open(self.db_path())
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }

    /// Imports JSONL `lines` through the real command (as new, for the agent, when
    /// `as_new`); returns its report.
    pub fn import_lines(&self, name: &str, lines: &[String], as_new: bool) -> Value {
        let file = self.write(name, &lines.join("\n"));
        let mut args = vec![
            "import",
            "--format",
            "jsonl",
            file.to_str().unwrap(),
            "--json",
        ];
        if as_new {
            args.push("--as-new");
        }
        self.json(&args)
    }

    /// A sandbox with the fixture messages (6) imported.
    pub fn stocked() -> Self {
        let sandbox = Self::new();
        let file = fixtures().join("messages.jsonl");
        let report = sandbox.json(&[
            "import",
            "--format",
            "jsonl",
            file.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(report["imported"], 6, "{report}");
        sandbox
    }

    /// A `wabot` command in a network namespace of its own (no interfaces), so nothing
    /// it does can leave this machine.
    pub fn offline(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.arg("--net")
            .arg(env!("CARGO_BIN_EXE_wabot"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("WABOT_CONFIG")
            .env_remove("WABOT_DB");
        cmd
    }

    /// The JSON a command prints, whatever its exit code (reports of problems).
    pub fn json_any(&self, args: &[&str]) -> Value {
        let run = self.run(args);
        serde_json::from_str(&run.stdout())
            .unwrap_or_else(|e| panic!("wabot {args:?} printed no JSON ({e}): {}", run.stderr()))
    }

    pub fn sql<T: rusqlite::types::FromSql>(&self, query: &str) -> T {
        let conn = rusqlite::Connection::open(self.db_path()).unwrap();
        conn.query_row(query, [], |r| r.get(0)).unwrap()
    }
}

/// Waits for a background `wabot` that must succeed; returns the JSON it printed.
pub fn finished_json(child: std::process::Child) -> Value {
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().expect("exit code")
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
}

/// The schema version a current database has: one per migration file.
pub fn schema_version() -> i64 {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/store/migrations");
    std::fs::read_dir(dir).unwrap().count() as i64
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn fixture_config() -> Value {
    let text =
        std::fs::read_to_string(fixtures().join("app.json")).expect("tests/fixtures/app.json");
    serde_json::from_str(&text).unwrap()
}

/// One JSONL message line.
pub fn message_line(chat: &str, id: &str, from_me: bool, ts: i64, text: &str) -> String {
    serde_json::json!({
        "id": id, "chat_jid": chat, "sender": if from_me { "15550009999" } else { chat },
        "content": text, "timestamp": ts, "is_from_me": from_me,
    })
    .to_string()
}
