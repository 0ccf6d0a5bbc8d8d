//! app.json's text and the secrets → one validated, typed [`Config`].
//! Every error names the field path and ends the process with exit 78. Reading the file
//! and looking the secrets up (environment, `.env`) is the binary's `config::load`.

mod entities;
mod file;
mod llm;
mod media;
mod transport;
mod values;

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use entities::Entity;
pub use file::{
    AppFile, EntityKind, PacingSection, Presence, SessionMode, Statuses, TranscriptionSection,
};
pub use llm::{Api, LlmSettings, MaxTokensField, PresetPrompt, ToolChoice};
pub use transport::{
    CLOUD_API_MAX_CHARS, MarkRead, TWILIO_AUTH_TOKEN, TWILIO_MAX_CHARS, Transport,
    TransportSecrets, WHATSAPP_APP_SECRET, WHATSAPP_CLOUD_TOKEN, WHATSAPP_VERIFY_TOKEN,
};
pub use values::{Secret, TimeOfDay};

use crate::error;

/// The longest span in days any setting may name: a century.
pub const MAX_DAYS: i64 = 36_500;
const MAX_MEDIA_BYTES: i64 = 2 << 30;

/// Looks a secret up by its variable's name: the binary reads the environment, then the
/// `.env` file beside app.json.
pub type SecretLookup<'a> = &'a dyn Fn(&str) -> Result<Option<String>>;

#[derive(Debug, Serialize)]
pub struct Config {
    /// The file read, or `None` when running on defaults (no app.json, `--db` given).
    pub config_path: Option<PathBuf>,
    #[serde(flatten)]
    pub file: AppFile,
    #[serde(rename = "monitored_entities")]
    pub entities: Vec<Entity>,
    /// The LLM settings in effect, from `llm` or the older `perplexity` section.
    pub llm: LlmSettings,
    /// `database.path` resolved against the config directory, or `--db`.
    pub database_path: PathBuf,
    /// `backup.dir` resolved against the config directory.
    pub backup_dir: PathBuf,
    #[serde(skip)]
    pub api_key: Option<Secret>,
    /// The secrets of the configured transport that are set.
    #[serde(skip)]
    pub transport_secrets: TransportSecrets,
    /// The key of the transcription endpoint, when `transcription.api_key_env` names one.
    #[serde(skip)]
    pub transcription_key: Option<Secret>,
    /// SHA-256 of the app.json bytes, to notice edits between runs.
    #[serde(skip)]
    pub hash: String,
}

