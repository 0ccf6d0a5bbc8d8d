//! `wabot doctor`: is everything in place to answer, and if not, what to do next.

use anyhow::Result;
use comfy_table::Cell;

use super::{load_config, read_db};
use crate::cli::{Global, JsonFlag};
use crate::{doctor, output};

pub fn run(global: &Global, args: &JsonFlag) -> Result<()> {
    let config = load_config(global)?;
    let db = read_db(&config)?;
    let findings = doctor::examine(&config, &db)?;
    if args.json {
        output::print_json(&findings)?;
    } else {
        let mut table = output::table();
        table.set_header(["check", "", "state", "next step"]);
        for f in &findings {
            table.add_row([
                Cell::new(f.check),
                Cell::new(if f.ok { "ok" } else { "!!" }),
                Cell::new(&f.detail),
                Cell::new(f.next.as_deref().unwrap_or("")),
            ]);
        }
        output::line(table)?;
    }
    doctor::verdict(&findings)
}
