//! The command line: clap definitions only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::status::OutboxStatus;

#[derive(Debug, Parser)]
#[command(
    name = "wabot",
    version,
    about = "Self-hosted WhatsApp assistant: a linked device, one SQLite file, an LLM",
    long_about = "Self-hosted WhatsApp assistant: a linked device, one SQLite file, an LLM.\n\n\
        Every subcommand is a short job against one SQLite database; cron runs the periodic \
        ones and systemd keeps `wabot listen` alive.\n\n\
        Exit codes: 0 ok, 1 error, 2 usage, 69 service unavailable (not paired, no listener), \
        75 temporary failure (retry later), 78 configuration error."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Configuration file [default: ./app.json]
    #[arg(long, global = true, env = "WABOT_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Database file, overriding database.path of the configuration
    #[arg(long, global = true, env = "WABOT_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print machine-readable JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Link this machine to a WhatsApp account as a linked device (QR code or pair code)
    Pair(PairArgs),
    /// Hold the WhatsApp connection: store messages, send queued replies (run under systemd)
    Listen,
    /// Answer pending messages of monitored chats once (run from cron every minute)
    ProcessOnce(ProcessArgs),
    /// Show the queue of messages to send
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Delete messages and sessions older than the retention period
    Cleanup(CleanupArgs),
    /// Queue the daily "alive" message to the account's own chat
    Vitality(VitalityArgs),
    /// Fetch older history of a chat from the phone, resumably
    Sync(SyncArgs),
    /// Media files of stored messages
    #[command(subcommand)]
    Media(MediaCommand),
    /// Show what is stored and how the jobs are doing
    Stats(JsonFlag),
    /// Copy the database to a backup file with SQLite's online backup
    Backup(BackupArgs),
    /// Replace the database with a backup (the current one is kept as *.pre-restore)
    Restore(RestoreArgs),
    /// Compact the database
    Vacuum(VacuumArgs),
    /// Import messages from a file (history: never answered unless --as-new)
    Import(ImportArgs),
    /// Check and show the configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Search stored messages, newest first (FTS5 syntax: words, "phrases", prefix*, AND/OR/NOT)
    Search(SearchArgs),
    /// Show one chat as a conversation: days, authors, replies, media and edits
    Show(ShowArgs),
    /// Write one chat out: a page to read (HTML), WhatsApp's own txt layout (imports
    /// back), JSON or CSV
    Export(ExportArgs),
    /// Stop answering (messages are still stored)
    Pause,
    /// Answer again after `wabot pause`
    Resume(ResumeArgs),
    /// Stop answering one chat
    Exclude {
        /// Chat JID or phone number
        chat: String,
    },
    /// Answer an excluded chat again
    Include(IncludeArgs),
    /// Try wabot on a demo chat built into the binary: no account, no API key needed
    Demo(DemoArgs),
    /// Check the link, the listener, bans, versions and keys, with the next step for each problem
    Doctor(JsonFlag),
    /// Queue failed messages again: their turns are answered by the next process-once
    Retry(RetryArgs),
    /// List known chats with their state
    Chats(JsonFlag),
    /// Queue a message to send (the listener sends it)
    Send(SendArgs),
    /// Serve the archive (and, if allowed, the outbox) to AI assistants over the Model
    /// Context Protocol on stdin/stdout; read-only unless sending is allowed
    Mcp(McpArgs),
    /// Talk to an entity's prompt and persona through the real LLM, without WhatsApp
    Simulate(SimulateArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout, or write one page per command into --dir
    Man {
        /// Write wabot.1 and wabot-COMMAND.1 for every command into this directory
        /// (created if missing)
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// Replay a generated stream of live events through the listener's ingest path and
    /// print its time, peak memory and CPU as JSON; with --turns, ask the monitored
    /// contacts questions and print how soon each was answered (for the benchmark)
    #[cfg(feature = "bench")]
    #[command(hide = true)]
    ReplayEvents {
        #[arg(long, default_value_t = 100_000)]
        messages: usize,
        /// Deliver the events one by one at this rate instead of in bursts
        #[arg(long, value_parser = per_second)]
        per_second: Option<f64>,
        /// Measure this many question-to-reply turns instead
        #[arg(long, conflicts_with_all = ["messages", "per_second"])]
        turns: Option<usize>,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["chat", "all_monitored", "status"])))]
