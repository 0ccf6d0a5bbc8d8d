//! Characters phones put into exports that a reader does not see: direction marks,
//! byte-order marks, exotic spaces and non-ASCII digits. Headers are matched on a
//! normalised copy; bodies keep their own digits.

/// Direction marks and byte-order marks: formatting only, never content. (Zero-width
/// joiners are kept: emoji sequences need them.)
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
    )
}

/// Whether `c` is a direction mark (what iOS writes before text WhatsApp wrote itself).
pub fn is_direction_mark(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}')
}

/// No-break and narrow spaces (iOS writes U+202F before AM/PM, NBSP inside phone numbers).
fn plain_space(c: char) -> char {
    match c {
        '\u{a0}' | '\u{202f}' | '\u{2007}' | '\u{2009}' | '\u{200a}' => ' ',
        other => other,
    }
}

/// Zero code points of the decimal digit blocks phones use in dates.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, // Arabic-Indic
    0x06f0, // Extended Arabic-Indic (Persian, Urdu)
    0x0966, // Devanagari
    0x09e6, // Bengali
    0x0a66, // Gurmukhi
    0x0ae6, // Gujarati
    0x0b66, // Oriya
    0x0be6, // Tamil
    0x0c66, // Telugu
    0x0ce6, // Kannada
    0x0d66, // Malayalam
    0x0e50, // Thai
    0x0ed0, // Lao
    0x1040, // Myanmar
    0x17e0, // Khmer
    0xff10, // Fullwidth
];

fn ascii_digit(c: char) -> Option<char> {
    let code = c as u32;
    DIGIT_ZEROS
        .iter()
        .find(|&&zero| (zero..zero + 10).contains(&code))
        .and_then(|zero| char::from_digit(code - zero, 10))
}

/// Text with invisible characters removed and exotic spaces made plain: how names and
/// message bodies are stored.
pub fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !is_invisible(*c))
        .map(plain_space)
        .collect()
}

/// A line as header patterns see it (ASCII digits, plain spaces and commas, no
/// invisible marks), with the way back to byte offsets in the original line.
pub struct Normalized {
    pub text: String,
    /// For each byte of `text` (and one past its end): the offset in the original.
    origin: Vec<usize>,
}

impl Normalized {
    pub fn new(raw: &str) -> Self {
        let mut text = String::with_capacity(raw.len());
        let mut origin = Vec::with_capacity(raw.len() + 1);
        for (offset, c) in raw.char_indices() {
            if is_invisible(c) {
                continue;
            }
            let c = match c {
                '\u{060c}' => ',', // Arabic comma
                c => ascii_digit(c).unwrap_or_else(|| plain_space(c)),
            };
            let before = text.len();
            text.push(c);
            origin.extend(std::iter::repeat_n(offset, text.len() - before));
        }
        origin.push(raw.len());
        Self { text, origin }
    }

    /// The offset in the original line of byte `at` of the normalised text.
    pub fn original_offset(&self, at: usize) -> usize {
        self.origin.get(at).copied().unwrap_or_default()
    }
}

/// Lines split at LF, CRLF or a lone CR (some exporters write old Mac line ends).
pub fn lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                out.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_digits_and_marks_normalise_with_offsets_back() {
        let raw = "[\u{0662}\u{0667}\u{200f}/\u{0663}\u{200f}/\u{0662}\u{0660}\u{0662}\u{0662}\u{060c} 9:41] x: \u{0661}";
        let n = Normalized::new(raw);
        assert_eq!(n.text, "[27/3/2022, 9:41] x: 1");
        let at = n.text.find("x:").unwrap();
        assert_eq!(&raw[n.original_offset(at)..], "x: \u{0661}");
        assert_eq!(n.original_offset(n.text.len()), raw.len());
    }

    #[test]
    fn every_line_ending_splits() {
        assert_eq!(lines("a\r\nb\rc\nd"), ["a", "b", "c", "d"]);
        assert_eq!(lines("a\n\n"), ["a", ""]);
        assert_eq!(clean("\u{feff}a\u{202f}b\u{200e}"), "a b");
    }
}
