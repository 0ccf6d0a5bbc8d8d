//! The live [`HistorySource`] and media downloads: requests through the connected
//! client, answers through the wiring, every wait bounded.

use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use anyhow::Result;
use whatsapp_rust::download::DownloadParams;
use whatsapp_rust::prelude::*;
use whatsapp_rust::wacore::download::MediaType;

use wabot_core::attachment::DownloadRef;
use wabot_core::history::{Answer, Cursor, FetchError, HistorySource};

use crate::bounded;
use crate::wiring::Answers;

/// How long sending a request may take before we call the connection broken.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);
/// The phone answers on-demand requests itself; it may be asleep or offline.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Live {
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) client: Arc<Client>,
    pub(crate) answers: Answers,
}

impl HistorySource for Live {
    fn fetch(&mut self, chat: &str, cursor: &Cursor, count: i64) -> Result<Answer, FetchError> {
        let jid: Jid = chat
            .parse()
            .map_err(|e| FetchError::Refused(format!("{chat} is not a JID: {e:?}")))?;
        // Answers to requests that timed out earlier are stored already; drop them.
        while self.answers.try_recv().is_ok() {}
        let request = self.client.fetch_message_history(
            &jid,
            &cursor.id,
            cursor.from_me,
            cursor.timestamp_ms,
            i32::try_from(count).unwrap_or(50),
        );
        match bounded(&self.runtime, SEND_TIMEOUT, request) {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(FetchError::NoAnswer(format!(
                    "the history request could not be sent: {e}"
                )));
            }
            Err(_) => {
                return Err(FetchError::NoAnswer(format!(
                    "sending the history request took more than {} s",
                    SEND_TIMEOUT.as_secs()
                )));
            }
        }
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            match self
                .answers
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok((answered, answer)) if answered == chat => return Ok(answer),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(FetchError::NoAnswer(format!(
                        "the phone did not answer within {} s: is it online, with WhatsApp open?",
                        ANSWER_TIMEOUT.as_secs()
                    )));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(FetchError::NoAnswer("the connection closed".into()));
                }
            }
        }
    }
}

fn media_type(kind: &str) -> MediaType {
    match kind {
        "image" => MediaType::Image,
        "video" => MediaType::Video,
        "audio" => MediaType::Audio,
        "sticker" => MediaType::Sticker,
        _ => MediaType::Document,
    }
}

impl Live {
    /// Connected and logged in: requests now can reach the phone.
    pub fn is_logged_in(&self) -> bool {
        self.client.is_logged_in()
    }

    /// Downloads and decrypts a media file by its CDN reference; `media_type` is the
    /// stored kind (image, video, audio, sticker, document) and `sha256_hex` the
    /// plaintext's checksum the library verifies.
    pub fn download(
        &self,
        media_type: &str,
        sha256_hex: &str,
        reference: &DownloadRef,
    ) -> Result<Vec<u8>> {
        let params = DownloadParams::encrypted(
            reference.direct_path.clone(),
            &hex::decode(&reference.media_key)?,
            &hex::decode(sha256_hex)?,
            &hex::decode(&reference.file_enc_sha256)?,
            reference.file_length,
            self::media_type(media_type),
        );
        let download = self.client.download_from_params(&params);
        match bounded(&self.runtime, DOWNLOAD_TIMEOUT, download) {
            Ok(result) => result,
            Err(_) => anyhow::bail!(
                "the download took more than {} s",
                DOWNLOAD_TIMEOUT.as_secs()
            ),
        }
    }
}