pub struct SyncArgs {
    /// The chat to walk back (JID or phone number)
    #[arg(long)]
    pub chat: Option<String>,
    /// Every monitored chat, one after another
    #[arg(long)]
    pub all_monitored: bool,
    /// Show every chat's checkpoint and the overall status
    #[arg(long, conflicts_with_all = ["max", "resume", "restart", "cancel"])]
    pub status: bool,
    /// Messages to fetch per chat, 1 to 10000 [default: 500; a resume keeps the stored one]
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..=10000))]
    pub max: Option<i64>,
    /// Continue an interrupted or cancelled sync from its cursor
    #[arg(long, conflicts_with_all = ["restart", "cancel"])]
    pub resume: bool,
    /// Start over from the oldest stored message, even after a completed or failed sync
    #[arg(long, conflicts_with = "cancel")]
    pub restart: bool,
    /// Stop a sync in progress (it can be resumed later)
    #[arg(long)]
    pub cancel: bool,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum MediaCommand {
    /// Download a message's file now (through the listener when it runs)
    Fetch {
        /// The message id
        #[arg(long)]
        message: String,
        /// The chat, when the id is not unique
        #[arg(long)]
        chat: Option<String>,
    },
    /// Transcribe stored voice notes (live or imported) that have no transcript yet
    Transcribe(TranscribeArgs),
}

#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// Only this chat (phone number, JID or name)
    #[arg(long)]
    pub chat: Option<String>,
    /// Only voice notes sent on or after this day (YYYY-MM-DD) or time (RFC 3339)
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many voice notes in this run (1-100000)
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ImportFormat {
    /// One JSON object per line: id, chat_jid, sender, content, timestamp, is_from_me, ...
    Jsonl,
    /// A chat exported by WhatsApp itself ("Export chat"): the .txt, or the .zip shared
    /// "with media" (its files go into the media store), any phone language; with --chat
    WhatsappExport,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Input format
    #[arg(long, value_enum)]
    pub format: ImportFormat,
    /// File to read, or - for standard input
    pub file: PathBuf,
    /// Treat inbound messages of monitored chats as new: the agent will answer them
    #[arg(long)]
    pub as_new: bool,
    /// whatsapp-export: the chat the export belongs to (JID or phone number)
    #[arg(long, required_if_eq("format", "whatsapp-export"))]
    pub chat: Option<String>,
    /// whatsapp-export: your own display name in the export; your lines become outbound
    #[arg(long, value_name = "NAME")]
    pub me: Option<String>,
    /// whatsapp-export: the time zone the phone wrote times in [default: the configured zone]
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// whatsapp-export: the date order [default: the order the file's dates allow; when
    /// several do, the one under which times run forward most smoothly, reported as a guess]
    #[arg(long, value_enum)]
    pub date_order: Option<crate::import::export::DateOrder>,
    /// whatsapp-export: import a file already imported in another time zone all the
    /// same (every message is stored again, at shifted times)
    #[arg(long)]
    pub reimport: bool,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Args)]
pub struct PairArgs {
    /// Link with an 8-character code entered on the phone for this number, instead of a QR code
    #[arg(long, value_name = "NUMBER")]
    pub phone: Option<String>,
    /// Discard the current link and pair again
    #[arg(long)]
    pub force: bool,
    /// With --force: do not ask before discarding the current link
    #[arg(long, requires = "force")]
    pub yes: bool,
    /// Seconds to wait for WhatsApp's servers before giving up (exit 75)
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
    /// Ask the phone for its whole history (up to a year), not only the recent part:
    /// many times the messages, a longer transfer and a bigger database
    #[arg(long)]
    pub full_history: bool,
}

