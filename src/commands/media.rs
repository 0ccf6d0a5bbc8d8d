//! `wabot media fetch`: one message's file, now. `wabot media transcribe`: the voice
//! notes of the archive, as text.

use anyhow::Result;

use super::{load_config, logged_job, open_db, resolve_optional_chat};
use crate::cli::{Global, TranscribeArgs};
use crate::db::Untranscribed;
use crate::error::{self, Kind};
use crate::llm::Transcriber;
use crate::{output, transcripts};

pub fn fetch(global: &Global, message: &str, chat: Option<&str>) -> Result<()> {
    let config = load_config(global)?;
    let mut db = open_db(&config)?;
    let chat = resolve_optional_chat(&db, &config, chat, "--chat")?;
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

/// `wabot media transcribe`: the archive's voice notes without a transcript, now.
pub fn transcribe(global: &Global, args: &TranscribeArgs) -> Result<()> {
    let config = load_config(global)?;
    let Some(transcriber) = Transcriber::from_config(&config)? else {
        return Err(error::config(
            "transcription.enabled is false: set it (with transcription.base_url and model) in app.json first",
        ));
    };
    let mut db = open_db(&config)?;
    let chat = resolve_optional_chat(&db, &config, args.chat.as_deref(), "--chat")?;
    let since = args
        .since
        .as_deref()
        .map(|d| super::search::bound("--since", d, config.timezone(), crate::when::End::From))
        .transpose()?;
    let filter = Untranscribed {
        chat: chat.as_deref(),
        since,
        limit: args.limit as usize,
    };
    let progress = output::progress_bar(
        0,
        "{bar:40} {pos}/{len} voice notes {eta}",
        global.quiet || args.output.json,
    );
    let done = logged_job(
        &mut db,
        "media-transcribe",
        |db| transcripts::backfill(&config, db, &transcriber, &filter, &progress),
        |done| serde_json::to_value(done).unwrap_or_default(),
    )?;
    if args.output.json {
        output::print_json_named(&done, &mut crate::chats::Names::new(&db, &config))?;
    } else if output::stdout_is_terminal() {
        output::line(format_args!(
            "{} voice notes: {} transcribed, {} failed, {} left for later",
            done.candidates, done.transcribed, done.failed, done.not_tried
        ))?;
    }
    for e in done.errors.iter().take(20) {
        log::warn!("{} {}: {}", e["chat_jid"], e["message_id"], e["error"]);
    }
    match &done.stopped {
        Some(why) => Err(error::failure(
            Kind::Temporary,
            format!(
                "stopped with {} voice notes left ({why}); run it again later",
                done.not_tried
            ),
        )),
        None if done.transcribed == 0 && done.failed > 0 => Err(anyhow::anyhow!(
            "none of the {} voice notes could be transcribed",
            done.failed
        )),
        None => Ok(()),
    }
}
