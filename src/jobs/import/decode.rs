//! Bytes of a text file to text, saying when that took a guess: UTF-8 (with or without
//! a BOM), UTF-16 (with a BOM, or recognised by its zero bytes), and otherwise
//! Windows-1252, the superset of Latin-1 that older exports and editors write.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decoded {
    #[serde(skip)]
    pub text: String,
    /// The encoding the text was read as.
    pub encoding: &'static str,
    /// The encoding was inferred, not declared or proven (no BOM; not valid UTF-8).
    pub encoding_guessed: bool,
    /// Byte sequences that were not text in that encoding, each now U+FFFD.
    pub replaced: usize,
}

impl Decoded {
    /// Whether a person should check the imported text: read by a guess or with losses.
    pub fn lossy(&self) -> bool {
        self.replaced > 0 || (self.encoding_guessed && self.encoding != "UTF-8")
    }
}

/// How much of the start is inspected to tell text from binary data.
const SNIFF: usize = 64 * 1024;

pub fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err("the file is empty".to_string());
    }
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom..]);
        return checked(text.into_owned(), encoding.name(), false);
    }
    if let Some(encoding) = utf16_without_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(bytes);
        return checked(text.into_owned(), encoding.name(), true);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return checked(text.to_string(), "UTF-8", false);
    }
    let head = &bytes[..bytes.len().min(SNIFF)];
    let controls = head.iter().filter(|&&b| is_control(b)).count();
    if head.contains(&0) || controls * 20 > head.len() {
        return Err(format!(
            "this is not text: {controls} control bytes in the first {} bytes (binary data?)",
            head.len()
        ));
    }
    let (valid, invalid) = utf8_sequences(bytes);
    if valid >= invalid.saturating_mul(4) && valid > 0 {
        // Mostly UTF-8 with a few damaged bytes: keep it, and say how many were lost.
        let text = String::from_utf8_lossy(bytes).into_owned();
        return checked(text, "UTF-8", true);
    }
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
    checked(text.into_owned(), "windows-1252", true)
}

fn is_control(b: u8) -> bool {
    (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c)) || b == 0x7f
}

fn checked(text: String, encoding: &'static str, guessed: bool) -> Result<Decoded, String> {
    let sample: Vec<char> = text.chars().take(SNIFF).collect();
    let controls = sample
        .iter()
        .filter(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
        .count();
    if controls * 20 > sample.len() {
        return Err(format!(
            "this is not text: read as {encoding}, {controls} of the first {} characters are control characters",
            sample.len()
        ));
    }
    Ok(Decoded {
        replaced: text
            .chars()
            .filter(|c| *c == char::REPLACEMENT_CHARACTER)
            .count(),
        text,
        encoding,
        encoding_guessed: guessed,
    })
}

/// UTF-16 without a BOM: text in Latin or Cyrillic script has a zero byte in almost
/// every other position.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = &bytes[..bytes.len().min(SNIFF) & !1];
    let pairs = head.len() / 2;
    if pairs < 2 {
        return None;
    }
    let zeros_at = |parity: usize| {
        head.iter()
            .skip(parity)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let (even, odd) = (zeros_at(0), zeros_at(1));
    if odd * 10 > pairs * 4 && even * 20 < pairs {
        Some(encoding_rs::UTF_16LE)
    } else if even * 10 > pairs * 4 && odd * 20 < pairs {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// Counts well-formed multi-byte UTF-8 sequences and malformed ones.
fn utf8_sequences(mut bytes: &[u8]) -> (usize, usize) {
    let (mut valid, mut invalid) = (0, 0);
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                valid += text.chars().filter(|c| !c.is_ascii()).count();
                return (valid, invalid);
            }
            Err(err) => {
                let (good, rest) = bytes.split_at(err.valid_up_to());
                valid += std::str::from_utf8(good)
                    .map_or(0, |t| t.chars().filter(|c| !c.is_ascii()).count());
                invalid += 1;
                match err.error_len() {
                    Some(len) => bytes = &rest[len..],
                    None => return (valid, invalid),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_with_a_bom_and_without() {
        let mut bytes = vec![0xff, 0xfe];
        for unit in "1/5/24, 9:03 - A: hé".encode_utf16() {
            bytes.extend(unit.to_le_bytes());
        }
        let d = decode(&bytes).unwrap();
        assert_eq!(
            (d.text.as_str(), d.encoding, d.encoding_guessed),
            ("1/5/24, 9:03 - A: hé", "UTF-16LE", false)
        );
        let d = decode(&bytes[2..]).unwrap();
        assert_eq!((d.encoding, d.encoding_guessed), ("UTF-16LE", true));
    }

    #[test]
    fn latin1_is_a_reported_guess_and_binary_is_refused() {
        let d = decode(b"1/5/24, 9:03 - Ren\xe9: caf\xe9").unwrap();
        assert_eq!(d.text, "1/5/24, 9:03 - René: café");
        assert!(d.lossy() && d.encoding == "windows-1252");
        let err = decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00").unwrap_err();
        assert!(err.contains("not text"), "{err}");
        assert!(decode(b"  \n").unwrap_err().contains("empty"));
        let d = decode("caf\u{e9} na\u{ef}ve \u{fc}ber".as_bytes()).unwrap();
        assert!(!d.lossy());
    }
}
