//! What a media message carries: the attachment's description and the keys to fetch
//! it. Plain data, below the database, which stores it.

use serde::{Deserialize, Serialize};

/// The attachment of a media message, as recorded in `media_files`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// image, video, audio, document or sticker.
    pub kind: &'static str,
    pub mimetype: Option<String>,
    pub size_bytes: Option<i64>,
    /// Hex SHA-256 of the plaintext file, as the sender stated it.
    pub sha256: Option<String>,
    pub caption: Option<String>,
    pub file_name: Option<String>,
    /// How to fetch it from WhatsApp's CDN; absent when the message lacks the keys.
    pub download: Option<DownloadRef>,
    /// Where a webhook transport fetches it (Twilio's media URL, the Cloud API's media id).
    pub remote: Option<Remote>,
    /// Whether the listener should download it (a monitored chat with `media.download`).
    pub fetch: bool,
    /// Sent to be viewed once: kept for the archive, never shown to a model.
    pub view_once: bool,
}

/// Where an official API serves a received file. Stored as JSON in `media_files.remote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "kebab-case")]
pub enum Remote {
    /// Twilio's media URL, fetched with the account's Basic auth. Twilio states no
    /// checksum: the file is named by its own SHA-256.
    Twilio { url: String },
    /// A Cloud API media id: the Graph API gives its (short-lived) URL and SHA-256.
    CloudApi { media_id: String },
}

/// What WhatsApp's CDN needs to serve and decrypt one file. Stored as JSON in the
/// database (which holds the messages themselves anyway); never logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadRef {
    pub direct_path: String,
    /// Hex of the media key.
    pub media_key: String,
    /// Hex SHA-256 of the encrypted file.
    pub file_enc_sha256: String,
    pub file_length: u64,
}

impl std::fmt::Debug for DownloadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadRef")
            .field("file_length", &self.file_length)
            .finish_non_exhaustive()
    }
}
