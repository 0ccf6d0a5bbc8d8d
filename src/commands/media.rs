//! `wabot media fetch`: one message's file, now.

use anyhow::Result;

use super::{load_config, open_db, resolve_chat};
use crate::cli::Global;
use crate::error::{self, Kind};
use crate::output;

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
    let path = crate::media_fetch::fetch(&config, &mut db, &row)?;
    output::line(path.display())
}
