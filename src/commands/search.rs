//! `wabot search`: find stored messages.

use anyhow::Result;
use comfy_table::Cell;

use super::{Names, load_config, read_db, resolve_optional_chat};
use crate::cli::{Global, SearchArgs};
use crate::db::{SearchFilter, SearchOrder};
use crate::error::{self, Kind};
use crate::{clock, output};

pub fn run(global: &Global, args: &SearchArgs) -> Result<()> {
    let config = load_config(global)?;
    let tz = config.timezone();
    let db = read_db(&config)?;
    let chat = resolve_optional_chat(&db, &config, args.chat.as_deref(), "--chat")?;
    let author = args
        .from
        .as_deref()
        .map(|from| crate::chats::resolve_author(&db, &config, from, "--from"))
        .transpose()?
        .unwrap_or_default();
    let filter = SearchFilter {
        chat: chat.as_deref(),
        sender: author.sender.as_deref(),
        author: author.name.as_deref(),
        from_me: author.me,
        since: args
            .since
            .as_deref()
            .map(|d| instant("--since", d, tz))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|d| instant("--until", d, tz))
            .transpose()?,
        limit: args.limit as usize,
        order: if args.rank {
            SearchOrder::Relevance {
                among: args.among as usize,
            }
        } else {
            SearchOrder::Newest
        },
    };
    let mut hits = db.search(&args.query, &filter)?;
    if args.include_deleted {
        // Deleted texts are not in the full-text index: plain words, matched anywhere.
        let words: Vec<String> = args
            .query
            .split_whitespace()
            .map(|w| w.trim_matches(['"', '*', '(', ')']).to_string())
            .filter(|w| !w.is_empty() && !matches!(w.as_str(), "AND" | "OR" | "NOT"))
            .collect();
        hits.extend(db.search_deleted(&words, &filter)?);
    }
    if args.output.json {
        return output::print_json(&hits);
    }
    let mut names = Names::new(&db, &config);
    let mut table = output::table();
    table.set_header(["when", "chat", "from", "snippet"]);
    for hit in &hits {
        table.add_row([
            Cell::new(clock::display(hit.timestamp, tz)),
            Cell::new(names.of(&hit.chat_jid)),
            Cell::new(names.author_of(crate::chats::Written::of_hit(hit))),
            Cell::new(if hit.deleted {
                format!("(deleted) {}", hit.snippet.replace('\n', " "))
            } else {
                hit.snippet.replace('\n', " ")
            }),
        ]);
    }
    output::table_or(table, "no matches")
}

/// `YYYY-MM-DD` (local midnight in the configured zone) or RFC 3339, as Unix ms.
pub(super) fn instant(flag: &str, text: &str, tz: chrono_tz::Tz) -> Result<i64> {
    clock::parse_instant(text, tz).ok_or_else(|| {
        error::failure(
            Kind::Usage,
            format!("{flag}: {text:?} is neither YYYY-MM-DD nor an RFC 3339 time"),
        )
    })
}
