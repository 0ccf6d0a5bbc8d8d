//! What a turn's voice notes and images add before the LLM is asked. Files are read
//! only through the media store (the `media_files` row and the file it names), so this
//! works for every transport that fills the store.
//!
//! - A voice note (or other audio) is transcribed once; the transcript is committed on
//!   the message before the LLM is asked, and the turn says `[voice note] <transcript>`.
//! - A file the listener is still downloading holds the turn back, for at most
//!   [`DOWNLOAD_PATIENCE_MS`] after it was stored; then, like a file that will never
//!   come (downloads off, failed, too large) or a transcription that failed for good,
//!   the turn says `[voice note: could not be transcribed]`, so the model can ask for
//!   text instead of guessing what was said.
//! - Images (never stickers) go to the model as image inputs when vision is on; the
//!   text keeps `[image] caption` either way. View-once media is neither transcribed
//!   nor shown: its sender meant it for one look by a person.

use std::collections::HashMap;

use anyhow::Result;
use base64::Engine;

use super::MAX_BACKOFF;
use crate::config::Config;
use crate::db::{Db, MessageMedia, Turn};
use crate::llm::Transcriber;
use crate::status::DownloadState;
use crate::transcripts::{self, Transcribed, essence};
use crate::{backoff, clock};

/// How long a turn waits for the listener to download its files (it tries 3 times
/// within about 3 minutes).
const DOWNLOAD_PATIENCE_MS: i64 = 10 * 60_000;
/// How soon a turn that waits for a download is looked at again.
const DOWNLOAD_RECHECK_MS: i64 = 15_000;
/// The image types both LLM APIs take as `data:` URIs.
const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "image/gif"];

/// What the turn shows instead of the stored texts, and the images it carries.
#[derive(Debug, Default)]
pub struct Seen {
    /// Message id → the text the turn shows for it.
    pub texts: HashMap<String, String>,
    /// `data:` URIs, in message order.
    pub images: Vec<String>,
}

pub enum Looked {
    Seen(Seen),
    /// Not ready: look at the turn again at `at`.
    Wait {
        at: i64,
        why: String,
    },
    /// Another run took the turn over while this one transcribed.
    Lost,
}

/// How the media are looked at: a real run transcribes; a dry run only reads what is
/// stored and changes nothing.
pub enum Mode<'a> {
    Transcribe(&'a Transcriber),
    Stored,
}

pub struct Looker<'a> {
    pub config: &'a Config,
    pub mode: Mode<'a>,
    pub lease_ms: i64,
}

