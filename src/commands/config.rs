//! `wabot config check`: validate, then show what wabot will actually use.

use anyhow::Result;
use serde_json::json;

use super::load_config;
use crate::cli::{Global, JsonFlag};
use crate::config::API_KEY_VAR;
use crate::output;

pub fn check(global: &Global, args: &JsonFlag) -> Result<()> {
    let config = load_config(global)?;
    let key_state = if config.api_key.is_some() {
        "set (redacted)"
    } else {
        "missing: needed by the commands that call the LLM"
    };
    let report = json!({
        "valid": true,
        "config": config,
        "secrets": { API_KEY_VAR: key_state },
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
        "\n{source}: valid; {} monitored entities; {API_KEY_VAR} {key_state}",
        config.entities.len()
    ))
}
