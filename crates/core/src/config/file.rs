//! The shape of app.json, with the default of every optional key.
//! Unknown keys are refused so a typo never silently falls back to a default.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::llm::{LlmSection, PerplexitySection};
use super::transport::{CloudApiSection, Transport, TwilioSection, WebhookSection};
use super::values::{TimeOfDay, Zone};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppFile {
    /// How wabot talks to WhatsApp: `whatsapp-web` (a linked device), `twilio`, `cloud-api`.
    #[serde(default)]
    pub transport: Transport,
    #[serde(default)]
    pub whatsapp: WhatsappSection,
    #[serde(default)]
    pub database: DatabaseSection,
    /// Shown resolved, as [`super::Entity`], by `config check`.
    #[serde(default, skip_serializing)]
    pub monitored_entities: Vec<EntityEntry>,
    #[serde(default)]
    pub polling: PollingSection,
    #[serde(default)]
    pub rate_limit: RateLimitSection,
    #[serde(default)]
    pub replies: RepliesSection,
    #[serde(default)]
    pub rotation: RotationSection,
    #[serde(default)]
    pub session_memory: SessionMemorySection,
    #[serde(default)]
    pub vitality: VitalitySection,
    /// The LLM API and model; see [`super::llm`].
    #[serde(default, skip_serializing)]
    pub llm: Option<LlmSection>,
    /// The older way to say the same, kept working: means the Agent API on Perplexity.
    #[serde(default, skip_serializing)]
    pub perplexity: Option<PerplexitySection>,
    #[serde(default)]
    pub debug: DebugSection,
    #[serde(default)]
    pub backup: BackupSection,
    #[serde(default)]
    pub media: MediaSection,
    #[serde(default)]
    pub mcp: McpSection,
    #[serde(default)]
    pub webhook: WebhookSection,
    #[serde(default)]
    pub twilio: TwilioSection,
    #[serde(default)]
    pub cloud_api: CloudApiSection,
    #[serde(default)]
    pub transcription: TranscriptionSection,
    #[serde(default)]
    pub vision: VisionSection,
    #[serde(default)]
    pub archive: ArchiveSection,
}

/// What the archive keeps of what people changed.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchiveSection {
    /// Keep a revoked ("deleted for everyone") message's text among its versions
    /// (never shown to the LLM); `false` honours the deletion and drops it at once.
    pub keep_deleted: bool,
}

impl Default for ArchiveSection {
    fn default() -> Self {
        Self { keep_deleted: true }
    }
}

/// Voice notes to text, through any OpenAI-compatible `/audio/transcriptions`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TranscriptionSection {
    pub enabled: bool,
    /// The API root as an OpenAI client takes it (`https://api.openai.com/v1`).
    pub base_url: String,
    pub model: String,
    /// The environment variable (or `.env` key) holding the key; none sends no key.
    pub api_key_env: Option<String>,
    /// ISO-639-1 code of the spoken language; the server detects it when unset.
    pub language: Option<String>,
    /// Larger files are not sent (OpenAI's own limit is 25 MiB).
    pub max_bytes: i64,
    pub timeout_seconds: i64,
}

impl Default for TranscriptionSection {
    fn default() -> Self {
        Self {
            enabled: false,
            base_url: "http://127.0.0.1:8000/v1".into(),
            model: "whisper-1".into(),
            api_key_env: None,
            language: None,
            max_bytes: 25 * 1024 * 1024,
            timeout_seconds: 120,
        }
    }
}

/// Images of monitored chats go to the LLM as image inputs.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VisionSection {
    pub enabled: bool,
    /// Larger images are described by their caption only.
    pub max_bytes: i64,
}

impl Default for VisionSection {
    fn default() -> Self {
        Self {
            enabled: false,
            max_bytes: 5 * 1024 * 1024,
        }
    }
}

/// `wabot mcp`, the archive for AI assistants: read-only unless sending is allowed here
/// or on its command line.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpSection {
    /// Offer the send tool (as `wabot mcp --allow-send` does).
    pub allow_send: bool,
    /// The chats the send tool may write to: phone numbers, JIDs or names of chats,
    /// contacts or monitored entities. `--allow-send-any` lifts the limit.
    pub send_to: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSection {
    /// The listener downloads the media of monitored chats into `store/media/`.
    pub download: bool,
    /// Larger files are recorded but not downloaded.
    pub max_bytes: i64,
}

