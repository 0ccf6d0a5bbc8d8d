//! `wabot media fetch`: one message's file, now.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::{load_config, open_db, resolve_chat};
use crate::cli::Global;
use crate::error::{self, Kind};
use crate::whatsapp::session::{self, Session};
use crate::{clock, lock, output};

/// The listener downloads with its own bounded timeouts; this is the patience on top.
const WAIT: Duration = Duration::from_secs(180);

pub fn fetch(global: &Global, message: &str, chat: Option<&str>) -> Result<()> {
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let chat = chat
        .map(|c| resolve_chat(&db, &config, c, "--chat"))
        .transpose()?;
    let rows = db.media_of_message(message, chat.as_deref())?;
    let row = match rows.as_slice() {
        [] => anyhow::bail!("no media file is recorded for message {message}"),
        [row] => row.clone(),
        several => {
            let chats: Vec<&str> = several.iter().map(|r| r.chat_jid.as_str()).collect();
            return Err(error::failure(
                Kind::Usage,
                format!(
                    "message id {message} is in several chats ({}): pass --chat",
                    chats.join(", ")
                ),
            ));
        }
    };
    let on_disk = |relative: &str| config.database_path.with_file_name(relative);
    if let Some(path) = row
        .local_path
        .as_deref()
        .map(on_disk)
        .filter(|p| p.exists())
    {
        return output::line(path.display());
    }
    if row.download.is_none() {
        anyhow::bail!(
            "message {message} ({}) carries no download keys, so its file cannot be fetched",
            row.media_type
        );
    }
    let listener = db
        .heartbeat()?
        .is_some_and(|b| b.is_fresh(clock::now_ms()) && b.state == "running");
    if !listener {
        let lock = lock::acquire(&config.database_path)?;
        session::require_device(&config)?;
        let mut connection = Session::connect(&config, lock)?;
        let max = u64::try_from(config.file.media.max_bytes).unwrap_or(u64::MAX);
        let path = crate::media::download(
            &mut db,
            &mut connection.live,
            &config.media_dir(),
            max,
            &row,
        )?;
        return output::line(path.display());
    }
    db.request_media(row.id)?;
    let interrupted = crate::whatsapp::ctrl_c_flag();
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline && !interrupted.load(Ordering::Relaxed) {
        let Some(now) = db.media(row.id)? else {
            anyhow::bail!("message {message} was deleted meanwhile");
        };
        match now.download_state.as_str() {
            "done" => {
                return output::line(on_disk(&now.local_path.unwrap_or_default()).display());
            }
            "failed" => anyhow::bail!(
                "the download failed: {}",
                now.last_error.unwrap_or_default()
            ),
            _ => std::thread::sleep(Duration::from_millis(250)),
        }
    }
    Err(error::failure(
        Kind::Temporary,
        "the listener has not finished the download yet; it keeps trying (see `wabot stats`)",
    ))
}
