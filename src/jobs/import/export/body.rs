//! What a message body is: text, an attachment or its placeholder, a deleted message,
//! or a notice WhatsApp wrote in someone's name. Phrases come from the locale table.

use std::sync::LazyLock;

use super::locale::{self, Media};
use super::text::{clean, is_direction_mark};
use crate::kind::MessageKind;

/// A classified body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// WhatsApp's own notice (encryption, security code): not a message.
    Notice,
    Message(Content),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The stored message type: text, image, video, audio, sticker, document, contact,
    /// media or revoked.
    pub kind: MessageKind,
    /// The stored text: the message, a caption, or `[kind] file` for a bare attachment.
    pub text: String,
    /// The attached file as the export names it, with its kind.
    pub attachment: Option<(String, Media)>,
    pub caption: Option<String>,
    /// The export marked the message as edited (the marker is not part of `text`).
    pub edited: bool,
    /// The text the message id is derived from: free of the whitespace and marks the
    /// stored text drops, so overlapping exports yield the same ids.
    pub identity: String,
}

/// Lower-cased phrases of every locale, built once.
struct Phrases {
    attached_tags: Vec<String>,
    file_attached: Vec<String>,
    media_omitted: Vec<String>,
    omitted: Vec<(String, Media)>,
    deleted: Vec<String>,
    edited: Vec<String>,
    notices: Vec<String>,
}

static PHRASES: LazyLock<Phrases> = LazyLock::new(|| {
    let lower = |words: &mut dyn Iterator<Item = &'static str>| -> Vec<String> {
        words.map(str::to_lowercase).collect()
    };
    Phrases {
        attached_tags: lower(&mut locale::all(|l| l.attached_tags)),
        file_attached: lower(&mut locale::all(|l| l.file_attached)),
        media_omitted: lower(&mut locale::all(|l| l.media_omitted)),
        omitted: locale::all(|l| l.omitted)
            .map(|(w, m)| (w.to_lowercase(), m))
            .collect(),
        deleted: lower(&mut locale::all(|l| l.deleted)),
        edited: lower(&mut locale::all(|l| l.edited)),
        notices: lower(&mut locale::all(|l| l.notices)),
    }
});

/// Trailing whitespace of every line, trailing blank lines and leading whitespace go:
/// phones add them, readers do not see them.
fn tidy(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').map(str::trim_end).collect();
    lines.join("\n").trim().to_string()
}

/// `<words>` or `‹words›` (Android writes either bracket), without the brackets.
fn bracketed(text: &str) -> Option<&str> {
    let inner = text.strip_prefix(['<', '‹', '«'])?;
    inner.strip_suffix(['>', '›', '»'])
}

fn is_one_of(text: &str, phrases: &[String]) -> bool {
    let text = text.trim().to_lowercase();
    phrases.contains(&text)
}

/// Classifies the body of a message line (continuation lines joined with `\n`).
/// `first` says whether this is the file's first header line.
pub fn classify(raw: &str, first: bool) -> Body {
    let cleaned = tidy(&clean(raw));
    let (cleaned, edited) = strip_edited(&cleaned);
    let lower = cleaned.to_lowercase();
    let written_by_whatsapp = raw.starts_with(is_direction_mark);
    if PHRASES
        .notices
        .iter()
        .any(|n| lower.starts_with(n.as_str()))
        || (first && written_by_whatsapp && locale::BRAND_NAMES.iter().any(|b| cleaned.contains(b)))
    {
        return Body::Notice;
    }
    let (head, caption) = match cleaned.split_once('\n') {
        Some((head, rest)) => (head.trim(), Some(rest.trim().to_string())),
        None => (cleaned.as_str(), None),
    };
    let caption = caption.filter(|c| !c.is_empty());
    let identity = cleaned.clone();
    let message = |kind: MessageKind, text: String, attachment: Option<(String, Media)>| {
        Body::Message(Content {
            kind,
            text,
            attachment,
            caption: caption.clone(),
            edited,
            identity: identity.clone(),
        })
    };
    if caption.is_none() && is_one_of(head.trim_end_matches('.'), &PHRASES.deleted) {
        return message(MessageKind::Revoked, String::new(), None);
    }
    let media = |kind: Media, file: Option<String>| {
        let text = match (&caption, &file) {
            (Some(caption), _) => caption.clone(),
            (None, Some(file)) => format!("[{}] {file}", kind.media_type()),
            (None, None) => format!("[{}]", kind.media_type()),
        };
        message(
            MessageKind::of_media(kind.media_type()),
            text,
            file.map(|f| (f, kind)),
        )
    };
    if bracketed(head).is_some_and(|inner| is_one_of(inner, &PHRASES.media_omitted)) {
        return media(Media::Unknown, None);
    }
    if let Some(file) = attached_tag(head) {
        return media(file_kind(&file), Some(file));
    }
    if let Some(file) = file_attached(head) {
        return media(file_kind(&file), Some(file));
    }
    if let Some((kind, file)) = omitted(raw, head) {
        return media(kind, file);
    }
    if caption.is_none()
        && let Some((_, shown)) = locale::MISSED_CALLS
            .iter()
            .find(|(call, _)| head.trim_end_matches('.').eq_ignore_ascii_case(call))
    {
        return message(MessageKind::Call, (*shown).to_string(), None);
    }
    let text = cleaned.clone();
    message(MessageKind::Text, text, None)
}

