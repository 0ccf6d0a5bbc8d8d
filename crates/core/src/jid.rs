//! WhatsApp identities: every JID or phone number is normalised on the way in so
//! one person or group has exactly one spelling in the database.

pub const USER_SERVER: &str = "s.whatsapp.net";
pub const GROUP_SERVER: &str = "g.us";
pub const LID_SERVER: &str = "lid";
/// Meta's business-scoped user ids (`US.13491208655302741918`), which the Cloud API gives
/// instead of a phone number for users with a username: `US.1349…@bsuid`.
pub const BSUID_SERVER: &str = "bsuid";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JidKind {
    User,
    Group,
    Lid,
    /// A business-scoped user id (Cloud API only).
    Bsuid,
}

/// Characters that copy-pasted numbers and exports carry invisibly.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
    )
}

/// Normalises a JID (`15550001111:12@s.whatsapp.net`, `…@c.us`, `…@g.us`, `…@lid`) or a
/// phone number in any common spelling (`+1 555-000-1111`) to its canonical JID.
pub fn normalize(input: &str) -> Result<String, String> {
    let cleaned: String = input.chars().filter(|c| !is_invisible(*c)).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        return Err("is empty".into());
    }
    let Some((user, server)) = cleaned.split_once('@') else {
        return phone_digits(cleaned)
            .map(|digits| format!("{digits}@{USER_SERVER}"))
            .ok_or_else(|| format!("{cleaned:?} is neither a phone number nor a JID"));
    };
    let server = server.to_ascii_lowercase();
    if server == BSUID_SERVER {
        return if is_bsuid(user) {
            Ok(format!("{user}@{BSUID_SERVER}"))
        } else {
            Err(format!(
                "{cleaned:?} is not a business-scoped user id (\"CC.digits@bsuid\")"
            ))
        };
    }
    // Device (":12") and agent (".0") suffixes name a device, not an identity.
    let identity = user.split([':', '.']).next().unwrap_or_default();
    let identity = identity.strip_prefix('+').unwrap_or(identity);
    let canonical = match server.as_str() {
        USER_SERVER | "c.us" if is_phone(identity) => format!("{identity}@{USER_SERVER}"),
        LID_SERVER if is_digits(identity) => format!("{identity}@{LID_SERVER}"),
        GROUP_SERVER if is_group_id(user) => format!("{user}@{GROUP_SERVER}"),
        USER_SERVER | "c.us" | LID_SERVER | GROUP_SERVER => {
            return Err(format!("{cleaned:?} has a malformed user part"));
        }
        _ => {
            return Err(format!(
                "{cleaned:?} has an unsupported server (expected @s.whatsapp.net, @g.us, @lid or @bsuid)"
            ));
        }
    };
    Ok(canonical)
}

pub fn kind(jid: &str) -> Option<JidKind> {
    match jid.rsplit_once('@')?.1 {
        USER_SERVER => Some(JidKind::User),
        GROUP_SERVER => Some(JidKind::Group),
        LID_SERVER => Some(JidKind::Lid),
        BSUID_SERVER => Some(JidKind::Bsuid),
        _ => None,
    }
}

pub fn is_group(jid: &str) -> bool {
    kind(jid) == Some(JidKind::Group)
}

/// The phone number of a user JID, digits only.
pub fn phone(jid: &str) -> Option<&str> {
    jid.strip_suffix(USER_SERVER)?.strip_suffix('@')
}

/// Digits of a phone number written with the usual separators, if it is one.
fn phone_digits(text: &str) -> Option<String> {
    if !text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.' | '\u{a0}'))
    {
        return None;
    }
    if text.chars().skip(1).any(|c| c == '+') {
        return None;
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    is_phone(&digits).then_some(digits)
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// E.164 allows at most 15 digits; shorter than 6 is no real subscriber number.
fn is_phone(s: &str) -> bool {
    is_digits(s) && (6..=15).contains(&s.len())
}

/// A BSUID is an ISO country code, a period, an optional `ENT.` (a parent BSUID) and up
/// to 128 letters and digits.
pub fn is_bsuid(text: &str) -> bool {
    let Some((country, rest)) = text.split_once('.') else {
        return false;
    };
    let id = rest.strip_prefix("ENT.").unwrap_or(rest);
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_uppercase())
        && (1..=128).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Groups are `120363…@g.us`, or `creator-timestamp@g.us` for old ones.
fn is_group_id(user: &str) -> bool {
    let mut parts = user.split('-');
    let ok = parts.next().is_some_and(is_digits);
    ok && parts.clone().count() <= 1 && parts.all(is_digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_every_spelling_of_one_identity() {
        let cases = [
            ("15550001111", "15550001111@s.whatsapp.net"),
            ("+1 555-000-1111", "15550001111@s.whatsapp.net"),
            ("+1 (555) 000.1111", "15550001111@s.whatsapp.net"),
            (
                "\u{202a}+1 555 000 1111\u{202c}",
                "15550001111@s.whatsapp.net",
            ),
            ("15550001111@s.whatsapp.net", "15550001111@s.whatsapp.net"),
            (
                "15550001111:12@s.whatsapp.net",
                "15550001111@s.whatsapp.net",
            ),
            (
                "15550001111.0:3@S.WHATSAPP.NET",
                "15550001111@s.whatsapp.net",
            ),
            ("15550001111@c.us", "15550001111@s.whatsapp.net"),
            ("120363041234567890@g.us", "120363041234567890@g.us"),
            ("15550001111-1600000000@g.us", "15550001111-1600000000@g.us"),
            ("123456789012345:4@lid", "123456789012345@lid"),
            (
                "US.13491208655302741918@bsuid",
                "US.13491208655302741918@bsuid",
            ),
            (
                "US.ENT.11815799212886844830@BSUID",
                "US.ENT.11815799212886844830@bsuid",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input).as_deref(), Ok(want), "input {input:?}");
        }
    }

    #[test]
    fn rejects_what_is_not_an_identity() {
        let cases = [
            ("", "empty"),
            ("Alice", "neither"),
            ("12345", "neither"),
            ("1555+0001111", "neither"),
            ("abc@s.whatsapp.net", "malformed"),
            ("1-2-3@g.us", "malformed"),
            ("status@broadcast", "unsupported server"),
            ("us.123@bsuid", "business-scoped"),
            ("US.12-3@bsuid", "business-scoped"),
            ("15550001111@example.com", "unsupported server"),
        ];
        for (input, reason) in cases {
            let err = normalize(input).unwrap_err();
            assert!(err.contains(reason), "{input:?}: {err}");
        }
    }

    #[test]
    fn classifies_and_extracts_phone() {
        assert_eq!(kind("1@g.us"), Some(JidKind::Group));
        assert!(is_group("120363041234567890@g.us"));
        assert_eq!(kind("15550001111@lid"), Some(JidKind::Lid));
        assert_eq!(kind("BR.1502576394655843@bsuid"), Some(JidKind::Bsuid));
        assert_eq!(phone("15550001111@s.whatsapp.net"), Some("15550001111"));
        assert_eq!(phone("120363041234567890@g.us"), None);
    }
}
