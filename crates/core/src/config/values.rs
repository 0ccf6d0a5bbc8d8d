//! Value types of app.json that know how to reject a bad spelling with a useful message.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A wall-clock time of day, written `HH:MM` (24-hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOfDay {
    pub hour: u32,
    pub minute: u32,
}

impl TimeOfDay {
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("{text:?} is not a time of day in HH:MM (24-hour) form");
        let (h, m) = text.split_once(':').ok_or_else(invalid)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(invalid());
        }
        let hour: u32 = h.parse().map_err(|_| invalid())?;
        let minute: u32 = m.parse().map_err(|_| invalid())?;
        if hour > 23 || minute > 59 {
            return Err(invalid());
        }
        Ok(Self { hour, minute })
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(de::Error::custom)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An IANA time zone such as `Europe/Berlin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(pub chrono_tz::Tz);

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<chrono_tz::Tz>().map(Zone).map_err(|_| {
            de::Error::custom(format!(
                "{text:?} is not an IANA time zone (for example \"Europe/Berlin\" or \"UTC\")"
            ))
        })
    }
}

impl Serialize for Zone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

impl Default for Zone {
    fn default() -> Self {
        Zone(chrono_tz::UTC)
    }
}

/// A secret value: it prints as `<redacted>` wherever it ends up.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_of_day_accepts_only_hh_mm() {
        assert_eq!(
            TimeOfDay::parse("02:00"),
            Ok(TimeOfDay { hour: 2, minute: 0 })
        );
        assert_eq!(TimeOfDay::parse("23:59").unwrap().to_string(), "23:59");
        for bad in ["2:00", "24:00", "12:60", "12-00", "noon", "12:00:00", ""] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("pplx-123".into());
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"<redacted>\"");
    }
}