impl Looker<'_> {
    pub fn look(&self, db: &mut Db, turn: &Turn, now: i64) -> Result<Looked> {
        let ids: Vec<&str> = turn.messages.iter().map(|m| m.id.as_str()).collect();
        let mut seen = Seen::default();
        for item in db.media_of_messages(&turn.chat_jid, &ids)? {
            match item.file.media_type.as_str() {
                "audio" if self.config.file.transcription.enabled && !item.file.view_once => {
                    match self.hear(db, turn, &item, now)? {
                        Heard::Text(text) => {
                            seen.texts.insert(item.file.message_id.clone(), text);
                        }
                        Heard::Stored => {}
                        Heard::Wait { at, why } => return Ok(Looked::Wait { at, why }),
                        Heard::Lost => return Ok(Looked::Lost),
                    }
                }
                "image" if self.config.file.vision.enabled && !item.file.view_once => {
                    if let Some(wait) = self.downloading(&item, now, "image") {
                        return Ok(wait);
                    }
                    seen.images.extend(self.picture(&item));
                }
                _ => {}
            }
        }
        Ok(Looked::Seen(seen))
    }

    /// A turn waits while its file is being downloaded, within the patience.
    fn downloading(&self, item: &MessageMedia, now: i64, what: &str) -> Option<Looked> {
        let waiting = item.file.download_state == DownloadState::Pending
            && now - item.file.created_at < DOWNLOAD_PATIENCE_MS
            && matches!(self.mode, Mode::Transcribe(_));
        waiting.then(|| Looked::Wait {
            at: now + DOWNLOAD_RECHECK_MS,
            why: format!("waiting for the {what} to be downloaded"),
        })
    }

    fn hear(&self, db: &mut Db, turn: &Turn, item: &MessageMedia, now: i64) -> Result<Heard> {
        let label = label(item);
        let could_not = Heard::Text(format!("[{label}: could not be transcribed]"));
        if let Some(text) = &item.transcript {
            return Ok(Heard::Text(said(label, text)));
        }
        if item.file.transcript_state.as_deref() == Some("failed") {
            return Ok(could_not);
        }
        if let Some(Looked::Wait { at, why }) = self.downloading(item, now, label) {
            return Ok(Heard::Wait { at, why });
        }
        let Mode::Transcribe(transcriber) = &self.mode else {
            return Ok(Heard::Stored);
        };
        // A transcription can take most of the lease: renew it first, as before an LLM call.
        if !db.renew_claim(turn, clock::now_ms() + self.lease_ms)? {
            return Ok(Heard::Lost);
        }
        Ok(
            match transcripts::transcribe(self.config, db, transcriber, item)? {
                Transcribed::Text(text) => Heard::Text(said(label, &text)),
                Transcribed::Later {
                    why,
                    retry_after,
                    attempts,
                } => {
                    let wait = retry_after.unwrap_or_else(|| backoff::delay(attempts, MAX_BACKOFF));
                    Heard::Wait {
                        at: clock::now_ms() + wait.as_millis() as i64,
                        why,
                    }
                }
                Transcribed::Failed(why) => {
                    log::warn!("{}: {why}; the turn says so", turn.chat_jid);
                    could_not
                }
            },
        )
    }

    /// The image as a `data:` URI, unless it is not on disk, of a type the APIs do not
    /// take, or larger than `vision.max_bytes` (then the caption speaks for it).
    fn picture(&self, item: &MessageMedia) -> Option<String> {
        let mimetype = essence(item.file.mimetype.as_deref())?;
        if !IMAGE_TYPES.contains(&mimetype.as_str()) {
            return None;
        }
        let path = transcripts::stored_file(self.config, item)?;
        let max = self.config.file.vision.max_bytes.unsigned_abs();
        if std::fs::metadata(&path).ok()?.len() > max {
            log::info!(
                "{}: image {} is larger than vision.max_bytes; the model gets its caption",
                item.file.chat_jid,
                item.file.message_id
            );
            return None;
        }
        let bytes = std::fs::read(&path).ok()?;
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        Some(format!("data:{mimetype};base64,{data}"))
    }
}

enum Heard {
    Text(String),
    /// Nothing to add (a dry run): the stored text stands.
    Stored,
    Wait {
        at: i64,
        why: String,
    },
    Lost,
}

/// `[voice note] <transcript>`; a transcript without words says so.
fn said(label: &str, text: &str) -> String {
    if text.trim().is_empty() {
        format!("[{label}: no speech recognised]")
    } else {
        format!("[{label}] {}", text.trim())
    }
}

/// WhatsApp's voice notes are Ogg/Opus and stored as `[voice note]`; other audio is
/// music or a recording someone forwarded.
fn label(item: &MessageMedia) -> &'static str {
    let ogg = essence(item.file.mimetype.as_deref()).is_some_and(|m| m == "audio/ogg");
    if item.content.starts_with("[voice note") || ogg {
        "voice note"
    } else {
        "audio"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_read_as_what_was_said() {
        assert_eq!(
            said("voice note", " tea at five "),
            "[voice note] tea at five"
        );
        assert_eq!(said("voice note", ""), "[voice note: no speech recognised]");
        assert_eq!(
            essence(Some("audio/ogg; codecs=opus")).as_deref(),
            Some("audio/ogg")
        );
        assert_eq!(essence(Some(" ")), None);
    }
}
