//! `wabot pause`, `resume`, `exclude`, `include` and `chats`: who gets answered.

use anyhow::Result;
use comfy_table::Cell;

use super::{load_config, open_db, read_db, resolve_chat, resolve_optional_chat};
use crate::cli::{Global, IncludeArgs, JsonFlag, ResumeArgs, ResumeFlags, RetryArgs};
use crate::db::ResumeMode;
use crate::{clock, output};

fn mode(flags: ResumeFlags) -> ResumeMode {
    if flags.from_now {
        ResumeMode::FromNow
    } else {
        ResumeMode::FromLast
    }
}

/// A chat argument as the canonical JID, or a usage error naming it.
pub fn pause(global: &Global) -> Result<()> {
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let changed = db.pause(clock::now_ms())?;
    say(if changed {
        "paused: messages are stored but not answered until `wabot resume`"
    } else {
        "already paused"
    })
}

pub fn resume(global: &Global, args: &ResumeArgs) -> Result<()> {
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let mode = mode(args.mode);
    match db.resume(mode, clock::now_ms())? {
        None => say("not paused"),
        Some(n) => say(&format!(
            "resumed; {n} messages that arrived during the pause {}",
            fate(mode)
        )),
    }
}

pub fn exclude(global: &Global, chat: &str) -> Result<()> {
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let chat = resolve_chat(&db, &config, chat, "chat")?;
    db.exclude(&chat, clock::now_ms())?;
    if !monitored(&config, &db, &chat) {
        // Said whatever stdout is: the command did not do what its name suggests.
        eprintln!(
            "{chat} is excluded, but it was not answered anyway: it is not among \
             monitored_entities{}; the exclusion holds if you add it",
            stored_note(&config)
        );
        return Ok(());
    }
    say(&format!("{chat} is excluded: stored, not answered"))
}

/// Whether wabot answers `chat` (app.json's monitored entities, under the name the store
/// gives the chat).
fn monitored(config: &crate::config::Config, db: &crate::db::Db, chat: &str) -> bool {
    crate::pipeline::listen::policy_of(config, db)
        .entity(chat)
        .is_some()
}

/// What becomes of an unmonitored chat's messages.
fn stored_note(config: &crate::config::Config) -> &'static str {
    if config.file.whatsapp.store_all_chats {
        " (its messages are stored: whatsapp.store_all_chats)"
    } else {
        " (its messages are not stored either: whatsapp.store_all_chats is off)"
    }
}

pub fn include(global: &Global, args: &IncludeArgs) -> Result<()> {
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let chat = resolve_chat(&db, &config, &args.chat, "chat")?;
    let mode = mode(args.mode);
    let included = db.include(&chat, mode, clock::now_ms())?;
    if !monitored(&config, &db, &chat) {
        eprintln!(
            "{chat} is {}excluded, but it is not answered: it is not among monitored_entities{}",
            if included.is_some() {
                "no longer "
            } else {
                "not "
            },
            stored_note(&config)
        );
        return Ok(());
    }
    match included {
        None => say(&format!("{chat} was not excluded")),
        Some(n) => say(&format!(
            "{chat} is answered again; {n} messages from while it was excluded {}",
            fate(mode)
        )),
    }
}

fn fate(mode: ResumeMode) -> &'static str {
    match mode {
        ResumeMode::FromLast => "will be answered",
        ResumeMode::FromNow => "will not be answered",
    }
}

/// Confirmation for a person; cron and scripts only care about the exit code.
pub fn retry(global: &Global, args: &RetryArgs) -> Result<()> {
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let chat = resolve_optional_chat(&db, &config, args.chat.as_deref(), "--chat")?;
    let requeued = db.requeue_failed(chat.as_deref())?;
    if args.output.json {
        return output::print_json(&serde_json::json!({ "requeued": requeued }));
    }
    say(&format!(
        "{requeued} failed messages are pending again; the next process-once answers them"
    ))
}

fn say(text: &str) -> Result<()> {
    if output::stdout_is_terminal() {
        output::line(text)?;
    }
    Ok(())
}

pub fn chats(global: &Global, args: &JsonFlag) -> Result<()> {
    let config = load_config(global)?;
    let db = read_db(&config)?;
    let chats = db.chats()?;
    let mut names = crate::chats::Names::new(&db, &config);
    if args.json {
        let unanswered = db.unanswered_counts()?;
        let rows: Vec<serde_json::Value> = chats
            .iter()
            .map(|c| {
                let waiting = unanswered.get(&c.jid).copied().unwrap_or(0);
                crate::output::shapes::chat(c, &mut names, &config, waiting)
            })
            .collect();
        return output::print_json(&rows);
    }
    if db.is_paused()? {
        output::line("answering is paused: no chat is answered until `wabot resume`")?;
    }
    let mut table = output::table();
    table.set_header([
        "chat",
        "name",
        "kind",
        "answered",
        "last activity",
        "messages",
    ]);
    for c in &chats {
        let answered = match (config.entity_for_chat(&c.jid).is_some(), c.excluded) {
            (true, true) => "excluded",
            (true, false) => "yes",
            _ => "no",
        };
        table.add_row([
            Cell::new(&c.jid),
            Cell::new(names.of(&c.jid)),
            Cell::new(if c.is_group { "group" } else { "user" }),
            Cell::new(answered),
            Cell::new(
                c.last_activity
                    .map_or_else(String::new, |t| clock::display(t, config.timezone())),
            ),
            Cell::new(c.messages),
        ]);
    }
    output::line(table)
}
