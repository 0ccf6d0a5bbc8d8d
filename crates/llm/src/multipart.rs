//! A `multipart/form-data` body (RFC 7578) built in memory: ureq 3 keeps its own
//! multipart support outside its stable API, and a voice note is small.

/// Parts in order; the body and its boundary are made by [`Form::finish`].
#[derive(Default)]
pub struct Form {
    parts: Vec<Part>,
}

struct Part {
    name: String,
    file: Option<(String, String)>,
    bytes: Vec<u8>,
}

impl Form {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.parts.push(Part {
            name: name.into(),
            file: None,
            bytes: value.as_bytes().to_vec(),
        });
        self
    }

    pub fn file(mut self, name: &str, file_name: &str, content_type: &str, bytes: &[u8]) -> Self {
        self.parts.push(Part {
            name: name.into(),
            file: Some((file_name.into(), content_type.into())),
            bytes: bytes.to_vec(),
        });
        self
    }

    /// The `Content-Type` header value and the body. The boundary is random and checked
    /// to occur in no part, so no content can end a part early.
    pub fn finish(self) -> (String, Vec<u8>) {
        let boundary = loop {
            let candidate = format!("wabot-{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
            let needle = candidate.as_bytes();
            let clash = self
                .parts
                .iter()
                .any(|p| p.bytes.windows(needle.len()).any(|w| w == needle));
            if !clash {
                break candidate;
            }
        };
        let mut body = Vec::new();
        for part in &self.parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let mut disposition = format!("form-data; name=\"{}\"", quoted(&part.name));
            if let Some((file_name, _)) = &part.file {
                disposition.push_str(&format!("; filename=\"{}\"", quoted(file_name)));
            }
            body.extend_from_slice(format!("Content-Disposition: {disposition}\r\n").as_bytes());
            if let Some((_, content_type)) = &part.file {
                body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(&part.bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
    }
}

/// A name inside a quoted header parameter, escaped as browsers do (HTML's form
/// encoding): quotes and line breaks would otherwise end the header.
fn quoted(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_framed_by_the_boundary_in_order() {
        let (content_type, body) = Form::new()
            .text("model", "whisper-1")
            .file("file", "voice.ogg", "audio/ogg", b"OggS\x00\x02")
            .finish();
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let expected = [
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n").into_bytes(),
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"voice.ogg\"\r\nContent-Type: audio/ogg\r\n\r\n").into_bytes(),
            b"OggS\x00\x02\r\n".to_vec(),
            format!("--{boundary}--\r\n").into_bytes(),
        ]
        .concat();
        assert_eq!(body, expected);
    }

    #[test]
    fn names_cannot_break_the_header_and_content_cannot_hold_the_boundary() {
        let (_, body) = Form::new()
            .file("file", "a\"b\r\nc.ogg", "audio/ogg", b"x")
            .finish();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("filename=\"a%22b%0D%0Ac.ogg\""), "{text}");
        for _ in 0..20 {
            let (content_type, body) = Form::new().text("a", "--wabot-").finish();
            let boundary = content_type.rsplit('=').next().unwrap();
            let count = String::from_utf8_lossy(&body).matches(boundary).count();
            assert_eq!(count, 2, "one opening and one closing delimiter");
        }
    }
}
