//! Transcribing stored voice notes: one file from the media store through the
//! transcription endpoint, its outcome committed (the transcript on its message, or the
//! failure counted), and the backfill of an archive's backlog.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::config::Config;
use crate::db::{Db, MessageMedia, Untranscribed};
use crate::error;
use crate::llm::{LlmError, Transcriber};
use crate::status::DownloadState;

pub enum Transcribed {
    Text(String),
    /// Worth another try later; `retry_after` when the endpoint said when.
    Later {
        why: String,
        retry_after: Option<Duration>,
        attempts: i64,
    },
    /// Given up: no file, too large, refused, or the attempts are spent.
    Failed(String),
}

/// Transcribes one downloaded (or imported) audio file and records the outcome. A
/// refused key or a wrong endpoint stops everything (exit 78): no file can succeed.
pub fn transcribe(
    config: &Config,
    db: &mut Db,
    transcriber: &Transcriber,
    item: &MessageMedia,
) -> Result<Transcribed> {
    let max_attempts = config.file.polling.max_attempts;
    let id = item.file.id;
    let Some(path) = stored_file(config, item) else {
        return Ok(Transcribed::Failed(
            "the file is not in the media store".into(),
        ));
    };
    let max_bytes = config.file.transcription.max_bytes;
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    if size > max_bytes.unsigned_abs() {
        let why =
            format!("{size} bytes is more than transcription.max_bytes ({max_bytes}); not sent");
        db.transcript_failed(id, &why, true, max_attempts)?;
        return Ok(Transcribed::Failed(why));
    }
    let bytes =
        std::fs::read(&path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mimetype = essence(item.file.mimetype.as_deref()).unwrap_or_else(|| "audio/ogg".into());
    match transcriber.transcribe(&name, &mimetype, &bytes) {
        Ok(text) => {
            db.save_transcript(id, &text)?;
            Ok(Transcribed::Text(text))
        }
        Err(LlmError::Retryable {
            message,
            retry_after,
        }) => {
            let why = format!("transcription: {message}");
            if db.transcript_failed(id, &why, false, max_attempts)? {
                let spent = item.file.transcript_attempts + 1;
                return Ok(Transcribed::Failed(format!(
                    "gave up after {spent} attempts: {why}"
                )));
            }
            Ok(Transcribed::Later {
                why,
                retry_after,
                attempts: item.file.transcript_attempts + 1,
            })
        }
        Err(LlmError::Rejected { message } | LlmError::TakesNoImages { message }) => {
            let why = format!("transcription: {message}");
            db.transcript_failed(id, &why, true, max_attempts)?;
            Ok(Transcribed::Failed(why))
        }
        Err(LlmError::Unauthorized { message } | LlmError::Misconfigured { message }) => {
            Err(error::config(format!(
                "transcription: {message}; nothing was lost, the voice notes wait"
            )))
        }
    }
}

/// The file in the media store, when it was downloaded (or imported) and is there.
pub fn stored_file(config: &Config, item: &MessageMedia) -> Option<PathBuf> {
    let relative = item.file.local_path.as_deref()?;
    let path = config.database_path.with_file_name(relative);
    (item.file.download_state == DownloadState::Done && path.is_file()).then_some(path)
}

/// `image/jpeg` of `image/jpeg; charset=…`, lower case.
pub fn essence(mimetype: Option<&str>) -> Option<String> {
    let essence = mimetype?.split(';').next()?.trim().to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

/// What `wabot media transcribe` did.
#[derive(Debug, Default, Serialize)]
pub struct Backfill {
    /// Voice notes that matched and were waiting.
    pub candidates: usize,
    pub transcribed: usize,
    pub failed: usize,
    /// Left for a later run because the endpoint asked to wait.
    pub not_tried: usize,
    /// Why the run stopped early (an endpoint down or rate limiting), if it did.
    pub stopped: Option<String>,
    /// `{chat_jid, message_id, error}` of each failure.
    pub errors: Vec<serde_json::Value>,
}

/// Transcribes the stored voice notes `filter` selects, oldest first. Each transcript
/// is committed as it comes, so a run killed half-way redoes nothing; a retryable
/// failure stops the run (the endpoint is down or asks to wait) with the rest left.
pub fn backfill(
    config: &Config,
    db: &mut Db,
    transcriber: &Transcriber,
    filter: &Untranscribed,
    progress: &indicatif::ProgressBar,
) -> Result<Backfill> {
    let backlog = db.untranscribed(filter)?;
    let mut done = Backfill {
        candidates: backlog.len(),
        ..Backfill::default()
    };
    progress.set_length(backlog.len() as u64);
    for (i, item) in backlog.iter().enumerate() {
        match transcribe(config, db, transcriber, item)? {
            Transcribed::Text(_) => done.transcribed += 1,
            Transcribed::Failed(error) => {
                done.failed += 1;
                done.errors.push(serde_json::json!({
                    "chat_jid": item.file.chat_jid,
                    "message_id": item.file.message_id,
                    "error": error,
                }));
            }
            Transcribed::Later { why, .. } => {
                done.not_tried = backlog.len() - i;
                done.stopped = Some(why);
                break;
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(done)
}
