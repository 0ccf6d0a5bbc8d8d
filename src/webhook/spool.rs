//! Requests the server verified but could not store because the database took no
//! writes in time (a `restore`, a migration, another long writer). They are kept on
//! disk (0600, fsynced) and answered 200, then stored by the listener once the database
//! takes writes again. Twilio does not deliver a message again after a 500 unless told
//! to: what was acknowledged, or could have been, must not depend on that.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::Headers;
use crate::{clock, files};

/// What a request needs to be read again: its URL (signatures cover it), its headers
/// and its body, exactly as they came.
#[derive(Serialize, Deserialize)]
struct Spooled {
    url: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// The spool beside the database.
pub fn dir(database: &Path) -> PathBuf {
    database.with_file_name("webhook-spool")
}

/// Keeps one request; it is on disk when this returns.
pub fn keep(dir: &Path, url: &str, headers: &Headers, body: &[u8]) -> Result<PathBuf> {
    files::create_private_dir(dir)?;
    let record = Spooled {
        url: url.to_string(),
        headers: headers.0.clone(),
        body: base64::engine::general_purpose::STANDARD.encode(body),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".incoming-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    file.write_all(&serde_json::to_vec(&record)?)?;
    file.as_file().sync_all()?;
    let path = dir.join(format!(
        "{}-{:08x}.json",
        clock::now_ms(),
        fastrand::u32(..)
    ));
    file.persist(&path)?;
    fs::File::open(dir)?.sync_all()?;
    Ok(path)
}

/// Hands every kept request to `store`, oldest first, and removes each it stored. A
/// request `store` refuses now (`Some(why)`: the secrets changed since) is renamed
/// `.refused` and kept for a person; a failure to store stops the round, to be tried
/// again.
pub fn replay(
    dir: &Path,
    mut store: impl FnMut(&str, &Headers, &[u8]) -> Result<Option<String>>,
) -> Result<usize> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut kept: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    kept.sort();
    let mut stored = 0;
    for path in kept {
        let text = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let record: Spooled =
            serde_json::from_slice(&text).with_context(|| format!("reading {}", path.display()))?;
        let body = base64::engine::general_purpose::STANDARD
            .decode(&record.body)
            .with_context(|| format!("reading the body in {}", path.display()))?;
        match store(&record.url, &Headers(record.headers), &body)? {
            None => {
                fs::remove_file(&path)?;
                stored += 1;
            }
            Some(refusal) => {
                log::error!(
                    "a spooled webhook ({}) is refused now: {refusal}; kept as .refused",
                    path.display()
                );
                fs::rename(&path, path.with_extension("refused"))?;
            }
        }
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_request_comes_back_byte_for_byte_once_stored() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("webhook-spool");
        let headers = Headers(vec![("X-Twilio-Signature".into(), "abc=".into())]);
        let body = b"Body=caf\xc3\xa9&From=whatsapp%3A%2B1555";
        keep(&spool, "/hooks/whatsapp?x=1", &headers, body).unwrap();
        let mut seen = Vec::new();
        let failing = replay(&spool, |_, _, _| anyhow::bail!("database busy"));
        assert!(failing.is_err(), "a failed store keeps the request");
        let n = replay(&spool, |url, h, b| {
            seen.push((
                url.to_string(),
                h.get("x-twilio-signature").map(str::to_string),
                b.to_vec(),
            ));
            Ok(None)
        })
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            seen,
            [(
                "/hooks/whatsapp?x=1".to_string(),
                Some("abc=".to_string()),
                body.to_vec()
            )]
        );
        assert_eq!(
            replay(&spool, |_, _, _| unreachable!()).unwrap(),
            0,
            "stored once"
        );
    }

    #[test]
    fn a_request_refused_on_replay_is_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("webhook-spool");
        keep(&spool, "/h", &Headers(vec![]), b"x").unwrap();
        let n = replay(&spool, |_, _, _| Ok(Some("signature".into()))).unwrap();
        assert_eq!(n, 0);
        let names: Vec<_> = fs::read_dir(&spool)
            .unwrap()
            .map(|e| e.unwrap().path().extension().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["refused"]);
    }
}
