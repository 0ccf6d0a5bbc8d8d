//! The line headers that start a message: where the date and time sit, and what
//! surrounds them. Layouts are data, templates over shared date and time patterns;
//! each file is read with the one layout that fits most of its lines, so a text line
//! that merely looks like another layout's header stays text.

use std::sync::LazyLock;

use regex::Regex;

use super::locale::{self, Period};
use super::text::Normalized;

/// A header layout: `{date}`, `{time}` and `{connect}` stand for the shared patterns;
/// the message (or system text) follows the match.
pub struct Layout {
    pub name: &'static str,
    pattern: &'static str,
}

/// Most specific first: on a tie in matching lines the earlier layout wins.
pub const LAYOUTS: &[Layout] = &[
    Layout {
        // iOS: [27/03/2022, 21:41:35] Name: text
        name: "ios",
        pattern: r"\[{date}{connect}{time}\]\s*",
    },
    Layout {
        // iOS in Vietnamese and others: [21:41:35, 27/03/2022] Name: text
        name: "ios-time-first",
        pattern: r"\[{time}{connect}{date}\]\s*",
    },
    Layout {
        // Android: 27/03/2022, 21:41 - Name: text
        name: "android",
        pattern: r"{date}{connect}{time}\s*[-–]\s?",
    },
    Layout {
        name: "android-time-first",
        pattern: r"{time}{connect}{date}\s*[-–]\s?",
    },
    Layout {
        // Old iOS: 7/1/16, 5:13:36 PM: Name: text
        name: "old-ios",
        pattern: r"{date}{connect}{time}:\s",
    },
    Layout {
        // No separator at all: 13. 6. 2018. 21:25:15 Name: text
        name: "bare",
        pattern: r"{date}{connect}{time}\s",
    },
];

/// The date and time of a header as written (normalised digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The three date fields in written order; a field may carry an era letter (`R4`).
    pub fields: [String; 3],
    /// The date separator: `/`, `.` or `-`.
    pub separator: char,
    /// A Buddhist-era suffix (`BE`) followed the date.
    pub buddhist: bool,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub period: Option<Period>,
}

fn alternation(words: impl Iterator<Item = &'static str>) -> String {
    let mut words: Vec<&str> = words.collect();
    // Longest first, so `a. m.` is tried before `a`.
    words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    words.dedup();
    words
        .iter()
        .map(|w| regex::escape(w))
        .collect::<Vec<_>>()
        .join("|")
}

fn compile(layout: &Layout) -> Regex {
    let eras: String = locale::ERA_PREFIXES.iter().map(|(c, _)| *c).collect();
    let field = |name: &str| format!(r"(?P<{name}>[{eras}]?\d{{1,4}})");
    let date = format!(
        r"{}\s?(?P<sep>[./\-])\s?{}\s?[./\-]\s?{}\.?(?:\s?(?P<era>{}))?",
        field("d1"),
        field("d2"),
        field("d3"),
        alternation(locale::BUDDHIST_SUFFIXES.iter().copied()),
    );
    let periods = alternation(locale::all(|l| l.periods).map(|(w, _)| w));
    let time = format!(
        r"(?:(?P<pb>{periods})\s?)?(?P<h>\d{{1,2}})[:.](?P<mi>\d{{2}})(?:[:.](?P<s>\d{{2}}))?(?:\s?(?P<pa>{periods}))?"
    );
    let connectors = alternation(locale::all(|l| l.connectors));
    let connect = if connectors.is_empty() {
        r"(?:,\s*|\s+)".to_string()
    } else {
        format!(r"(?:,\s*|\s+)(?:(?:{connectors})\s+)?")
    };
    let pattern = layout
        .pattern
        .replace("{date}", &date)
        .replace("{time}", &time)
        .replace("{connect}", &connect);
    Regex::new(&format!("^(?i:{pattern})"))
        .unwrap_or_else(|e| unreachable!("header layout {} is valid: {e}", layout.name))
}

static COMPILED: LazyLock<Vec<Regex>> = LazyLock::new(|| LAYOUTS.iter().map(compile).collect());

static PERIODS: LazyLock<Vec<(String, Period)>> = LazyLock::new(|| {
    locale::all(|l| l.periods)
        .map(|(w, p)| (w.to_lowercase(), p))
        .collect()
});

