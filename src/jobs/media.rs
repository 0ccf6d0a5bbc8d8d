//! The media store: downloading an attachment and storing the file so that only bytes
//! matching the sender's SHA-256 ever land under their name. What an attachment *is*
//! lives in [`crate::attachment`], below the database.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

pub use crate::attachment::Media;
use crate::db::{Db, MediaRow};

/// Why a downloaded file was not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    TooLarge { size: u64, max: u64 },
    Mismatch { expected: String, actual: String },
    NoChecksum,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejected::TooLarge { size, max } => write!(
                f,
                "{size} bytes is more than media.max_bytes ({max}); raise it to keep such files"
            ),
            Rejected::Mismatch { expected, actual } => write!(
                f,
                "sha256 mismatch: the message says {expected}, the file has {actual}; not kept"
            ),
            Rejected::NoChecksum => {
                f.write_str("the message carries no sha256, so the file cannot be verified")
            }
        }
    }
}

impl std::error::Error for Rejected {}

/// The file name a verified file gets: its SHA-256, with an extension for humans.
pub fn file_name(sha256: &str, mimetype: Option<&str>) -> String {
    let essence = mimetype
        .and_then(|m| m.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    let ext = match essence {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "video/mp4" => "mp4",
        "video/3gpp" => "3gp",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/mp4" => "m4a",
        // Transcription endpoints infer the format from the extension.
        "audio/aac" => "aac",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        "audio/amr" => "amr",
        "video/quicktime" => "mov",
        "image/heic" => "heic",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        _ => "bin",
    };
    format!("{sha256}.{ext}")
}

/// Checks a downloaded file against the size cap and the stated SHA-256 and writes it
/// into `dir` under its hash: a temporary name, fsync, then rename, so a crash never
/// leaves a partial file under a final name. A file already there is reused.
pub fn keep(
    dir: &Path,
    bytes: &[u8],
    sha256: Option<&str>,
    mimetype: Option<&str>,
    max_bytes: u64,
) -> Result<PathBuf> {
    let size = bytes.len() as u64;
    if size > max_bytes {
        return Err(Rejected::TooLarge {
            size,
            max: max_bytes,
        }
        .into());
    }
    let expected = sha256.ok_or(Rejected::NoChecksum)?.to_ascii_lowercase();
    let actual = hex::encode(Sha256::digest(bytes));
    if actual != expected {
        return Err(Rejected::Mismatch { expected, actual }.into());
    }
    crate::files::create_private_dir(dir)?;
    let path = dir.join(file_name(&actual, mimetype));
    if path.exists() {
        return Ok(path);
    }
    // Written under a temporary name (0600, removed if we fail), synced, then renamed:
    // a file under its final name is always whole.
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("writing {}", file.path().display()))?;
    file.persist(&path)
        .with_context(|| format!("naming {}", path.display()))?;
    Ok(path)
}

/// Gets a file's bytes from WhatsApp (the live client, or a test's stand-in).
pub trait Fetch {
    fn fetch(&mut self, row: &MediaRow) -> Result<Vec<u8>>;
}