#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// Print the LLM requests that would be made; call nothing, change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List queued, sent and failed messages, oldest first
    List(OutboxListArgs),
    /// Cancel a queued message that was not sent yet
    Cancel {
        /// The outbox row id (see `outbox list`)
        id: i64,
    },
    /// Queue a failed or cancelled message again
    Retry {
        /// The outbox row id (see `outbox list`)
        id: i64,
    },
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query
    pub query: String,
    /// Only this chat (JID or phone number)
    #[arg(long)]
    pub chat: Option<String>,
    /// Only messages from this sender (JID or phone number)
    #[arg(long)]
    pub from: Option<String>,
    /// Only messages from then on: YYYY-MM-DD, "YYYY-MM-DD HH:MM", RFC 3339, today,
    /// yesterday, or an age (2h, 3d); in the configured zone
    #[arg(long)]
    pub since: Option<String>,
    /// Only messages up to then; a day is included whole (--since D --until D is day D)
    #[arg(long)]
    pub until: Option<String>,
    /// Show N messages of the chat before and after each hit
    #[arg(short = 'C', long = "context", value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=50))]
    pub context: u32,
    #[command(flatten)]
    pub color: ColorFlag,
    /// At most this many hits
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub limit: u32,
    /// Also messages deleted for everyone whose kept text holds every word of QUERY
    /// (archive.keep_deleted), marked deleted
    #[arg(long)]
    pub include_deleted: bool,
    /// Best matches first (bm25) instead of newest first, ranking the newest --among matches
    #[arg(long)]
    pub rank: bool,
    /// With --rank: how many of the newest matches are ranked (1-100000)
    #[arg(long, requires = "rank", default_value_t = crate::db::RANK_AMONG as u32,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub among: u32,
    #[command(flatten)]
    pub output: JsonFlag,
}

/// When to colour output, as ripgrep and ls take it; `NO_COLOR` set means never.
#[derive(Debug, Clone, Copy, Args)]
pub struct ColorFlag {
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set
    Auto,
    Always,
    Never,
}

impl ColorFlag {
    pub fn enabled(self) -> bool {
        match self.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && crate::output::stdout_is_terminal()
            }
        }
    }
}

/// `wabot export`: one chat as a file.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The chat: a name, number or JID (with --search, the search stays in it)
    #[arg(required_unless_present_any = ["all", "search"], conflicts_with = "all")]
    pub chat: Option<String>,
    /// Every chat, one file each in the --output directory (html: with an index.html)
    #[arg(long, requires = "output")]
    pub all: bool,
    /// Only the messages matching QUERY (search's syntax), oldest first, in one file;
    /// across every chat unless CHAT is given
    #[arg(long, value_name = "QUERY", conflicts_with = "all")]
    pub search: Option<String>,
    #[arg(long, value_enum, default_value_t = ExportFormat::Txt)]
    pub format: ExportFormat,
    /// Write here (created 0600) instead of stdout; with --all, the directory (created 0700)
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<std::path::PathBuf>,
    /// Only messages from then on (the forms of `search --since`)
    #[arg(long)]
    pub since: Option<String>,
    /// Only messages up to then; a day is included whole
    #[arg(long)]
    pub until: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// WhatsApp's own layout (`[2024-01-15, 14:30:00] Alice: text`): `wabot import
    /// --format whatsapp-export FILE --chat CHAT --me Me` reads it back
    Txt,
    /// One JSON array of the messages
    Json,
    /// One row per message (RFC 4180)
    Csv,
    /// One self-contained page to read like WhatsApp, media inline, with a search box
    Html,
}

/// `wabot show`: one chat, as a conversation.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The chat: a name, number or JID
    pub chat: String,
    /// Only messages from then on (the forms of `search --since`)
    #[arg(long)]
    pub since: Option<String>,
    /// Only messages up to then; a day is included whole
    #[arg(long)]
    pub until: Option<String>,
    /// The messages around this message id instead of the newest
    #[arg(long, value_name = "ID", conflicts_with_all = ["since", "until"])]
    pub around: Option<String>,
    /// At most this many messages: the newest of the range (or those around --around)
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub limit: u32,
    /// Print straight to the terminal instead of through $PAGER (less)
    #[arg(long)]
    pub no_pager: bool,
    #[command(flatten)]
    pub color: ColorFlag,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Clone, Copy, Args)]
