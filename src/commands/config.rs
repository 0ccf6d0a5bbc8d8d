//! `wabot config check`: validate, then show what wabot will actually use.

use anyhow::Result;
use serde_json::json;

use super::load_config;
use crate::cli::{Global, JsonFlag};
use crate::output;

pub fn check(global: &Global, args: &JsonFlag) -> Result<()> {
    let config = load_config(global)?;
    let mut secrets = serde_json::Map::new();
    let key_state = match &config.llm.api_key_env {
        None => "no key sent (api_key_env is null)".to_string(),
        Some(var) => {
            let state = if config.api_key.is_some() {
                "set (redacted)"
            } else {
                "missing: needed by the commands that call the LLM"
            };
            secrets.insert(var.clone(), json!(state));
            format!("{var} {state}")
        }
    };
    let transport = config.file.transport;
    let mut missing = Vec::new();
    for name in transport.secret_names() {
        let state = if config.transport_secrets.get(name).is_some() {
            "set (redacted)".to_string()
        } else {
            missing.push(*name);
            format!(
                "missing: needed by `wabot listen` on transport {:?}",
                transport.name()
            )
        };
        secrets.insert(name.to_string(), json!(state));
    }
    let mut warnings = config.warnings();
    if !missing.is_empty() {
        warnings.push(format!(
            "{} not set: `wabot listen` cannot run on transport {:?} without {}",
            missing.join(", "),
            transport.name(),
            if missing.len() == 1 { "it" } else { "them" }
        ));
    }
    let report = json!({
        "valid": true,
        "warnings": warnings,
        "config": config,
        "secrets": secrets,
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
        "\n{source}: valid; transport {}; {} monitored entities; LLM: {} API at {}; {key_state}",
        transport.name(),
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
