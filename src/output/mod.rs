//! How results reach people and scripts: JSON for `--json`, tables for terminals,
//! silence on success when cron is the reader.

use std::fmt::Display;
use std::io::{IsTerminal, Write};

use anyhow::Result;
use serde::Serialize;

use crate::error::{self, Kind};

pub mod json;
pub mod shapes;

/// Prints `value` in the one JSON dialect ([`json`]); chats stay unnamed, so a value
/// that refers to chats goes through [`print_json_named`].
pub fn print_json(value: &impl Serialize) -> Result<()> {
    print_dialect(value, &mut None)
}

/// Prints `value` in the one JSON dialect, each chat named as the tables name it.
pub fn print_json_named(value: &impl Serialize, names: &mut crate::chats::Names<'_>) -> Result<()> {
    print_dialect(value, &mut Some(names))
}

fn print_dialect(
    value: &impl Serialize,
    names: &mut Option<&mut crate::chats::Names<'_>>,
) -> Result<()> {
    let value = json::dialect(serde_json::to_value(value)?, names);
    line(serde_json::to_string_pretty(&value)?)
}

/// Writes one line to stdout. Unlike `println!` it returns an error instead of
/// panicking when the reader went away (`wabot stats | head`); main treats that as done.
pub fn line(text: impl Display) -> Result<()> {
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(())
}

/// Writes `bytes` to stdout as they are; a closed pipe is an error main treats as done.
pub fn write_all(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

/// Whether the error only says that stdout's reader closed the pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Shows `text` through `$PAGER` (`less -FRX` when unset) when a person reads stdout
/// and `pager` allows it, as git does; printed straight otherwise, or when no pager
/// can be started.
pub fn page(text: &str, pager: bool) -> Result<()> {
    use std::process::{Command, Stdio};
    let program = std::env::var("PAGER").unwrap_or_else(|_| "less".into());
    if !pager || !stdout_is_terminal() || program.trim().is_empty() || program == "cat" {
        return line(text);
    }
    let child = Command::new("sh")
        .arg("-c")
        .arg(&program)
        .env(
            "LESS",
            std::env::var("LESS").unwrap_or_else(|_| "FRX".into()),
        )
        .stdin(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return line(text);
    };
    if let Some(mut stdin) = child.stdin.take() {
        // The reader quitting early (q in less) is no failure.
        let _ = writeln!(stdin, "{text}");
    }
    child.wait()?;
    Ok(())
}

/// Whether a person reads stdout; cron mails any output, so jobs stay quiet otherwise.
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Asks a yes/no question on the terminal; refuses (exit 2) rather than guess when
/// nobody can answer.
pub fn confirm(question: &str, without_terminal: &str) -> Result<()> {
    use std::io::BufRead;
    if !std::io::stdin().is_terminal() {
        return Err(error::failure(Kind::Usage, without_terminal));
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(error::failure(Kind::Usage, "cancelled"))
    }
}

/// A progress bar on stderr when a person watches it; a hidden one otherwise (cron,
/// pipes, `--json`, `-q`).
pub fn progress_bar(length: u64, template: &str, quiet: bool) -> indicatif::ProgressBar {
    if quiet || !stderr_is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(length);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// A table that wraps its cells to fit the terminal (or `COLUMNS`, when set).
pub fn table() -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|w| *w >= 20);
    match columns {
        Some(width) => {
            table.set_width(width);
        }
        // A terminal that reports no width (`script`, `docker exec -t` say 0×0) would
        // get one-character columns: 80 then, as most tools assume.
        None if table.width().is_some_and(|w| w < 20) => {
            table.set_width(80);
        }
        None => {}
    }
    table
}