/// Whether a line is an event iOS writes under a person's (or the group's) name: a
/// group created, someone added or removed, a security code changed. Such a body
/// starts with the left-to-right mark iOS puts before its own lines; typed messages can
/// start with one too (copied text, some keyboards), so the words must be an event's
/// too: its subject is the line's author or "you", or it is one of the fixed notices.
pub fn is_marked_event(raw: &str, author: &str) -> bool {
    if !raw.trim_start_matches(' ').starts_with('\u{200e}') {
        return false;
    }
    let lower = tidy(&clean(raw)).to_lowercase();
    if locale::MARKED_NOTICES.iter().any(|n| lower.contains(n)) {
        return true;
    }
    let author = clean(author).trim().to_lowercase();
    let by_subject = |subject: &str| {
        lower
            .strip_prefix(subject)
            .is_some_and(|rest| locale::EVENT_VERBS.iter().any(|v| rest.starts_with(v)))
    };
    (!author.is_empty() && by_subject(&author)) || by_subject("you") || by_subject("du")
}

/// Removes a trailing `<This message was edited>` marker.
fn strip_edited(text: &str) -> (String, bool) {
    if let Some(start) = text.rfind(['<', '‹'])
        && let Some(inner) = bracketed(text[start..].trim_end())
        && is_one_of(inner.trim_end_matches('.'), &PHRASES.edited)
    {
        return (text[..start].trim_end().to_string(), true);
    }
    (text.to_string(), false)
}

/// iOS `<attached: 00000035-PHOTO-2022-03-27.jpg>` (after an optional display name),
/// or older iOS `3.jpg <bijgevoegd>` with the file's name first.
fn attached_tag(head: &str) -> Option<String> {
    let start = head.rfind('<')?;
    let inner = head[start..].strip_prefix('<')?.strip_suffix('>')?;
    match inner.split_once(':') {
        Some((tag, file)) => (is_one_of(tag, &PHRASES.attached_tags) && !file.trim().is_empty())
            .then(|| file.trim().to_string()),
        None => {
            let file = head[..start].trim();
            (is_one_of(inner, &PHRASES.attached_tags) && !file.is_empty()).then(|| file.to_string())
        }
    }
}

/// Android `IMG-20220323-WA0002.jpg (file attached)`.
fn file_attached(head: &str) -> Option<String> {
    let (file, note) = head.strip_suffix(')')?.rsplit_once(" (")?;
    (is_one_of(note, &PHRASES.file_attached) && !file.trim().is_empty())
        .then(|| file.trim().to_string())
}

/// iOS `image omitted`, or `Template.docx ‎document omitted` with the file's name
/// first. The named form needs the direction mark iOS writes before the phrase, so a
/// sentence that merely ends in those words stays text.
fn omitted(raw: &str, head: &str) -> Option<(Media, Option<String>)> {
    let lower = head.to_lowercase();
    let raw_lower = raw.to_lowercase();
    for (phrase, kind) in &PHRASES.omitted {
        if lower == *phrase {
            return Some((*kind, None));
        }
        let marked = ['\u{200e}', '\u{200f}']
            .iter()
            .any(|m| raw_lower.contains(&format!("{m}{phrase}")));
        if marked && lower.ends_with(&format!(" {phrase}")) {
            let keep = head.chars().count() - phrase.chars().count();
            let name: String = head.chars().take(keep).collect();
            // `Resume.pdf • 2 pages`: the page count is not part of the name.
            let name = name.split(" • ").next().unwrap_or_default().trim();
            return Some((*kind, (!name.is_empty()).then(|| name.to_string())));
        }
    }
    None
}

