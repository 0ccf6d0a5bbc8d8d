//! docs/json.md shows every command's `--json` by example, and the examples cannot
//! drift: each is compared, key by key and type by type, with what the binary prints
//! on a stocked archive (`WABOT_BLESS=1 cargo test json_docs` rewrites them from it).

use std::path::Path;

use serde_json::{Map, Value};

use crate::common::{Sandbox, fixtures};

/// The heading each example stands under in docs/json.md, and the command it shows,
/// in the order they run (a send before the outbox list, a vacuum last).
const EXAMPLES: &[(&str, &[&str])] = &[
    ("wabot stats --json", &["stats", "--json"]),
    ("wabot chats --json", &["chats", "--json"]),
    ("wabot search QUERY --json", &["search", "spark", "--json"]),
    (
        "wabot show CHAT --json",
        &["show", "+15550001111", "--json"],
    ),
    ("wabot doctor --json", &["doctor", "--json"]),
    (
        "wabot sync --status --json",
        &["sync", "--status", "--json"],
    ),
    (
        "wabot process-once --dry-run --json",
        &["process-once", "--dry-run", "--json"],
    ),
    (
        "wabot send --json",
        &["send", "--to", "+15550001111", "See you at 8", "--json"],
    ),
    ("wabot outbox list --json", &["outbox", "list", "--json"]),
    ("wabot retry --json", &["retry", "--json"]),
    (
        "wabot cleanup --dry-run --json",
        &["cleanup", "--dry-run", "--json"],
    ),
    ("wabot backup --json", &["backup", "--json"]),
    ("wabot vacuum --json", &["vacuum", "--json"]),
    ("wabot config check --json", &["config", "check", "--json"]),
];

const IMPORT: &str = "wabot import --json";

/// What each example's command prints, the import's report first.
fn printed() -> Vec<(&'static str, Value)> {
    let sandbox = Sandbox::new();
    let file = fixtures().join("messages.jsonl");
    let import = [
        "import",
        "--format",
        "jsonl",
        file.to_str().unwrap(),
        "--json",
    ];
    let mut printed = vec![(IMPORT, sandbox.json(&import))];
    for (heading, args) in EXAMPLES {
        let text = sandbox.json_any(args).to_string();
        // Paths of the temporary directory read as a user's would.
        let text = text.replace(sandbox.path("").to_str().unwrap(), "/home/me/wabot/");
        printed.push((heading, serde_json::from_str(&text).unwrap()));
    }
    printed
}

/// A value's shape: arrays as one element that merges all of theirs, so that keys
/// present in some elements only (a finding's `next`) count once.
fn shape(value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut merged = Value::Null;
            for item in items {
                merge(&mut merged, &shape(item));
            }
            Value::Array(if merged.is_null() {
                vec![]
            } else {
                vec![merged]
            })
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        other => other.clone(),
    }
}

fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(key) {
                    Some(known) => merge(known, value),
                    None => {
                        into.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(into), Value::Array(from)) => match (into.first_mut(), from.first()) {
            (Some(known), Some(value)) => merge(known, value),
            (None, Some(value)) => into.push(value.clone()),
            _ => {}
        },
        (into @ Value::Null, from) => *into = from.clone(),
        _ => {}
    }
}

/// Where the documented shape and the printed one differ. A null or an empty list on
/// either side says nothing about the other's type.
fn differences(at: &str, documented: &Value, printed: &Value, found: &mut Vec<String>) {
    match (documented, printed) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(doc), Value::Object(real)) => {
            for key in doc.keys().filter(|k| !real.contains_key(*k)) {
                found.push(format!("{at}.{key}: documented, not printed"));
            }
            for (key, value) in real {
                match doc.get(key) {
                    Some(known) => differences(&format!("{at}.{key}"), known, value, found),
                    None => found.push(format!("{at}.{key}: printed, not documented")),
                }
            }
        }
        (Value::Array(doc), Value::Array(real)) => {
            if let (Some(doc), Some(real)) = (doc.first(), real.first()) {
                differences(&format!("{at}[]"), doc, real, found);
            }
        }
        (doc, real) if kind(doc) == kind(real) => {}
        (doc, real) => found.push(format!("{at}: documented {doc}, printed {real}")),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// An example as short as it can be and still show every key: of each list, the
/// elements that add keys the ones before did not show.
fn example(value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut kept = Vec::new();
            let mut seen = Value::Null;
            for item in items {
                let before = shape(&seen);
                merge(&mut seen, &shape(item));
                if kept.is_empty() || shape(&seen) != before {
                    kept.push(example(item));
                }
            }
            Value::Array(kept)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), example(v)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

/// The ```json block under `### heading`, and where it sits in the page.
fn block<'a>(page: &'a str, heading: &str) -> Option<(usize, &'a str)> {
    let at = page.find(&format!("\n### `{heading}`\n"))?;
    let open = at + page[at..].find("```json\n")? + "```json\n".len();
    let close = open + page[open..].find("```")?;
    Some((open, &page[open..close]))
}

#[test]
fn every_commands_json_is_documented_as_it_prints() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md");
    let mut page = std::fs::read_to_string(&file).unwrap();
    let printed = printed();
    if std::env::var_os("WABOT_BLESS").is_some() {
        for (heading, value) in &printed {
            let (open, old) = block(&page, heading)
                .unwrap_or_else(|| panic!("docs/json.md has no ### `{heading}` with a json block"));
            let new = format!(
                "{}\n",
                serde_json::to_string_pretty(&example(value)).unwrap()
            );
            page.replace_range(open..open + old.len(), &new);
        }
        std::fs::write(&file, &page).unwrap();
    }
    let mut found = Vec::new();
    for (heading, value) in &printed {
        let Some((_, text)) = block(&page, heading) else {
            found.push(format!("{heading}: no ### `{heading}` with a json block"));
            continue;
        };
        match serde_json::from_str::<Value>(text) {
            Ok(documented) => differences(heading, &shape(&documented), &shape(value), &mut found),
            Err(e) => found.push(format!("{heading}: the example is not JSON ({e})")),
        }
    }
    assert!(
        found.is_empty(),
        "docs/json.md drifted from the binary (`WABOT_BLESS=1 cargo test json_docs` \
         rewrites the examples):\n{}",
        found.join("\n")
    );
}

#[test]
fn a_drifted_example_is_caught() {
    let printed =
        serde_json::json!([{"id": "a", "ok": true}, {"id": "b", "ok": false, "next": "x"}]);
    let mut found = Vec::new();
    differences(
        "t",
        &shape(&serde_json::json!([{"id": "a", "ok": true}])),
        &shape(&printed),
        &mut found,
    );
    assert_eq!(found, ["t[].next: printed, not documented"]);
    found.clear();
    differences(
        "t",
        &shape(&serde_json::json!([{"id": 1, "ok": true, "next": null}])),
        &shape(&printed),
        &mut found,
    );
    assert_eq!(found, [r#"t[].id: documented 1, printed "a""#]);
    assert_eq!(
        example(&printed).as_array().unwrap().len(),
        2,
        "both: the second adds `next`"
    );
}
