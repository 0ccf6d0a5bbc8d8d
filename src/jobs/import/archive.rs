//! A chat export as the phone shares it: a zip with the chat's text (iOS `_chat.txt`,
//! Android `WhatsApp Chat with X.txt`) and the attached files beside it.

use std::collections::HashMap;
use std::io::{Read, Seek};

use zip::ZipArchive;

/// The chat text is read whole; anything larger is not a chat export.
const MAX_CHAT_BYTES: u64 = 1 << 30;

pub struct Archive<R> {
    zip: ZipArchive<R>,
    /// The chat text's name inside the zip.
    pub chat_name: String,
    /// Attached files by base name (how the chat text names them) → entry index.
    files: HashMap<String, usize>,
}

/// Whether `head` starts like a zip file.
pub fn is_zip(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")
}

fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

impl<R: Read + Seek> Archive<R> {
    /// Opens the zip and reads its chat text.
    pub fn open(reader: R) -> Result<(Self, Vec<u8>), String> {
        let mut zip = ZipArchive::new(reader).map_err(|e| format!("not a readable zip: {e}"))?;
        let mut texts = Vec::new();
        let mut files = HashMap::new();
        let mut all = Vec::new();
        for index in 0..zip.len() {
            let Ok(entry) = zip.by_index_raw(index) else {
                continue;
            };
            // A name that is not UTF-8 cannot be one the chat text refers to.
            let Ok(name) = entry.name().map(|n| n.into_owned()) else {
                continue;
            };
            // macOS adds resource forks that are not part of the export.
            if entry.is_dir() || name.starts_with("__MACOSX/") {
                continue;
            }
            all.push(name.clone());
            if name.to_ascii_lowercase().ends_with(".txt") {
                texts.push((index, name.clone()));
            }
            files.insert(base_name(&name).to_string(), index);
        }
        let chat = choose_chat(&texts).ok_or_else(|| {
            let shown: Vec<&str> = all.iter().take(10).map(String::as_str).collect();
            if texts.is_empty() {
                format!(
                    "no chat text (.txt) in the zip; it holds {}",
                    if shown.is_empty() {
                        "nothing".to_string()
                    } else {
                        shown.join(", ")
                    }
                )
            } else {
                let names: Vec<&str> = texts.iter().map(|(_, n)| n.as_str()).collect();
                format!(
                    "the zip holds several text files and none is named like a chat export \
                     (_chat.txt, WhatsApp Chat …): {}",
                    names.join(", ")
                )
            }
        })?;
        let (index, chat_name) = chat.clone();
        files.retain(|_, i| *i != index);
        let mut entry = zip
            .by_index(index)
            .map_err(|e| format!("{chat_name} in the zip: {e}"))?;
        let mut bytes = Vec::new();
        entry
            .by_ref()
            .take(MAX_CHAT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("reading {chat_name} from the zip: {e}"))?;
        if bytes.len() as u64 > MAX_CHAT_BYTES {
            return Err(format!("{chat_name} in the zip is larger than 1 GiB"));
        }
        drop(entry);
        Ok((
            Self {
                zip,
                chat_name,
                files,
            },
            bytes,
        ))
    }

    /// The bytes of an attached file named by the chat, `None` when the zip lacks it.
    /// A file larger than `max_bytes` is an error that says so.
    pub fn file(&mut self, name: &str, max_bytes: u64) -> Option<Result<Vec<u8>, String>> {
        let index = *self.files.get(base_name(name))?;
        let mut read = || -> Result<Vec<u8>, String> {
            let mut entry = self
                .zip
                .by_index(index)
                .map_err(|e| format!("{name} in the zip: {e}"))?;
            if entry.size() > max_bytes {
                return Err(format!(
                    "{name}: {} bytes is more than media.max_bytes ({max_bytes})",
                    entry.size()
                ));
            }
            let mut bytes = Vec::new();
            entry
                .by_ref()
                .take(max_bytes + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("reading {name} from the zip: {e}"))?;
            if bytes.len() as u64 > max_bytes {
                return Err(format!(
                    "{name} is larger than media.max_bytes ({max_bytes})"
                ));
            }
            Ok(bytes)
        };
        Some(read())
    }
}

/// iOS names the text `_chat.txt`; Android names it like the zip (`WhatsApp Chat with
/// X.txt`); a zip with one text file holds the chat in it whatever its name.
fn choose_chat(texts: &[(usize, String)]) -> Option<&(usize, String)> {
    texts
        .iter()
        .find(|(_, n)| base_name(n) == "_chat.txt")
        .or_else(|| (texts.len() == 1).then(|| &texts[0]))
        .or_else(|| {
            let mut named = texts
                .iter()
                .filter(|(_, n)| base_name(n).to_lowercase().starts_with("whatsapp chat"));
            let first = named.next();
            named.next().is_none().then_some(first).flatten()
        })
}
