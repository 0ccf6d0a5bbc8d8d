//! `wabot simulate`: tune an entity's prompt and persona without WhatsApp.

use std::io::{BufRead, Write};

use anyhow::Result;

use super::{create_db, load_config};
use crate::agent;
use crate::cli::{Global, SimulateArgs};
use crate::error::{self, Kind};
use crate::{llm, output};

pub fn run(global: &Global, args: &SimulateArgs) -> Result<()> {
    let config = load_config(global)?;
    let Some(entity) = config
        .entities
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case(&args.entity))
        .cloned()
    else {
        let names: Vec<&str> = config.entities.iter().map(|e| e.name.as_str()).collect();
        return Err(error::failure(
            Kind::Usage,
            format!(
                "--entity: no monitored entity is named {:?} (there are: {})",
                args.entity,
                names.join(", ")
            ),
        ));
    };
    let client = llm::Client::new(&config.llm, config.llm_key()?);
    let mut db = create_db(&config)?;
    if args.reset {
        agent::reset_simulation(&mut db, &entity)?;
    }
    if let Some(text) = &args.text {
        let reply = agent::simulate(&config, &mut db, &client, &entity, text)?;
        return output::line(reply);
    }
    eprintln!(
        "talking to {} (Ctrl-D to end; the conversation is remembered like a real chat)",
        entity.name
    );
    let stdin = std::io::stdin();
    loop {
        eprint!("you> ");
        std::io::stderr().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line.trim().is_empty() {
            continue;
        }
        match agent::simulate(&config, &mut db, &client, &entity, line.trim()) {
            Ok(reply) => output::line(format_args!("{}> {reply}\n", entity.name))?,
            Err(e) if error::exit_code(&e) == 75 => eprintln!("wabot: {e:#} (try again)"),
            Err(e) => return Err(e),
        }
    }
}
