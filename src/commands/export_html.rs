//! `wabot export --format html`: one self-contained page a person opens and reads like
//! WhatsApp: bubbles left and right, authors, a line per day, quoted replies linked to
//! what they quote, images and voice notes inline from the media store, transcripts,
//! edits and deletions marked, and a search box. Nothing is fetched from anywhere: the
//! styles, the script and the media are in the file. Every text is escaped: what people
//! wrote is data, never markup.

use std::collections::HashMap;
use std::io::Write;

use anyhow::Result;
use base64::Engine;
use chrono::TimeZone;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::db::{MessageMedia, MessageRow};

/// Files larger than this are linked by name instead of inlined: a page of a few
/// hundred megabytes opens in no browser.
const INLINE_MAX_BYTES: u64 = 8 * 1024 * 1024;

const STYLE: &str = r#"
body{margin:0;font:15px/1.4 system-ui,"Noto Sans","Noto Color Emoji",sans-serif;background:#efeae2;color:#111}
header{position:sticky;top:0;background:#075e54;color:#fff;padding:10px 16px;display:flex;gap:12px;align-items:center;z-index:1}
header h1{font-size:17px;margin:0;flex:1}
header input{font:inherit;padding:4px 8px;border-radius:6px;border:0;width:14em}
main{max-width:820px;margin:0 auto;padding:12px}
section{content-visibility:auto;contain-intrinsic-size:auto 600px}
.day{text-align:center;margin:14px 0 8px}
.day span{background:#e1f2fb;border-radius:8px;padding:3px 10px;font-size:13px}
.msg{max-width:72%;margin:3px 0;padding:6px 9px 4px;border-radius:8px;background:#fff;box-shadow:0 1px .5px #0002;clear:both;overflow-wrap:anywhere}
.in{float:left}.out{float:right;background:#d9fdd3}
.row::after{content:"";display:block;clear:both}
.author{font-weight:600;font-size:13px;color:#1f7aa8}
.text{white-space:pre-wrap}
.quote{display:block;border-left:3px solid #06cf9c;background:#0000000d;padding:3px 6px;margin-bottom:4px;border-radius:4px;color:#444;font-size:13px;text-decoration:none}
.meta{font-size:11px;color:#667;text-align:right}
.deleted{font-style:italic;color:#667}
.transcript{font-size:13px;color:#444;border-top:1px dashed #ccc;margin-top:4px;padding-top:2px}
img{max-width:100%;border-radius:6px;display:block;margin:2px 0}
audio{max-width:100%}
.hidden{display:none}
mark{background:#ffe08a}
.chats{list-style:none;padding:0}.chats li{background:#fff;margin:4px 0;padding:10px 12px;border-radius:8px}
"#;

/// The search box: hides the messages without the words typed, marks the rest.
/// `#search=words` in the address does the same on load.
const SCRIPT: &str = r#"
const box=document.getElementById('search');
function filter(q){q=q.trim().toLowerCase();for(const m of document.querySelectorAll('.row')){
m.classList.toggle('hidden',q!==''&&!m.textContent.toLowerCase().includes(q));}
for(const s of document.querySelectorAll('section')){
s.classList.toggle('hidden',q!==''&&!s.querySelector('.row:not(.hidden)'));}}
box.addEventListener('input',()=>filter(box.value));
const h=decodeURIComponent(location.hash.replace(/^#search=/,''));
if(location.hash.startsWith('#search=')){box.value=h;filter(h);}
"#;

pub struct Page<'a> {
    pub title: &'a str,
    pub tz: chrono_tz::Tz,
    pub rows: &'a [MessageRow],
    pub authors: &'a [String],
    /// Message id → its file and transcript.
    pub media: &'a HashMap<String, MessageMedia>,
    /// The directory media paths are relative to.
    pub store_dir: &'a std::path::Path,
}

impl Page<'_> {
    pub fn write(&self, out: &mut dyn Write) -> Result<()> {
        let title = escape(self.title);
        head(
            out,
            &title,
            &format!(
                "<h1>{title} · {} messages</h1>\
                 <input id=\"search\" type=\"search\" placeholder=\"Search\" aria-label=\"Search\">",
                self.rows.len()
            ),
        )?;
        let by_id: HashMap<&str, (&MessageRow, &str)> = self
            .rows
            .iter()
            .zip(self.authors)
            .map(|(r, a)| (r.id.as_str(), (r, a.as_str())))
            .collect();
        let mut day = None;
        for (row, author) in self.rows.iter().zip(self.authors) {
            let Some(at) = self.tz.timestamp_millis_opt(row.timestamp).single() else {
                continue;
            };
            if day != Some(at.date_naive()) {
                if day.is_some() {
                    write!(out, "</section>")?;
                }
                day = Some(at.date_naive());
                write!(
                    out,
                    "<section><div class=\"day\"><span>{}</span></div>",
                    at.format("%A, %-d %B %Y")
                )?;
            }
            self.message(out, row, author, &at.format("%H:%M").to_string(), &by_id)?;
        }
        if day.is_some() {
            write!(out, "</section>")?;
        }
        writeln!(out, "</main><script>{SCRIPT}</script></body></html>")?;
        Ok(())
    }

    fn message(
        &self,
        out: &mut dyn Write,
        row: &MessageRow,
        author: &str,
        time: &str,
        by_id: &HashMap<&str, (&MessageRow, &str)>,
    ) -> Result<()> {
        let side = if row.is_from_me { "out" } else { "in" };
        write!(
            out,
            "<div class=\"row\"><div class=\"msg {side}\" id=\"m-{}\"><div class=\"author\" dir=\"auto\">{}</div>",
            escape(&row.id),
            escape(author)
        )?;
        if let Some(quoted) = &row.quoted_id {
            let said = match by_id.get(quoted.as_str()) {
                Some((q, who)) => format!("↪ {who}: {}", short(&q.content)),
                None => "↪ a message not in this export".into(),
            };
            write!(
                out,
                "<a class=\"quote\" href=\"#m-{}\" dir=\"auto\">{}</a>",
                escape(quoted),
                escape(&said)
            )?;
        }
        if row.revoked_at.is_some() {
            write!(
                out,
                "<div class=\"text deleted\">This message was deleted</div>"
            )?;
        } else {
            if let Some(media) = self.media.get(&row.id) {
                self.attachment(out, media)?;
            }
            write!(
                out,
                "<div class=\"text\" dir=\"auto\">{}</div>",
                escape(&row.content)
            )?;
            if let Some(said) = self
                .media
                .get(&row.id)
                .and_then(|m| m.transcript.as_deref())
            {
                write!(
                    out,
                    "<div class=\"transcript\" dir=\"auto\">🎤 {}</div>",
                    escape(said)
                )?;
            }
        }
        let edited = if row.edited_at.is_some() {
            "edited · "
        } else {
            ""
        };
        write!(out, "<div class=\"meta\">{edited}{time}</div></div></div>")?;
        Ok(())
    }

    /// An image or a voice note inline as a `data:` URI; other files by name.
    fn attachment(&self, out: &mut dyn Write, media: &MessageMedia) -> Result<()> {
        let file = &media.file;
        let Some(path) = file.local_path.as_deref().map(|p| self.store_dir.join(p)) else {
            return Ok(());
        };
        let small = std::fs::metadata(&path).is_ok_and(|m| m.len() <= INLINE_MAX_BYTES);
        let mime = file
            .mimetype
            .as_deref()
            .unwrap_or("application/octet-stream");
        let mime = mime.split(';').next().unwrap_or(mime).trim();
        let tag = match file.media_type.as_str() {
            "image" | "sticker" => "img",
            "audio" => "audio",
            "video" => "video",
            _ => "",
        };
        match std::fs::read(&path) {
            Ok(bytes) if small && !tag.is_empty() => {
                let uri = format!(
                    "data:{};base64,{}",
                    escape(mime),
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                );
                match tag {
                    "img" => write!(out, "<img alt=\"\" src=\"{uri}\">")?,
                    other => write!(out, "<{other} controls src=\"{uri}\"></{other}>")?,
                }
            }
            _ => {
                let name = file
                    .file_name
                    .as_deref()
                    .unwrap_or(file.media_type.as_str());
                write!(out, "<div class=\"meta\">📎 {}</div>", escape(name))?;
            }
        }
        Ok(())
    }
}

/// A page's start up to its `<main>`: the styles, and `header` (markup) on top.
fn head(out: &mut dyn Write, title: &str, header: &str) -> Result<()> {
    write!(
        out,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\
         <header>{header}</header><main>"
    )?;
    Ok(())
}

/// `export --all --format html`: the page linking each chat's page, with its count.
pub fn index(out: &mut dyn Write, chats: &[(String, String, usize)]) -> Result<()> {
    head(out, "Chats", &format!("<h1>{} chats</h1>", chats.len()))?;
    write!(out, "<ul class=\"chats\">")?;
    for (name, file, messages) in chats {
        write!(
            out,
            "<li><a href=\"{}\" dir=\"auto\">{}</a> <span class=\"meta\">{messages} messages</span></li>",
            escape(&percent_encode(file)),
            escape(name)
        )?;
    }
    writeln!(out, "</ul></main></body></html>")?;
    Ok(())
}

/// A file name as a relative URL: all but unreserved ASCII percent-encoded (names
/// hold spaces, `#`, `?` and every script).
fn percent_encode(name: &str) -> String {
    const PATH: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(name, PATH).to_string()
}

/// A quoted message's start, on one line.
fn short(text: &str) -> String {
    const QUOTE: usize = 80;
    let line = text.replace('\n', " ");
    match line.char_indices().nth(QUOTE) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// Text as HTML text or attribute: the five characters that could end one.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_people_wrote_never_becomes_markup() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(short(&"a".repeat(100)).chars().count(), 81);
        assert_eq!(short("two\nlines"), "two lines");
        assert_eq!(
            percent_encode("שלום-1.html"),
            "%D7%A9%D7%9C%D7%95%D7%9D-1.html"
        );
        assert_eq!(percent_encode("a b#?.html"), "a%20b%23%3F.html");
    }
}
