//! `wabot mcp`: the archive (and, when allowed, the outbox) for AI assistants over the
//! Model Context Protocol on stdio.
//!
//! stdout carries the protocol, so nothing else may print there: logs go to stderr
//! like every job's. The server is a short-lived reader like `wabot search`: each tool
//! call opens the database, does its work and closes it again, so an idle server holds
//! no lock and `listen`, cron jobs and backups run beside it.
//!
//! Message text written by other people reaches the assistant only as data fields of
//! tool results, never in tool descriptions or instructions (see [`shape`]).

mod shape;
mod tools;

use std::sync::Arc;

use anyhow::{Context, Result};
use rmcp::ServiceExt;

use crate::cli::McpArgs;
use crate::config::Config;
use crate::error;

pub use tools::Archive;

/// Which chats the send tool may write to; without one, the server has no send tool.
#[derive(Debug, Clone)]
pub enum SendPolicy {
    /// Any chat (`--allow-send-any`).
    Any,
    /// The chats `mcp.send_to` names (numbers, JIDs or names, resolved per call so a
    /// name learnt later counts).
    Listed(Vec<String>),
}

impl SendPolicy {
    /// The policy the command line and app.json ask for; `None` is read-only.
    pub fn from(config: &Config, args: &McpArgs) -> Result<Option<Self>> {
        if args.allow_send_any {
            return Ok(Some(Self::Any));
        }
        if !(args.allow_send || config.file.mcp.allow_send) {
            return Ok(None);
        }
        if config.file.mcp.send_to.is_empty() {
            // A send tool that refuses every chat would only confuse the assistant.
            return Err(error::config(
                "sending over MCP is allowed but mcp.send_to in app.json lists no chat; \
                 list the chats it may write to, or pass --allow-send-any",
            ));
        }
        for name in &config.file.mcp.send_to {
            crate::chats::resolve_configured(config, name, "mcp.send_to")
                .map_err(|e| error::config(format!("{e:#}")))?;
        }
        Ok(Some(Self::Listed(config.file.mcp.send_to.clone())))
    }
}

/// Serves MCP on stdin/stdout until the client closes the connection.
pub fn serve(config: Config, args: &McpArgs) -> Result<()> {
    let send = SendPolicy::from(&config, args)?;
    // Fail now, not at the first tool call, when the archive is missing or unreadable.
    crate::db::Db::open_for_reading(&config.database_path)?;
    log::info!(
        "serving MCP on stdio ({})",
        match &send {
            None => "read-only".to_string(),
            Some(SendPolicy::Any) => "may send to any chat".to_string(),
            Some(SendPolicy::Listed(chats)) => format!("may send to {}", chats.join(", ")),
        }
    );
    let archive = Archive::new(Arc::new(config), send);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the MCP server's runtime")?;
    runtime.block_on(async move {
        let service = archive
            .serve(rmcp::transport::stdio())
            .await
            .context("starting the MCP session on stdio")?;
        service
            .waiting()
            .await
            .context("the MCP session ended abnormally")?;
        Ok(())
    })
}