impl Default for MediaSection {
    fn default() -> Self {
        Self {
            download: false,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSection {
    /// Where `wabot backup` writes, relative to the config file.
    pub dir: PathBuf,
    /// Keep at least the newest N backups (none: only `keep_days` decides).
    pub keep: Option<i64>,
    /// Keep backups younger than this many days.
    pub keep_days: i64,
}

impl Default for BackupSection {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("store/backups"),
            keep: None,
            keep_days: 7,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappSection {
    /// The linked account's own number; used to find the self chat and mentions.
    pub phone_number: Option<String>,
    /// A name people use to address the bot in groups ("wabot, what is…").
    pub bot_name: Option<String>,
    /// Archive the messages of chats that are not monitored too (never answered).
    #[serde(default)]
    pub store_all_chats: bool,
    /// What the linked device shows: `unavailable` keeps the owner's phone notified.
    #[serde(default)]
    pub presence: Presence,
    /// How fast replies go out.
    #[serde(default)]
    pub pacing: PacingSection,
    /// Mark the messages wabot answered as read (blue ticks) for their senders.
    #[serde(default)]
    pub read_receipts: bool,
    /// An accepted send without a delivery receipt after this long is `unconfirmed`
    /// and goes again, with its id, after the next reconnect.
    #[serde(default = "default_delivery_timeout")]
    pub delivery_timeout_minutes: u32,
    /// A connection that received nothing at all (not even the answers to the
    /// library's keep-alive pings, every 15-30 s) for this long is reconnected.
    #[serde(default = "default_silent_minutes")]
    pub silent_minutes: u32,
    /// Contacts' status updates and status mentions: `skip` them, or `store` them
    /// (in the poster's chat, as kind `status`, never answered).
    #[serde(default)]
    pub statuses: Statuses,
}

fn default_delivery_timeout() -> u32 {
    30
}

fn default_silent_minutes() -> u32 {
    5
}

impl Default for WhatsappSection {
    fn default() -> Self {
        Self {
            phone_number: None,
            bot_name: None,
            store_all_chats: false,
            presence: Presence::default(),
            pacing: PacingSection::default(),
            read_receipts: false,
            delivery_timeout_minutes: default_delivery_timeout(),
            silent_minutes: default_silent_minutes(),
            statuses: Statuses::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Statuses {
    #[default]
    Skip,
    Store,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PacingSection {
    /// At least this long between any two sends.
    pub min_seconds_between_sends: f64,
    /// At least this long between two sends to the same chat.
    pub min_seconds_between_sends_per_chat: f64,
    /// Each wait is stretched by up to this fraction, at random.
    pub jitter: f64,
    /// Show "typing…" before a reply, for a moment scaled to its length.
    pub typing: bool,
}

impl Default for PacingSection {
    fn default() -> Self {
        Self {
            min_seconds_between_sends: 1.0,
            min_seconds_between_sends_per_chat: 3.0,
            jitter: 0.3,
            typing: true,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Never "online": WhatsApp keeps sending the owner's phone its notifications.
    #[default]
    Unavailable,
    /// The library's own behaviour: "online" while connected (phone notifications are held back).
    Available,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSection {
    pub path: PathBuf,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            path: PathBuf::from("store/wabot.db"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    User,
    Group,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EntityEntry {
    #[serde(rename = "type")]
    pub kind: EntityKind,
    pub jid: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    #[serde(default = "default_prompt")]
    pub prompt: String,
    #[serde(default)]
    pub persona: String,
    #[serde(default)]
    pub debug: bool,
    /// Groups only: answer only when the bot is mentioned. Defaults to true for groups.
    pub require_mention: Option<bool>,
}

fn default_prompt() -> String {
    "You are a helpful assistant.".into()
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PollingSection {
    /// Chats answered per process-once run.
    pub batch_size: i64,
    /// How long a run owns the messages it claimed; a run killed mid-way is taken over
    /// after this.
    pub lease_seconds: i64,
    /// LLM attempts per turn before its messages are marked failed.
    pub max_attempts: i64,
    /// The listener starts `process-once` itself when it stores a message to answer
    /// (see [`crate::arrival`]); cron's runs stay the safety net.
    pub on_arrival: bool,
}

impl Default for PollingSection {
    fn default() -> Self {
        Self {
            batch_size: 10,
            lease_seconds: 300,
            max_attempts: 5,
            on_arrival: true,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSection {
    pub per_chat_per_minute: i64,
}

impl Default for RateLimitSection {
    fn default() -> Self {
        Self {
            per_chat_per_minute: 6,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RepliesSection {
    /// Longer replies are split at paragraph or sentence boundaries.
    pub max_chars: i64,
}

impl Default for RepliesSection {
    fn default() -> Self {
        Self { max_chars: 3000 }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RotationSection {
    pub retention_days: i64,
    pub cleanup_interval_hours: i64,
    /// Imported exports and synced history rotate like live messages. Off: only what
    /// arrived live is deleted after `retention_days`; the archive an owner imported or
    /// synced stays until they ask (`cleanup --include-history`).
    pub include_history: bool,
}

impl Default for RotationSection {
    fn default() -> Self {
        Self {
            retention_days: 7,
            cleanup_interval_hours: 24,
            include_history: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionMode {
    /// Expire at the next occurrence of `reset_time`.
    Time,
    /// Expire `reset_hours` after the session started.
    Duration,
    /// Expire at the next local midnight.
    SameDay,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionMemorySection {
    pub mode: SessionMode,
    pub reset_time: TimeOfDay,
    pub reset_hours: i64,
    pub timezone: Zone,
    pub max_context_messages: i64,
}

impl Default for SessionMemorySection {
    fn default() -> Self {
        Self {
            mode: SessionMode::Time,
            reset_time: TimeOfDay { hour: 2, minute: 0 },
            reset_hours: 24,
            timezone: Zone::default(),
            max_context_messages: 10,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VitalitySection {
    pub enabled: bool,
    pub time: TimeOfDay,
    /// Defaults to `session_memory.timezone`.
    pub timezone: Option<Zone>,
    pub message: String,
    /// How long `wabot vitality` waits for the owner's phone to confirm the message
    /// came through (the end-to-end canary); 0 only queues it.
    pub canary_seconds: u32,
}

impl Default for VitalitySection {
    fn default() -> Self {
        Self {
            enabled: false,
            time: TimeOfDay { hour: 9, minute: 0 },
            timezone: None,
            message: "wabot is alive".into(),
            canary_seconds: 120,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DebugSection {
    pub self_debug: bool,
    pub stale_session_seconds: i64,
}

impl Default for DebugSection {
    fn default() -> Self {
        Self {
            self_debug: false,
            stale_session_seconds: 60,
        }
    }
}
