//! Failure classes that map to the exit codes scripts and systemd act on.

use std::fmt;

/// Why a command failed, as far as the caller can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// app.json, .env or the environment is wrong (exit 78).
    Config,
    /// Retry later: database busy, LLM or network down (exit 75).
    Temporary,
    /// A service we need is not there: not paired, no live listener (exit 69).
    Unavailable,
    /// The command line asks for something that cannot be done as asked (exit 2).
    Usage,
    /// The input's content cannot be read as what it claims to be (exit 65).
    Data,
    /// A search found nothing (exit 1, as grep's; main prints no error for it).
    NothingFound,
}

impl Kind {
    /// The process exit code scripts and systemd see for this kind.
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Config => exitcode::CONFIG,
            Kind::Temporary => exitcode::TEMPFAIL,
            Kind::Unavailable => exitcode::UNAVAILABLE,
            // 2, as clap uses for a bad command line (sysexits' 64 is rarely checked).
            Kind::Usage => 2,
            Kind::Data => exitcode::DATAERR,
            Kind::NothingFound => 1,
        }
    }
}

/// An error tagged with its [`Kind`]; it sits at the root of an `anyhow` chain.
#[derive(Debug)]
pub struct Failure {
    kind: Kind,
    message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

pub fn failure(kind: Kind, message: impl fmt::Display) -> anyhow::Error {
    Failure {
        kind,
        message: message.to_string(),
    }
    .into()
}

pub fn config(message: impl fmt::Display) -> anyhow::Error {
    failure(Kind::Config, message)
}

/// The exit code of the first classified cause in the chain, if any: the binary falls
/// back to the store's own kinds and then to 1 (this crate knows no database).
pub fn classified_exit_code(err: &anyhow::Error) -> Option<i32> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Failure>().map(|f| f.kind.exit_code()))
}

/// Whether the error only says that nothing was found: the exit code says it all.
pub fn is_nothing_found(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<Failure>()
            .is_some_and(|f| f.kind == Kind::NothingFound)
    })
}

/// serde_json's message without its " at line L column C" tail, for callers that
/// report the position their own way.
pub fn json_message(err: &serde_json::Error) -> String {
    let message = err.to_string();
    let tail = format!(" at line {} column {}", err.line(), err.column());
    message
        .strip_suffix(&tail)
        .map_or_else(|| message.clone(), str::to_string)
}

/// `text` cut to at most `max` characters, saying how much was left out: error messages
/// quote inputs, SQL and providers, and none of those may flood a terminal or a log.
pub fn bounded(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}… ({} more characters)", total - max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn classified_cause_below_context_decides_the_code() {
        let err = Err::<(), _>(config("bad zone"))
            .context("loading app.json")
            .unwrap_err();
        assert_eq!(classified_exit_code(&err), Some(78));
        let code = |kind| classified_exit_code(&failure(kind, "x"));
        assert_eq!(code(Kind::Temporary), Some(75));
        assert_eq!(code(Kind::Unavailable), Some(69));
        assert_eq!(code(Kind::Usage), Some(2));
        assert_eq!(code(Kind::Data), Some(65));
        assert_eq!(classified_exit_code(&anyhow::anyhow!("other")), None);
    }

    #[test]
    fn long_texts_are_cut_with_a_count() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(bounded("ééééé", 2), "éé… (3 more characters)");
    }
}