impl Config {
    /// The configuration from app.json's `text` (`None`: no file, run on defaults) read
    /// from `path`; `db` is the `--db` override.
    pub fn from_text(
        path: PathBuf,
        text: Option<&str>,
        db: Option<PathBuf>,
        secret: SecretLookup,
    ) -> Result<Self> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let mut file = parse(&path, text.unwrap_or("{}"))?;
        let (entities, llm) = validate(&file).map_err(|problems| {
            error::config(format!("{}: {}", path.display(), problems.join("\n  ")))
        })?;
        let session_zone = file.session_memory.timezone;
        file.vitality.timezone.get_or_insert(session_zone);
        let backup_dir = dir.join(&file.backup.dir);
        let database_path = db.unwrap_or_else(|| dir.join(&file.database.path));
        let api_key = match &llm.api_key_env {
            Some(var) => secret(var)?.map(Secret::new),
            None => None,
        };
        let transport_secrets = TransportSecrets::load(file.transport, secret)?;
        let transcription_key = match &file.transcription.api_key_env {
            Some(var) if file.transcription.enabled => secret(var)?.map(Secret::new),
            _ => None,
        };
        Ok(Self {
            config_path: text.is_some().then_some(path.clone()),
            file,
            entities,
            llm,
            database_path,
            backup_dir,
            api_key,
            transport_secrets,
            transcription_key,
            hash: hex::encode(Sha256::digest(text.unwrap_or_default())),
        })
    }

    pub fn timezone(&self) -> chrono_tz::Tz {
        self.file.session_memory.timezone.0
    }

    /// The API key, which only the commands that call the LLM need; `None` for a
    /// server configured to check none (`"api_key_env": null`).
    pub fn llm_key(&self) -> Result<Option<&Secret>> {
        let Some(var) = &self.llm.api_key_env else {
            return Ok(None);
        };
        self.api_key.as_ref().map(Some).ok_or_else(|| {
            error::config(format!(
                "{var} is not set: put the LLM API key in the environment or in a .env file beside app.json (or set \"api_key_env\": null for a local server that checks no key)"
            ))
        })
    }

    /// The zone the daily vitality message counts its days in.
    pub fn vitality_zone(&self) -> chrono_tz::Tz {
        self.file
            .vitality
            .timezone
            .map_or(self.timezone(), |zone| zone.0)
    }

    /// What is allowed but probably not meant, for `config check` to point out.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let self_answered = self.file.debug.self_debug && self.self_jid().is_some();
        if self.entities.is_empty() && !self_answered {
            warnings.push(
                "monitored_entities is empty: messages can be stored, but nothing will be answered"
                    .to_string(),
            );
        }
        warnings.extend(media::warnings(&self.file, &self.llm));
        warnings
    }

    /// The longest text one outgoing message may hold: `replies.max_chars`, or less when
    /// the transport's API allows less (Twilio 1600, the Cloud API 4096 characters).
    pub fn max_message_chars(&self) -> usize {
        let configured = self.file.replies.max_chars.unsigned_abs() as usize;
        match self.file.transport {
            Transport::WhatsappWeb => configured,
            Transport::Twilio => configured.min(TWILIO_MAX_CHARS),
            Transport::CloudApi => configured.min(CLOUD_API_MAX_CHARS),
        }
    }

    /// The account's own chat (messages to yourself), when the phone number is configured.
    pub fn self_jid(&self) -> Option<String> {
        let phone = self.file.whatsapp.phone_number.as_deref()?;
        crate::jid::normalize(phone).ok()
    }

    /// whatsapp-rust's device store (identity and Signal keys), beside the database.
    pub fn device_store_path(&self) -> PathBuf {
        self.database_path.with_file_name("device.db")
    }

    /// Where downloaded media files live: `media/` beside the database.
    pub fn media_dir(&self) -> PathBuf {
        self.database_path.with_file_name("media")
    }

    /// The monitored entity a chat belongs to, whatever spelling of its JID is given.
    pub fn entity_for_chat(&self, chat: &str) -> Option<&Entity> {
        let jid = crate::jid::normalize(chat).ok()?;
        self.entities.iter().find(|e| e.jid == jid)
    }
}

/// Parses app.json, which must be exactly one JSON object; a syntax error gives line and
/// column, a bad value its field path.
fn parse(path: &Path, text: &str) -> Result<AppFile> {
    let first = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .next();
    if first != Some('{') {
        let found = first.map_or_else(|| "nothing".to_string(), |c| format!("{c:?}"));
        return Err(error::config(format!(
            "{}: must hold one JSON object ({{ … }}), found {found} at its start",
            path.display()
        )));
    }
    let de = &mut serde_json::Deserializer::from_str(text.trim_start_matches('\u{feff}'));
    let file: AppFile = serde_path_to_error::deserialize(&mut *de).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        let message = plain_words(&error::json_message(&inner));
        let at = format!("line {}, column {}", inner.line(), inner.column());
        let text = if inner.is_data() && field != "." {
            format!("{}: {field}: {message} ({at})", path.display())
        } else {
            format!("{}: {at}: {message}", path.display())
        };
        error::config(text)
    })?;
    de.end().map_err(|err| {
        error::config(format!(
            "{}: line {}, column {}: more after the configuration object; app.json holds exactly one",
            path.display(),
            err.line(),
            err.column()
        ))
    })?;
    Ok(file)
}