/// The kind of an attached file, from WhatsApp's own name prefixes or the extension.
pub fn file_kind(file: &str) -> Media {
    let upper = file.to_ascii_uppercase();
    // iOS numbers attachments: `00000035-PHOTO-…`.
    let name = upper
        .split_once('-')
        .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .map_or(upper.as_str(), |(_, rest)| rest);
    let prefixes: [(&str, Media); 9] = [
        ("PTT-", Media::Audio),
        ("AUD-", Media::Audio),
        ("AUDIO-", Media::Audio),
        ("STK-", Media::Sticker),
        ("STICKER-", Media::Sticker),
        ("IMG-", Media::Image),
        ("PHOTO-", Media::Image),
        ("VID-", Media::Video),
        ("GIF-", Media::Gif),
    ];
    if let Some((_, kind)) = prefixes.iter().find(|(p, _)| name.starts_with(p)) {
        return *kind;
    }
    if name.starts_with("VIDEO-") {
        return Media::Video;
    }
    match name.rsplit('.').next().unwrap_or_default() {
        "JPG" | "JPEG" | "PNG" | "HEIC" | "WEBP" => Media::Image,
        "MP4" | "MOV" | "3GP" => Media::Video,
        "GIF" => Media::Gif,
        "OPUS" | "OGG" | "M4A" | "MP3" | "AAC" | "AMR" | "WAV" => Media::Audio,
        "VCF" => Media::Contact,
        _ => Media::Document,
    }
}

/// The MIME type the media store records for an attached file.
pub fn mimetype(file: &str) -> &'static str {
    let ext = file
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "3gp" => "video/3gpp",
        "opus" | "ogg" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        // Raw ADTS, not an MP4 container: a transcription endpoint that takes the
        // extension at its word must not be told otherwise.
        "aac" => "audio/aac",
        "wav" => "audio/wav",
        "amr" => "audio/amr",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "vcf" => "text/vcard",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(raw: &str) -> Content {
        match classify(raw, false) {
            Body::Message(c) => c,
            Body::Notice => panic!("{raw:?} read as a notice"),
        }
    }

    #[test]
    fn placeholders_in_other_languages() {
        for (raw, kind) in [
            ("‹Без медиафайлов>", "media"),
            ("<Media weggelaten>", "media"),
            ("<Multimedia omitido>", "media"),
            ("‹Mídia oculta>", "media"),
            ("<Media omessi>", "media"),
            ("<Medya dahil edilmedi>", "media"),
            ("<Media tidak disertakan>", "media"),
            ("\u{200e}Bild weggelassen", "image"),
            ("imagen omitida", "image"),
            ("Dit bericht is verwijderd", "revoked"),
            ("\u{200e}Данное сообщение удалено.", "revoked"),
        ] {
            assert_eq!(content(raw).kind.as_str(), kind, "{raw:?}");
        }
    }

    #[test]
    fn attachments_by_file_name() {
        let c = content("IMG-20220323-WA0002.jpg (file attached)\nTitle");
        assert_eq!((c.kind.as_str(), c.text.as_str()), ("image", "Title"));
        assert_eq!(c.attachment.unwrap().0, "IMG-20220323-WA0002.jpg");
        let c = content("Template.docx \u{200e}<attached: 00000048-Template.docx>");
        assert_eq!(c.attachment.unwrap().0, "00000048-Template.docx");
        let c = content("Template.docx \u{200e}document omitted");
        assert_eq!(
            (c.kind.as_str(), c.text.as_str()),
            ("document", "[document] Template.docx")
        );
        let c = content("Notes.pdf \u{2022} \u{200e}2 pages \u{200e}document omitted");
        assert_eq!(c.attachment.unwrap().0, "Notes.pdf");
        let c = content("<Media omitted>\nlook at this");
        assert_eq!(
            (c.kind.as_str(), c.text.as_str()),
            ("media", "look at this")
        );
        assert_eq!(
            content("I think the image omitted").kind,
            MessageKind::Text,
            "no mark, no placeholder"
        );
    }

    #[test]
    fn edited_markers_leave_clean_text() {
        let c = content("see you at 8 <This message was edited>");
        assert_eq!((c.text.as_str(), c.edited), ("see you at 8", true));
        let c = content("plain");
        assert!(!c.edited);
    }

    #[test]
    fn notices_are_not_messages() {
        assert_eq!(
            classify(
                "Messages and calls are end-to-end encrypted. Tap to learn more.",
                false
            ),
            Body::Notice
        );
        assert_eq!(
            classify(
                "\u{200e}Viestejä ei voi lukea kukaan, ei edes WhatsApp.",
                true
            ),
            Body::Notice,
            "an unknown language's first line naming WhatsApp"
        );
        assert_eq!(
            content("\u{200e}Location: https://maps.google.com/?q=1,2").kind,
            MessageKind::Text
        );
    }
}
