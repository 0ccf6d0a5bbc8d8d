//! `wabot outbox list`: what waits to be sent, and what was.

use anyhow::Result;
use comfy_table::Cell;

use super::{Names, load_config, read_db};
use crate::cli::{Global, OutboxListArgs};
use crate::clock;
use crate::output;

/// Characters of content shown per row in the table; `--json` has it all.
const PREVIEW: usize = 60;

pub fn list(global: &Global, args: &OutboxListArgs) -> Result<()> {
    let config = load_config(global)?;
    let db = read_db(&config)?;
    let rows = db.outbox(args.status, args.limit)?;
    let mut names = Names::new(&db, &config);
    if args.output.json {
        return output::print_json_named(&rows, &mut names);
    }
    let mut table = output::table();
    table.set_header([
        "id", "chat", "kind", "status", "created", "receipt", "content",
    ]);
    for row in &rows {
        let mut content: String = row.content.chars().take(PREVIEW).collect();
        if row.content.chars().count() > PREVIEW {
            content.push('…');
        }
        let status = match &row.last_error {
            Some(e) if !row.status.is_taken() => format!("{} ({e})", row.status),
            _ => row.status.to_string(),
        };
        let tz = config.timezone();
        let receipt = match (row.read_at, row.delivered_at) {
            (Some(at), _) => format!("read {}", clock::display(at, tz)),
            (None, Some(at)) => format!("delivered {}", clock::display(at, tz)),
            (None, None) => String::new(),
        };
        table.add_row([
            Cell::new(row.id),
            Cell::new(names.of(&row.chat_jid)),
            Cell::new(row.kind),
            Cell::new(status),
            Cell::new(clock::display(row.created_at, tz)),
            Cell::new(receipt),
            Cell::new(content.replace('\n', " ")),
        ]);
    }
    if table.row_count() == 0 {
        return match args.status {
            Some(status) if !db.outbox(None, 1)?.is_empty() => output::line(format_args!(
                "no {} messages in the outbox (`wabot outbox list` shows the others)",
                status.as_str()
            )),
            _ => output::line("the outbox is empty"),
        };
    }
    output::line(table)
}