/// Downloads one queued file and records the outcome: kept under its hash, retried
/// later (bounded by the row's attempts), or failed for good when retrying cannot help.
pub fn download(
    db: &mut Db,
    fetcher: &mut dyn Fetch,
    dir: &Path,
    max_bytes: u64,
    row: &MediaRow,
) -> Result<PathBuf> {
    if let Some(size) = row.size_bytes.and_then(|s| u64::try_from(s).ok())
        && size > max_bytes
    {
        let why = Rejected::TooLarge {
            size,
            max: max_bytes,
        };
        db.media_failed(row.id, &why.to_string(), true)?;
        return Err(why.into());
    }
    let outcome = fetcher.fetch(row).and_then(|bytes| {
        // An official API that states no checksum (Twilio) serves the file over
        // authenticated HTTPS: it is named by its own hash.
        let stated = match (&row.sha256, &row.remote) {
            (None, Some(_)) => Some(hex::encode(Sha256::digest(&bytes))),
            (stated, _) => stated.clone(),
        };
        keep(
            dir,
            &bytes,
            stated.as_deref(),
            row.mimetype.as_deref(),
            max_bytes,
        )
    });
    match outcome {
        Ok(path) => {
            // Stored relative to the database's directory, as cleanup reads it.
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            db.media_downloaded(row.id, &format!("media/{name}"))?;
            Ok(path)
        }
        Err(err) => {
            let final_ = err.downcast_ref::<Rejected>().is_some();
            db.media_failed(row.id, &format!("{err:#}"), final_)?;
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_notes_keep_the_type_and_extension_a_transcription_endpoint_reads() {
        use crate::import::export::mimetype;
        for (file, name) in [
            ("00000012-AUDIO-2024-01-15.wav", "h.wav"),
            ("PTT-20240115-WA0001.amr", "h.amr"),
            ("voice.aac", "h.aac"),
            ("voice.m4a", "h.m4a"),
            ("PTT-20240115-WA0002.opus", "h.ogg"),
        ] {
            assert_eq!(file_name("h", Some(mimetype(file))), name, "{file}");
        }
    }
    use crate::attachment::DownloadRef;
    use crate::status::DownloadState;

    #[test]
    fn a_verified_file_is_kept_under_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = b"\xff\xd8\xff a tiny jpeg";
        let sha = hex::encode(Sha256::digest(bytes));
        let path = keep(dir.path(), bytes, Some(&sha), Some("image/jpeg"), 1024).unwrap();
        assert_eq!(path, dir.path().join(format!("{sha}.jpg")));
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        let again = keep(dir.path(), bytes, Some(&sha.to_uppercase()), None, 1024).unwrap();
        assert!(again.exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_sha256_mismatch_is_rejected_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let wrong = hex::encode(Sha256::digest(b"something else"));
        let err = keep(dir.path(), b"tampered", Some(&wrong), None, 1024).unwrap_err();
        let rejected = err.downcast_ref::<Rejected>().unwrap();
        assert!(matches!(rejected, Rejected::Mismatch { expected, .. } if *expected == wrong));
        assert!(err.to_string().contains("sha256 mismatch"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn files_over_the_cap_or_without_a_checksum_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = vec![0u8; 2048];
        let sha = hex::encode(Sha256::digest(&bytes));
        let err = keep(dir.path(), &bytes, Some(&sha), None, 1024).unwrap_err();
        assert!(err.to_string().contains("media.max_bytes"), "{err}");
        let err = keep(dir.path(), &bytes, None, None, 4096).unwrap_err();
        assert_eq!(err.downcast_ref::<Rejected>(), Some(&Rejected::NoChecksum));
    }

    struct Cdn {
        served: Vec<u8>,
        fail: bool,
        calls: usize,
    }

    impl Fetch for Cdn {
        fn fetch(&mut self, _: &MediaRow) -> Result<Vec<u8>> {
            self.calls += 1;
            if self.fail {
                anyhow::bail!("media host timed out");
            }
            Ok(self.served.clone())
        }
    }

    /// A database with one queued image whose stated hash is that of `genuine`.
    fn queued(genuine: &[u8]) -> (tempfile::TempDir, Db, i64) {
        use crate::message::{MessageKind, MessageStatus, NewMessage, Origin};
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let media = Media {
            kind: "image",
            mimetype: Some("image/jpeg".into()),
            size_bytes: Some(genuine.len() as i64),
            sha256: Some(hex::encode(Sha256::digest(genuine))),
            caption: None,
            file_name: None,
            download: Some(DownloadRef {
                direct_path: "/v/x".into(),
                media_key: "00".into(),
                file_enc_sha256: "11".into(),
                file_length: genuine.len() as u64,
            }),
            remote: None,
            fetch: true,
            view_once: false,
        };
        let m = NewMessage {
            message_type: MessageKind::Image,
            media: Some(Box::new(media)),
            ..NewMessage::text(
                Origin::Live,
                "15550001111@s.whatsapp.net",
                "IMG1",
                1_700_000_000_000,
                "[image]",
            )
        };
        db.ingest(vec![m], &|_| Some(MessageStatus::History))
            .unwrap();
        let row = db
            .next_media_download(crate::clock::now_ms())
            .unwrap()
            .unwrap();
        (dir, db, row.id)
    }

    #[test]
    fn a_download_is_verified_then_recorded() {
        let genuine = b"jpeg bytes".to_vec();
        let (dir, mut db, id) = queued(&genuine);
        let row = db.media(id).unwrap().unwrap();
        let mut cdn = Cdn {
            served: genuine.clone(),
            fail: false,
            calls: 0,
        };
        let media_dir = dir.path().join("media");
        let path = download(&mut db, &mut cdn, &media_dir, 1024, &row).unwrap();
        let row = db.media(id).unwrap().unwrap();
        assert_eq!(row.download_state, DownloadState::Done);
        assert_eq!(
            dir.path().join(row.local_path.unwrap()),
            path,
            "the recorded path is relative to the database's directory"
        );
        assert_eq!(std::fs::read(path).unwrap(), genuine);
        assert!(
            db.next_media_download(crate::clock::now_ms() + 3_600_000)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_tampered_download_fails_at_once_and_keeps_nothing() {
        let (dir, mut db, id) = queued(b"genuine");
        let row = db.media(id).unwrap().unwrap();
        let mut cdn = Cdn {
            served: b"tampered".to_vec(),
            fail: false,
            calls: 0,
        };
        let err = download(&mut db, &mut cdn, &dir.path().join("media"), 1024, &row).unwrap_err();
        assert!(err.to_string().contains("sha256 mismatch"), "{err}");
        let row = db.media(id).unwrap().unwrap();
        assert_eq!(row.download_state, DownloadState::Failed);
        assert!(row.last_error.unwrap().contains("mismatch"));
        assert!(
            !dir.path().join("media").exists()
                || std::fs::read_dir(dir.path().join("media")).unwrap().count() == 0
        );
    }

    #[test]
    fn transient_failures_are_retried_a_bounded_number_of_times() {
        let (dir, mut db, id) = queued(b"genuine");
        let mut cdn = Cdn {
            served: vec![],
            fail: true,
            calls: 0,
        };
        let later = || crate::clock::now_ms() + 3_600_000;
        while let Some(row) = db.next_media_download(later()).unwrap() {
            assert!(download(&mut db, &mut cdn, &dir.path().join("m"), 1024, &row).is_err());
            assert!(cdn.calls <= 10, "retries must end");
        }
        let row = db.media(id).unwrap().unwrap();
        assert_eq!(
            (row.download_state.as_str(), row.attempts),
            ("failed", crate::db::MAX_DOWNLOAD_ATTEMPTS)
        );
        assert_eq!(cdn.calls as i64, crate::db::MAX_DOWNLOAD_ATTEMPTS);
    }

    #[test]
    fn download_keys_never_show_in_debug_output() {
        let r = DownloadRef {
            direct_path: "/v/t62/secret-path".into(),
            media_key: "00112233".into(),
            file_enc_sha256: "aa".into(),
            file_length: 10,
        };
        let shown = format!("{r:?}");
        assert!(!shown.contains("00112233") && !shown.contains("secret-path"));
    }
}
