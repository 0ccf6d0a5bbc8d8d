//! A bot in a sandbox: the fixture config pointed at a local LLM stand-in, messages
//! received through the real import path, and `process-once` run as a process.

use std::time::Duration;

use serde_json::{Value, json};

use super::llm::{KEY, Server, StandIn};
use super::{Run, Sandbox, fixture_config, message_line};

pub const ALICE: &str = "15550001111@s.whatsapp.net";
pub const FAMILY: &str = "120363041234567890@g.us";
const TS: i64 = 1_705_329_000;

pub struct Bot {
    pub sandbox: Sandbox,
    pub llm: StandIn,
    next_id: std::cell::Cell<usize>,
}

impl Bot {
    pub fn new(edit: impl FnOnce(&mut Value)) -> Self {
        Self::with_delay(Duration::ZERO, edit)
    }

    pub fn with_delay(delay: Duration, edit: impl FnOnce(&mut Value)) -> Self {
        Self::serving(StandIn::start(delay), edit)
    }

    /// A bot whose `llm` section is `section` on a stand-in answering as `server`; `edit`
    /// changes the rest of the config.
    pub fn against(server: Server, section: Value, edit: impl FnOnce(&mut Value)) -> Self {
        let llm = StandIn::start_as(server, Duration::ZERO);
        let base_url = server.base_url(&llm.url);
        Self::serving(llm, move |c| {
            c.as_object_mut().unwrap().remove("perplexity");
            let mut section = section;
            section["base_url"] = json!(base_url);
            section["timeout_seconds"] = json!(2);
            c["llm"] = section;
            edit(c);
        })
    }

    fn serving(llm: StandIn, edit: impl FnOnce(&mut Value)) -> Self {
        let sandbox = Sandbox::new();
        let mut config = fixture_config();
        config["perplexity"]["base_url"] = json!(llm.url);
        config["perplexity"]["timeout_seconds"] = json!(2);
        config["polling"]["lease_seconds"] = json!(3);
        config["debug"]["self_debug"] = json!(false);
        edit(&mut config);
        sandbox.write_config(&config);
        let env = sandbox.write(".env", &format!("PERPLEXITY_API_KEY={KEY}\n"));
        let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
        std::fs::set_permissions(&env, private).unwrap();
        Self {
            sandbox,
            llm,
            next_id: std::cell::Cell::new(0),
        }
    }

    /// Stores inbound messages as new (pending) through the real import path.
    pub fn receive(&self, messages: &[(&str, &str)]) {
        let lines: Vec<String> = messages
            .iter()
            .map(|(chat, text)| {
                let n = self.next_id.get();
                self.next_id.set(n + 1);
                let mut line: Value = serde_json::from_str(&message_line(
                    chat,
                    &format!("in{n}"),
                    false,
                    TS + n as i64,
                    text,
                ))
                .unwrap();
                if chat.ends_with("@g.us") {
                    line["sender"] = json!("15550002222@s.whatsapp.net");
                    line["push_name"] = json!("Bob");
                }
                line.to_string()
            })
            .collect();
        let file = self.sandbox.write(
            &format!("batch{}.jsonl", self.next_id.get()),
            &lines.join("\n"),
        );
        let report = self.sandbox.json(&[
            "import",
            "--format",
            "jsonl",
            file.to_str().unwrap(),
            "--as-new",
            "--json",
        ]);
        assert_eq!(report["imported"], messages.len(), "{report}");
    }

    pub fn process(&self) -> (Run, Value) {
        let run = self.sandbox.run(&["process-once", "--json"]);
        let summary = serde_json::from_str(&run.stdout()).unwrap_or(Value::Null);
        (run, summary)
    }

    pub fn process_ok(&self) -> Value {
        let (run, summary) = self.process();
        assert_eq!(run.code(), 0, "process-once failed: {}", run.stderr());
        summary
    }

    pub fn outbox(&self) -> Vec<Value> {
        let list = self.sandbox.json(&["outbox", "list", "--json"]);
        list.as_array().unwrap().clone()
    }

    /// The listener's part, for tests without one: every queued reply went out and the
    /// server acked it (a reply counts in the chat's memory only from then on).
    pub fn listener_sends(&self) {
        self.sandbox.exec(
            "UPDATE outbox SET status = 'accepted', sent_at = strftime('%s', 'now') * 1000
             WHERE status IN ('pending', 'written')",
        );
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.sandbox.sql(sql)
    }
}
