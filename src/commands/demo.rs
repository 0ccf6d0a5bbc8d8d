//! `wabot demo`: the product working on a chat that ships inside the binary, with no
//! WhatsApp account, no API key and nothing beside the checkout: a demo directory with
//! its own app.json and archive, then `stats`, `search` and the exact LLM request that
//! `process-once` would send for the one new message.

use std::io::Cursor;
use std::path::Path;

use anyhow::{Context, Result};

use super::{create_db, load_config, process_once, search, stats};
use crate::cli::{DemoArgs, Global, JsonFlag, ProcessArgs, SearchArgs};
use crate::files;
use crate::import;
use crate::output;
use crate::policy::Policy;

const CONFIG: &str = include_str!("../../demo/app.json");
/// Two days of a tea lover's chat and a book club, already answered.
const HISTORY: &str = include_str!("../../demo/history.jsonl");
/// One new question, waiting for an answer.
const NEW: &str = include_str!("../../demo/new.jsonl");

pub fn run(global: &Global, args: &DemoArgs) -> Result<()> {
    let dir = &args.dir;
    files::create_private_dir(dir)?;
    let config_path = dir.join("app.json");
    if !config_path.exists() {
        write_private(&config_path, CONFIG)?;
    }
    let demo = Global {
        config: Some(config_path.clone()),
        db: None,
        verbose: global.verbose,
        quiet: global.quiet,
    };
    let config = load_config(&demo)?;
    let mut db = create_db(&config)?;
    // Importing is idempotent: a second `wabot demo` finds every message stored already.
    let policy = Policy::new(&config);
    let stored = import::jsonl(&mut db, Cursor::new(HISTORY), &|m| {
        Some(policy.on_import(m, false))
    })?;
    let waiting = import::jsonl(&mut db, Cursor::new(NEW), &|m| {
        Some(policy.on_import(m, true))
    })?;
    drop(db);
    let shown = dir.display();
    output::line(format_args!(
        "wabot demo in {shown}/: app.json and the archive store/wabot.db ({} messages added now, {} there already)\n",
        stored.imported + waiting.imported,
        stored.duplicates + waiting.duplicates,
    ))?;
    output::line(format_args!("$ wabot --config {shown}/app.json stats"))?;
    stats::run(&demo, &JsonFlag { json: false })?;
    output::line(format_args!(
        "\n$ wabot --config {shown}/app.json search sencha"
    ))?;
    search::run(
        &demo,
        &SearchArgs {
            query: "sencha".into(),
            chat: None,
            from: None,
            since: None,
            until: None,
            context: 0,
            color: crate::cli::ColorFlag {
                color: crate::cli::ColorWhen::Auto,
            },
            limit: 5,
            rank: false,
            include_deleted: false,
            among: crate::db::RANK_AMONG as u32,
            output: JsonFlag { json: false },
        },
    )?;
    output::line(format_args!(
        "\n$ wabot --config {shown}/app.json process-once --dry-run   # what the LLM would be asked, exactly"
    ))?;
    process_once::run(
        &demo,
        &ProcessArgs {
            dry_run: true,
            output: JsonFlag { json: false },
        },
    )?;
    output::line(format_args!(
        "\nNext: put an API key in {shown}/.env (PERPLEXITY_API_KEY=…, or see docs/llm-providers.md) and run\n  \
         wabot --config {shown}/app.json process-once          # answers Ada's question into the outbox\n  \
         wabot --config {shown}/app.json simulate --entity Ada \"Is matcha a green tea?\"\n\
         Then link your own account: copy app.json.example to app.json, edit it, and run `wabot pair`."
    ))
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    files::create_private(path)?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
