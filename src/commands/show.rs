//! `wabot show`: one chat as a conversation, through the pager on a terminal and as
//! plain lines (or `--json`) for scripts.

use anyhow::Result;

use super::conversation::Conversation;
use super::search::range;
use super::{load_config, read_db, resolve_chat};
use crate::cli::{Global, ShowArgs};
use crate::config::Config;
use crate::db::Db;
use crate::error::{self, Kind};
use crate::output;

pub fn run(global: &Global, args: &ShowArgs) -> Result<()> {
    let config = load_config(global)?;
    let tz = config.timezone();
    let db = read_db(&config)?;
    let chat = stored_chat(&db, &config, &args.chat)?;
    let limit = args.limit as usize;
    let rows = match &args.around {
        Some(id) => {
            let middle = db.message(&chat, id)?.ok_or_else(|| {
                error::failure(
                    Kind::Usage,
                    format!("--around: no message {id:?} in {chat}"),
                )
            })?;
            let mut rows = db.messages_before(&chat, Some(&middle), limit / 2)?;
            let after = db.messages_after(&chat, &middle, limit.saturating_sub(rows.len() + 1))?;
            rows.push(middle);
            rows.extend(after);
            rows
        }
        None => {
            let (since, until) = range(args.since.as_deref(), args.until.as_deref(), tz)?;
            db.messages_in(&chat, since, until, limit)?
        }
    };
    if args.output.json {
        let mut names = crate::chats::Names::new(&db, &config);
        let shown: Vec<_> = rows
            .iter()
            .map(|row| output::shapes::message(row, &mut names, None))
            .collect();
        return output::print_json(&shown);
    }
    if rows.is_empty() {
        return output::line("no messages in that range");
    }
    let mut lines = Vec::new();
    Conversation::new(&db, &config, args.color.enabled()).lines(&rows, &mut lines)?;
    output::page(&lines.join("\n"), !args.no_pager)
}

/// The chat `given` names, as the store names it; one the archive never saw is refused.
pub(super) fn stored_chat(db: &Db, config: &Config, given: &str) -> Result<String> {
    let chat = db.canonical_jid(&resolve_chat(db, config, given, "chat")?)?;
    if !db.knows_chat(&chat)? {
        return Err(error::failure(
            Kind::Usage,
            format!("chat: the archive holds no chat {chat}"),
        ));
    }
    Ok(chat)
}