fn period(word: &str) -> Option<Period> {
    let word = word.to_lowercase();
    PERIODS.iter().find(|(w, _)| *w == word).map(|(_, p)| *p)
}

/// The layout that recognises the most of `lines` (normalised), if any recognises one.
pub fn choose_layout(lines: &[Normalized]) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (index, regex) in COMPILED.iter().enumerate() {
        let count = lines.iter().filter(|l| regex.is_match(&l.text)).count();
        if count > 0 && best.is_none_or(|(_, c)| count > c) {
            best = Some((index, count));
        }
    }
    best.map(|(index, _)| index)
}

/// The stamp of a header line in `layout`, and where (in the original line) what
/// follows the header starts.
pub fn recognise(layout: usize, line: &Normalized) -> Option<(Stamp, usize)> {
    let caps = COMPILED.get(layout)?.captures(&line.text)?;
    let text = |name: &str| caps.name(name).map_or("", |m| m.as_str());
    let number = |name: &str| text(name).parse::<u32>().ok();
    let stamp = Stamp {
        fields: [
            text("d1").to_string(),
            text("d2").to_string(),
            text("d3").to_string(),
        ],
        separator: text("sep").chars().next().unwrap_or('/'),
        buddhist: caps.name("era").is_some(),
        hour: number("h")?,
        minute: number("mi")?,
        second: number("s").unwrap_or(0),
        period: caps
            .name("pb")
            .or_else(|| caps.name("pa"))
            .and_then(|m| period(m.as_str())),
    };
    let end = caps.get(0).map_or(0, |m| m.end());
    Some((stamp, line.original_offset(end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(line: &str) -> Option<(&'static str, Stamp, String)> {
        let n = Normalized::new(line);
        let layout = choose_layout(std::slice::from_ref(&n))?;
        let (stamp, rest) = recognise(layout, &n)?;
        Some((LAYOUTS[layout].name, stamp, line[rest..].to_string()))
    }

    #[test]
    fn layouts_phones_write() {
        let cases = [
            ("[3/27/22, 9:41:55\u{202f}PM] A: x", "ios", "A: x"),
            ("[21:41:35, 3/27/22] A: x", "ios-time-first", "A: x"),
            ("27/03/2022, 21:47 - A: x", "android", "A: x"),
            ("13.6.2018 klo 21.25.15 - a: m", "android", "a: m"),
            (
                "7/1/16, 5:13:36 PM: Sophia H.: hi",
                "old-ios",
                "Sophia H.: hi",
            ),
            ("13. 6. 2018. 21:25:15 a: m", "bare", "a: m"),
            (
                "05/01/2021, 3:07 in the afternoon - Jane Doe: x",
                "android",
                "Jane Doe: x",
            ),
            ("2019-05-02, 11:23 a.m. - A: x", "android", "A: x"),
            ("[3/27/2565 BE, 21:41:35] A: x", "ios", "A: x"),
            ("[3/27/R4, 21:41:35] A: x", "ios", "A: x"),
            ("2018. 6. 13. 오후 9:25 - A: x", "android", "A: x"),
        ];
        for (line, layout, rest) in cases {
            let (name, _, got) = read(line).unwrap_or_else(|| panic!("{line:?} not recognised"));
            assert_eq!((name, got.as_str()), (layout, rest), "{line:?}");
        }
        assert!(read("just some text: not a header").is_none());
    }

    #[test]
    fn stamps_keep_fields_periods_and_eras() {
        let (_, s, _) = read("\u{200f}[\u{0662}\u{0667}\u{200f}/\u{0663}\u{200f}/\u{0662}\u{0660}\u{0662}\u{0662}\u{060c} \u{0669}:\u{0664}\u{0661}:\u{0663}\u{0665}\u{a0}\u{0645}] X: y").unwrap();
        assert_eq!(s.fields, ["27", "3", "2022"]);
        assert_eq!(
            (s.hour, s.minute, s.second, s.period),
            (9, 41, 35, Some(Period::Pm))
        );
        let (_, s, _) = read("[3/27/2565 BE, 21:41:35] A: x").unwrap();
        assert!(s.buddhist);
        let (_, s, _) = read("05/01/2021, 9:15 at night - A: x").unwrap();
        assert_eq!(s.period, Some(Period::Night));
    }
}