#[group(multiple = false)]
pub struct ResumeFlags {
    /// Skip what arrived meanwhile; answer only new messages
    #[arg(long)]
    pub from_now: bool,
    /// Answer what arrived meanwhile too (the default)
    #[arg(long)]
    pub from_last: bool,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub mode: ResumeFlags,
}

#[derive(Debug, Args)]
pub struct IncludeArgs {
    /// Chat JID, phone number or name
    pub chat: String,
    #[command(flatten)]
    pub mode: ResumeFlags,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo's app.json and archive go (created if missing)
    #[arg(long, value_name = "DIR", default_value = "wabot-demo")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Only this chat: a JID, phone number or name
    #[arg(long)]
    pub chat: Option<String>,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The monitored entity's name (as in app.json)
    #[arg(long)]
    pub entity: String,
    /// Forget the simulated conversation first
    #[arg(long)]
    pub reset: bool,
    /// One message; without it, an interactive conversation on the terminal
    pub text: Option<String>,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// Offer the send tool, for the chats listed in app.json's mcp.send_to
    #[arg(long)]
    pub allow_send: bool,
    /// Let the send tool write to any chat, not only those in mcp.send_to (implies
    /// --allow-send)
    #[arg(long)]
    pub allow_send_any: bool,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Phone number, JID, or the name of a chat or contact
    #[arg(long)]
    pub to: String,
    /// The text to send
    pub text: String,
    /// Wait up to SECONDS (at most a day) until the listener sent it (exit 1 if it
    /// failed, 75 on timeout)
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(0..=86400))]
    pub wait: Option<u64>,
    #[command(flatten)]
    pub output: JsonFlag,
}

/// The outbox statuses `--status` accepts: the words the store keeps.
fn outbox_status() -> impl clap::builder::TypedValueParser<Value = OutboxStatus> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(OutboxStatus::ALL.iter().map(|s| s.as_str()))
        .try_map(|word| word.parse::<OutboxStatus>())
}

#[derive(Debug, Args)]
pub struct OutboxListArgs {
    /// Only rows with this status
    #[arg(long, value_parser = outbox_status())]
    pub status: Option<OutboxStatus>,
    /// At most this many rows
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Keep this many days instead of rotation.retention_days (0: delete every live message stored before now)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=36500))]
    pub retention_days: Option<u32>,
    /// Report what would be deleted; delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// First append the messages to be deleted to FILE as JSONL (the import format)
    #[arg(long, value_name = "FILE")]
    pub archive: Option<PathBuf>,
    /// Run even if the last cleanup was less than rotation.cleanup_interval_hours ago
    #[arg(long)]
    pub force: bool,
    /// Delete imported and synced history too, this once (as rotation.include_history)
    #[arg(long)]
    pub include_history: bool,
    /// With history to delete: do not ask on a terminal
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Args)]
pub struct VitalityArgs {
    /// Print the crontab lines that run vitality at the configured time, and exit
    #[arg(long)]
    pub print_cron: bool,
    /// Wait this long for the owner's phone to confirm the message came through
    /// (default: vitality.canary_seconds; 0 only queues it)
    #[arg(long, value_name = "SECONDS")]
    pub wait: Option<u32>,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Write the backup here instead of backup.dir
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Keep the newest N backups in backup.dir
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100000))]
    pub keep: Option<u32>,
    /// Keep the backups younger than N days in backup.dir
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=36500))]
    pub keep_days: Option<u32>,
    /// Verify the copy with `PRAGMA integrity_check` (every index against its table)
    /// instead of the default `quick_check`; crontab.example runs it weekly
    #[arg(long)]
    pub full_check: bool,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file to restore
    pub file: PathBuf,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// Write a compacted copy to PATH instead of compacting in place
    #[arg(long, value_name = "PATH")]
    pub into: Option<PathBuf>,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate app.json and .env, then print the effective configuration (secrets redacted)
    Check(JsonFlag),
}

#[cfg(feature = "bench")]
fn per_second(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate <= 100_000.0 => Ok(rate),
        _ => Err(format!(
            "{value:?} is not a rate between 0 and 100000 events a second"
        )),
    }
}
