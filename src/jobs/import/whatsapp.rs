//! Importing a WhatsApp export, plain text or zip: decode, parse, keep the attached
//! files in the media store, store the messages, and report everything that was not
//! imported as it stood (skipped lines, guesses, lossy decoding).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::archive::{self, Archive};
use super::decode::{self, Decoded};
use super::export::{self, DateOrder, Parsed};
use super::{StatusOf, Summary, store};
use crate::db::Db;
use crate::error::{self, Kind};
use crate::media::Media;

/// Where attached files go: the media store beside the database.
pub struct MediaStore<'a> {
    pub dir: &'a Path,
    pub max_bytes: u64,
}

/// What the export itself told, beyond the counts (the `--json` report's keys).
#[derive(Debug, Serialize)]
pub struct ExportReport {
    /// The chat text inside a zip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_chat: Option<String>,
    #[serde(flatten)]
    pub decoding: Decoded,
    /// The header layout recognised (ios, android, …).
    pub layout: &'static str,
    pub date_order: DateOrder,
    /// Another date order would also have read every date; --date-order forces one.
    pub date_order_guessed: bool,
    /// Lines that are not messages, by reason.
    pub skipped: BTreeMap<&'static str, usize>,
    /// Messages the export marks as edited.
    pub edited: usize,
    pub media: MediaReport,
    /// First and last message time as written (the phone's local time).
    pub first: Option<String>,
    pub last: Option<String>,
    /// Authors as written, sorted.
    pub authors: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct MediaReport {
    /// Attached files found in the zip and kept in the media store.
    pub stored: usize,
    /// Attachments the chat names that the zip (or a plain text export) lacks.
    pub missing: usize,
    /// Files that could not be kept, with the reason.
    pub failed: Vec<String>,
}

/// A reader the zip crate can seek in.
pub trait Input: Read + Seek {}
impl<T: Read + Seek> Input for T {}

/// An error about the input's content: exit 65 (EX_DATAERR), naming the file.
fn data_error(name: &str, message: impl std::fmt::Display) -> anyhow::Error {
    error::failure(Kind::Data, format!("{name}: {message}"))
}

pub fn import(
    db: &mut Db,
    name: &str,
    mut input: Box<dyn Input>,
    options: &export::Options,
    status_of: StatusOf,
    store_media: &MediaStore,
) -> Result<Summary> {
    let mut head = [0u8; 4];
    let read = input.read(&mut head).context("reading the export")?;
    input
        .seek(SeekFrom::Start(0))
        .context("reading the export")?;
    let (bytes, mut zip) = if archive::is_zip(&head[..read]) {
        let (zip, bytes) = Archive::open(input).map_err(|e| data_error(name, e))?;
        (bytes, Some(zip))
    } else {
        let mut bytes = Vec::new();
        input
            .read_to_end(&mut bytes)
            .context("reading the export")?;
        (bytes, None)
    };
    let shown = match &zip {
        Some(zip) => format!("{name} ({})", zip.chat_name),
        None => name.to_string(),
    };
    let fingerprint = hex::encode(Sha256::digest(&bytes));
    refuse_another_zone(db, &shown, &fingerprint, options)?;
    let decoded = decode::decode(&bytes).map_err(|e| data_error(&shown, e))?;
    let parsed = export::parse(&decoded.text, options).map_err(|e| data_error(&shown, e))?;
    let Parsed {
        mut records,
        layout,
        date_order,
        date_order_guessed,
        skipped,
    } = parsed;

    let mut media = MediaReport::default();
    let mut kept: Vec<(String, String)> = Vec::new();
    for record in &mut records {
        let (Some((file, kind)), Ok(message)) = (&record.attachment, &mut record.message) else {
            continue;
        };
        let Some(bytes) = zip
            .as_mut()
            .and_then(|z| z.file(file, store_media.max_bytes))
        else {
            media.missing += 1;
            continue;
        };
        match bytes
            .map_err(anyhow::Error::msg)
            .and_then(|bytes| keep(store_media, file, *kind, &record.caption, &bytes))
        {
            Ok((attachment, path)) => {
                message.media = Some(Box::new(attachment));
                kept.push((message.id.clone(), path));
                media.stored += 1;
            }
            Err(err) => media.failed.push(format!("{file}: {err:#}")),
        }
    }

    let edited: Vec<(String, i64)> = records
        .iter()
        .filter(|r| r.edited)
        .filter_map(|r| r.message.as_ref().ok())
        .map(|m| (m.id.clone(), m.timestamp_ms))
        .collect();
    let stored: Vec<_> = records.iter().filter(|r| r.message.is_ok()).collect();
    let first = stored.iter().filter_map(|r| r.local).min();
    let last = stored.iter().filter_map(|r| r.local).max();
    let authors: BTreeSet<String> = stored.iter().map(|r| r.author.clone()).collect();
    if let Some(me) = &options.me {
        check_me(&shown, me, &authors)?;
    }
    let report = ExportReport {
        archive_chat: zip.as_ref().map(|z| z.chat_name.clone()),
        decoding: decoded,
        layout,
        date_order,
        date_order_guessed,
        skipped,
        edited: edited.len(),
        media,
        first: first.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
        last: last.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
        authors: authors.into_iter().collect(),
    };

    let rows = records
        .into_iter()
        .map(|record| Ok((record.line, Some(record.message))));
    let mut summary = store(db, rows, status_of)?;
    db.record_import(
        &fingerprint,
        &options.chat_jid,
        options.zone.name(),
        crate::clock::now_ms(),
    )?;
    db.mark_edited(&options.chat_jid, &edited)?;
    for (id, path) in &kept {
        db.media_kept(&options.chat_jid, id, path)?;
    }
    summary.export = Some(report);
    Ok(summary)
}

/// The same export read in another time zone gives every message another time, so
/// another id: it would be stored a second time, shifted. Refused unless asked for.
fn refuse_another_zone(
    db: &Db,
    shown: &str,
    fingerprint: &str,
    options: &export::Options,
) -> Result<()> {
    let zone = options.zone.name();
    let earlier = db.imported_in(fingerprint, &options.chat_jid)?;
    match earlier.iter().find(|(z, _)| z != zone) {
        Some((other, _)) if !options.reimport && !earlier.iter().any(|(z, _)| z == zone) => {
            Err(error::failure(
                Kind::Usage,
                format!(
                    "{shown} was imported into {} already, read in {other}; read in {zone} \
                     every message would be stored a second time at shifted times. Import it \
                     with --timezone {other} (nothing new is stored), or pass --reimport",
                    options.chat_jid
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// A `--me` that names nobody of the export marks nothing outbound: a typo, which
/// would store every line as someone else's. Refused, naming the close authors.
fn check_me(shown: &str, me: &str, authors: &BTreeSet<String>) -> Result<()> {
    if authors.is_empty() || authors.iter().any(|a| a.eq_ignore_ascii_case(me)) {
        return Ok(());
    }
    let mut close: Vec<(f64, &String)> = authors
        .iter()
        .map(|a| {
            (
                strsim::jaro_winkler(&a.to_lowercase(), &me.to_lowercase()),
                a,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0));
    let hint = match close.first() {
        Some((_, best)) => format!("did you mean {best:?}? "),
        None => String::new(),
    };
    let listed: Vec<String> = authors.iter().take(12).map(|a| format!("{a:?}")).collect();
    Err(error::failure(
        Kind::Usage,
        format!(
            "{shown}: --me {me:?} matches no author of this export; {hint}its authors: {}",
            listed.join(", ")
        ),
    ))
}

/// Writes an attached file into the media store under its SHA-256 and describes it
/// for its message's media row. Returns the row and the path recorded for it
/// (relative to the database's directory, as downloads record theirs).
fn keep(
    store: &MediaStore,
    file: &str,
    kind: export::Media,
    caption: &Option<String>,
    bytes: &[u8],
) -> Result<(Media, String)> {
    let sha256 = hex::encode(Sha256::digest(bytes));
    let mimetype = export::mimetype(file);
    let path: PathBuf = crate::media::keep(
        store.dir,
        bytes,
        Some(&sha256),
        Some(mimetype),
        store.max_bytes,
    )?;
    let stored_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let attachment = Media {
        kind: kind.media_type(),
        mimetype: Some(mimetype.to_string()),
        size_bytes: i64::try_from(bytes.len()).ok(),
        sha256: Some(sha256),
        caption: caption.clone(),
        file_name: Some(file.to_string()),
        download: None,
        remote: None,
        fetch: false,
        view_once: false,
    };
    Ok((attachment, format!("media/{stored_name}")))
}
