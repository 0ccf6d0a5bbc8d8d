//! `wabot search`: find stored messages.

use anyhow::Result;
use comfy_table::Cell;

use super::conversation::Conversation;
use super::{Names, load_config, read_db, resolve_optional_chat};
use crate::cli::{Global, SearchArgs};
use crate::db::{Hit, SearchFilter, SearchOrder};
use crate::error::{self, Kind};
use crate::when::{self, End};
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
            .map(|d| bound("--since", d, tz, End::From))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|d| bound("--until", d, tz, End::Until))
            .transpose()?,
        // One more than shown: whether the limit cut the results.
        limit: args.limit as usize + 1,
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
    let cut = hits.len() > args.limit as usize;
    hits.truncate(args.limit as usize);
    if args.output.json {
        let mut names = crate::chats::Names::new(&db, &config);
        let shown: Vec<_> = hits
            .iter()
            .map(|h| output::shapes::hit(h, &mut names, None))
            .collect();
        output::print_json(&shown)?;
    } else if args.context > 0 {
        with_context(&db, &config, &hits, args)?;
    } else if output::stdout_is_terminal() {
        table(&db, &config, &hits, args.color.enabled())?;
    } else {
        plain(&db, &config, &hits, args.color.enabled())?;
    }
    if cut && !args.output.json {
        eprintln!(
            "{} shown; more match (raise --limit, or narrow with --chat, --from, --since)",
            hits.len()
        );
    }
    if hits.is_empty() {
        // As grep and ripgrep: nothing found is exit 1, without an error message.
        if output::stderr_is_terminal() && !args.output.json {
            eprintln!("no matches");
        }
        return Err(error::failure(Kind::NothingFound, "no matches"));
    }
    Ok(())
}

/// Each hit as people read it: when, chat, author, and the snippet on one line
/// (marked deleted, the matched words highlighted when colour is on).
fn rows(
    db: &crate::db::Db,
    config: &crate::config::Config,
    hits: &[Hit],
    color: bool,
) -> Vec<[String; 4]> {
    let tz = config.timezone();
    let mut names = Names::new(db, config);
    hits.iter()
        .map(|hit| {
            let snippet = hit.snippet.replace(['\n', '\t'], " ");
            let snippet = if color { highlight(&snippet) } else { snippet };
            let deleted = if hit.deleted { "(deleted) " } else { "" };
            [
                clock::display(hit.timestamp, tz),
                names.of(&hit.chat_jid),
                names.author_of(crate::chats::Written::of_hit(hit)),
                format!("{deleted}{snippet}"),
            ]
        })
        .collect()
}

/// A table for a person.
fn table(
    db: &crate::db::Db,
    config: &crate::config::Config,
    hits: &[Hit],
    color: bool,
) -> Result<()> {
    let mut table = output::table();
    table.set_header(["when", "chat", "from", "snippet"]);
    for row in rows(db, config, hits, color) {
        table.add_row(row.map(Cell::new));
    }
    output::line(table)
}

/// One tab-separated line per hit, for grep, cut and awk: time, chat, author, snippet.
fn plain(
    db: &crate::db::Db,
    config: &crate::config::Config,
    hits: &[Hit],
    color: bool,
) -> Result<()> {
    for row in rows(db, config, hits, color) {
        output::line(row.join("\t"))?;
    }
    Ok(())
}

/// Each hit inside its conversation: `-C N` messages before and after, `--` between.
fn with_context(
    db: &crate::db::Db,
    config: &crate::config::Config,
    hits: &[Hit],
    args: &SearchArgs,
) -> Result<()> {
    let n = args.context as usize;
    let mut view = Conversation::new(db, config, args.color.enabled());
    let mut lines = Vec::new();
    for hit in hits {
        let Some(found) = db.message(&hit.chat_jid, &hit.id)? else {
            continue;
        };
        let mut rows = db.messages_before(&hit.chat_jid, Some(&found), n)?;
        let after = db.messages_after(&hit.chat_jid, &found, n)?;
        rows.push(found);
        rows.extend(after);
        view.break_here(&mut lines);
        view.lines(&rows, &mut lines)?;
    }
    output::page(&lines.join("\n"), false)
}

/// `[term]` as FTS5 marks a match, in bold red.
fn highlight(snippet: &str) -> String {
    snippet.replace('[', "\x1b[1;31m").replace(']', "\x1b[0m")
}

/// The `--since` and `--until` of a command, as Unix ms (`until` exclusive).
pub(super) fn range(
    since: Option<&str>,
    until: Option<&str>,
    tz: chrono_tz::Tz,
) -> Result<(Option<i64>, Option<i64>)> {
    Ok((
        since
            .map(|t| bound("--since", t, tz, End::From))
            .transpose()?,
        until
            .map(|t| bound("--until", t, tz, End::Until))
            .transpose()?,
    ))
}

/// An instant of a `--since`/`--until` flag, as Unix ms ([`when::FORMS`]); a bare day
/// is included whole at either end.
pub(super) fn bound(flag: &str, text: &str, tz: chrono_tz::Tz, end: End) -> Result<i64> {
    when::parse(text, tz, clock::now_ms(), end).ok_or_else(|| {
        error::failure(
            Kind::Usage,
            format!(
                "{flag}: {text:?} is not a time wabot reads ({})",
                when::FORMS
            ),
        )
    })
}