/// serde names Rust types ("expected i64", "expected struct PollingSection"); people
/// reading an error about app.json want JSON's words.
fn plain_words(message: &str) -> String {
    static TYPES: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\b(?:i|u)(?:8|16|32|64|128|size)\b|\bf(?:32|64)\b|struct \w+|a borrowed string|a sequence|\bmap\b")
            .expect("a valid pattern") // invariant: a literal, checked by the tests
    });
    TYPES
        .replace_all(message, |c: &regex::Captures| {
            let t = &c[0];
            match t {
                _ if t.starts_with("struct") => "an object (see app.json.example for its keys)",
                _ if t.starts_with('f') => "a number",
                "a borrowed string" => "a string",
                "a sequence" => "a list ([ … ])",
                "map" => "object",
                _ => "a whole number",
            }
            .to_string()
        })
        .into_owned()
}

/// Checks what the types alone cannot; reports every problem, not just the first.
fn validate(file: &AppFile) -> Result<(Vec<Entity>, LlmSettings), Vec<String>> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, field: &str, message: String| {
        if !ok && field.is_empty() {
            problems.push(message);
        } else if !ok {
            problems.push(format!("{field}: {message}"));
        }
    };
    if let Some(phone) = &file.whatsapp.phone_number {
        let ok = crate::jid::normalize(phone).is_ok_and(|j| crate::jid::phone(&j).is_some());
        check(
            ok,
            "whatsapp.phone_number",
            format!("{phone:?} is not a phone number"),
        );
    }
    check(
        !file.database.path.as_os_str().is_empty(),
        "database.path",
        "is empty".into(),
    );
    let llm = match (&file.llm, &file.perplexity) {
        (Some(_), Some(_)) => {
            check(
                false,
                "perplexity",
                "cannot be used together with the llm section: keep one (llm is the newer)".into(),
            );
            LlmSettings::from_perplexity(&Default::default())
        }
        (Some(section), None) => LlmSettings::from_llm(section),
        (None, Some(section)) => LlmSettings::from_perplexity(section),
        (None, None) => LlmSettings::from_perplexity(&Default::default()),
    };
    let pace = &file.whatsapp.pacing;
    for (field, value, max) in [
        (
            "whatsapp.pacing.min_seconds_between_sends",
            pace.min_seconds_between_sends,
            600.0,
        ),
        (
            "whatsapp.pacing.min_seconds_between_sends_per_chat",
            pace.min_seconds_between_sends_per_chat,
            3600.0,
        ),
        ("whatsapp.pacing.jitter", pace.jitter, 1.0),
    ] {
        check(
            (0.0..=max).contains(&value),
            field,
            format!("must be between 0 and {max}, got {value}"),
        );
    }
    let p = &file.polling;
    check(
        (1..=1000).contains(&p.batch_size),
        "polling.batch_size",
        format!("must be between 1 and 1000, got {}", p.batch_size),
    );
    check(
        (2..=86_400).contains(&p.lease_seconds),
        "polling.lease_seconds",
        format!(
            "must be between 2 and 86400 seconds, got {}",
            p.lease_seconds
        ),
    );
    check(
        p.lease_seconds > llm.timeout_seconds,
        "polling.lease_seconds",
        format!(
            "must be longer than {}.timeout_seconds ({}), got {}",
            llm.section, llm.timeout_seconds, p.lease_seconds
        ),
    );
    check(
        (1..=100).contains(&p.max_attempts),
        "polling.max_attempts",
        format!("must be between 1 and 100, got {}", p.max_attempts),
    );
    check(
        (1..=600).contains(&file.rate_limit.per_chat_per_minute),
        "rate_limit.per_chat_per_minute",
        format!(
            "must be between 1 and 600, got {}",
            file.rate_limit.per_chat_per_minute
        ),
    );
    check(
        (200..=60_000).contains(&file.replies.max_chars),
        "replies.max_chars",
        format!(
            "must be between 200 and 60000, got {}",
            file.replies.max_chars
        ),
    );
    let r = &file.rotation;
    check(
        (1..=MAX_DAYS).contains(&r.retention_days),
        "rotation.retention_days",
        format!(
            "must be between 1 and {MAX_DAYS} days, got {}",
            r.retention_days
        ),
    );
    check(
        (1..=8784).contains(&r.cleanup_interval_hours),
        "rotation.cleanup_interval_hours",
        format!(
            "must be between 1 and 8784 hours (a year), got {}",
            r.cleanup_interval_hours
        ),
    );
    let s = &file.session_memory;
    check(
        (1..=24 * 366).contains(&s.reset_hours),
        "session_memory.reset_hours",
        format!("must be between 1 and 8784 hours, got {}", s.reset_hours),
    );
    check(
        (0..=1000).contains(&s.max_context_messages),
        "session_memory.max_context_messages",
        format!("must be between 0 and 1000, got {}", s.max_context_messages),
    );
    if let Some(name) = &file.whatsapp.bot_name {
        check(
            !name.trim().is_empty(),
            "whatsapp.bot_name",
            "is empty".into(),
        );
    }
    let v = &file.vitality;
    check(
        !(v.enabled && v.message.trim().is_empty()),
        "vitality.message",
        "is empty while vitality is enabled".into(),
    );
    check(
        v.canary_seconds <= 3_600,
        "vitality.canary_seconds",
        format!(
            "must be at most 3600 seconds (an hour), got {}",
            v.canary_seconds
        ),
    );
    let w = &file.whatsapp;
    for (value, field, most) in [
        (
            w.delivery_timeout_minutes,
            "whatsapp.delivery_timeout_minutes",
            10_080,
        ),
        (w.silent_minutes, "whatsapp.silent_minutes", 1_440),
    ] {
        check(
            (1..=most).contains(&value),
            field,
            format!("must be between 1 and {most} minutes, got {value}"),
        );
    }
    for problem in llm
        .problems()
        .into_iter()
        .chain(media::problems(file, p.lease_seconds))
    {
        check(false, "", problem);
    }
    check(
        (1..=604_800).contains(&file.debug.stale_session_seconds),
        "debug.stale_session_seconds",
        format!(
            "must be between 1 and 604800 seconds (a week), got {}",
            file.debug.stale_session_seconds
        ),
    );
    let b = &file.backup;
    check(
        b.keep.is_none_or(|k| (1..=100_000).contains(&k)),
        "backup.keep",
        format!(
            "must be between 1 and 100000, got {}",
            b.keep.unwrap_or_default()
        ),
    );
    check(
        (0..=MAX_DAYS).contains(&b.keep_days),
        "backup.keep_days",
        format!("must be between 0 and {MAX_DAYS} days, got {}", b.keep_days),
    );
    check(
        (1..=MAX_MEDIA_BYTES).contains(&file.media.max_bytes),
        "media.max_bytes",
        format!(
            "must be between 1 and {MAX_MEDIA_BYTES} bytes (2 GiB), got {}",
            file.media.max_bytes
        ),
    );
    transport::validate(
        file.transport,
        &file.webhook,
        &file.twilio,
        &file.cloud_api,
        file.whatsapp.phone_number.as_deref(),
        &mut problems,
    );
    let entities = entities::resolve(&file.monitored_entities, &mut problems);
    if problems.is_empty() {
        Ok((entities, llm))
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_errors_use_json_words() {
        for (json, want) in [
            (
                r#"{"polling": {"batch_size": "ten"}}"#,
                "expected a whole number",
            ),
            (
                r#"{"polling": 5}"#,
                "expected an object (see app.json.example",
            ),
            (
                r#"{"llm": {"model": "m", "temperature": "hot"}}"#,
                "expected a number",
            ),
        ] {
            let err = parse(Path::new("app.json"), json).unwrap_err().to_string();
            assert!(err.contains(want), "{json}: {err}");
            assert!(!err.contains("i64") && !err.contains("Section"), "{err}");
        }
    }

    #[test]
    fn fixture_config_is_valid_and_resolves_entities() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/app.json"),
        )
        .expect("tests/fixtures/app.json is in the repository");
        let file = parse(Path::new("app.json"), &text).unwrap();
        let (entities, llm) = validate(&file).unwrap();
        assert_eq!(llm.api, Api::Agent);
        assert_eq!(entities.len(), 2);
        assert_eq!(entities[0].jid, "15550001111@s.whatsapp.net");
        assert!(entities[1].require_mention);
    }
}
