//! `wabot config check`: validate, then show what wabot will actually use.

use anyhow::Result;
use serde_json::json;

use super::load_config;
use crate::cli::{Global, JsonFlag};
use crate::output;

pub fn check(global: &Global, args: &JsonFlag) -> Result<()> {
    let config = load_config(global)?;
    let key_state = if config.api_key.is_some() {
        "set (redacted)"
    } else {
        "missing: needed by the commands that call the LLM"
    };
    let key_var = &config.llm.api_key_env;
    let warnings = config.warnings();
    let report = json!({
        "valid": true,
        "warnings": warnings,
        "config": config,
        "secrets": { key_var: key_state },
    });
    if args.json {
        return output::print_json(&report);
    }
    output::print_json(&report["config"])?;
    let source = config.config_path.as_ref().map_or_else(
        || "defaults (no app.json)".into(),
        |p| p.display().to_string(),
    );
    output::line(format_args!(
        "\n{source}: valid; {} monitored entities; LLM: {} API at {}; {key_var} {key_state}",
        config.entities.len(),
        config.llm.api.name(),
        config.llm.endpoint(),
    ))?;
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    if let Some(mapped) = &config.llm.mapped {
        output::line(format_args!(
            "mapped for Perplexity's Agent API: {mapped} (write an llm section to choose yourself)"
        ))?;
    }
    Ok(())
}
