//! One processing pass: claim → context → LLM → reply + memory, atomically.
//! The LLM call happens outside any write transaction; a run killed at any point
//! leaves leases that the next run takes over once they expire.

mod media;
mod memory;
mod prompt;
pub mod reply;

use std::borrow::Cow;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::config::{Config, Entity, EntityKind};
use crate::db::{ClaimRequest, Db, LlmCall, OutboxKind, Outgoing, Release, Turn};
use crate::error::{self, Kind};
use crate::expiry::Rule;
use crate::llm::{self, ChatMessage, LlmError, Transcriber};
use crate::message_id;
use crate::policy::{Policy, SkipReason};
use crate::{backoff, clock};

/// LLM calls per turn inside one run; longer retry schedules continue in later runs.
const IN_RUN_CALLS: i64 = 2;
/// Waits up to this long are spent inside the run; longer ones defer to a later run.
const IN_RUN_MAX_WAIT: Duration = Duration::from_secs(5);
/// Group chatter before a mention that is shown to the LLM as context.
const GROUP_CONTEXT: usize = 20;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The longest pause between two attempts at a turn.
const MAX_BACKOFF: Duration = Duration::from_secs(1800);
const MINUTE_MS: i64 = 60_000;

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Messages claimed by this run.
    pub claimed: usize,
    /// Messages answered (a turn answers all messages of one chat with one reply).
    pub answered: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Messages left pending for a later run (retry back-off, rate limit).
    pub deferred: usize,
    pub llm_calls: usize,
    pub paused: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<DryRunTurn>,
    #[serde(skip)]
    turns_with_llm: usize,
    #[serde(skip)]
    turns_unreachable: usize,
}

impl Summary {
    /// True when every turn that needed the LLM found it unreachable.
    pub fn llm_down(&self) -> bool {
        self.turns_with_llm > 0 && self.turns_unreachable == self.turns_with_llm
    }
}

#[derive(Debug, Serialize)]
pub struct DryRunTurn {
    pub chat_jid: String,
    pub entity: String,
    pub messages: usize,
    /// Where the request would go, and below, its body exactly as it would be sent.
    pub endpoint: String,
    pub request: serde_json::Value,
}

pub struct Agent<'a> {
    config: &'a Config,
    db: &'a mut Db,
    client: Option<llm::Client>,
    /// Voice notes are transcribed only with this (transcription on, not a dry run).
    transcriber: Option<Transcriber>,
    policy: Policy,
    rule: Rule,
}

enum Outcome {
    Answered,
    Deferred { unreachable: bool },
    Failed,
    Skipped,
    Lost,
}

impl<'a> Agent<'a> {
    /// `client` is `None` for a dry run, which makes no calls and writes nothing.
    pub fn new(config: &'a Config, db: &'a mut Db, client: Option<llm::Client>) -> Self {
        Self {
            policy: crate::pipeline::listen::policy_of(config, db),
            rule: Rule::of(config),
            config,
            db,
            client,
            transcriber: None,
        }
    }

    pub fn with_transcriber(mut self, transcriber: Option<Transcriber>) -> Self {
        self.transcriber = transcriber;
        self
    }

    pub fn run_once(&mut self) -> Result<Summary> {
        let mut summary = Summary::default();
        if self.db.is_paused()? {
            summary.paused = true;
            return Ok(summary);
        }
        let dry_run = self.client.is_none();
        if !dry_run {
            self.note_config_change()?;
        }
        if !self.db.has_pending()? {
            return Ok(summary);
        }
        // `polling.batch_size` bounds one claim, not the run: a run goes on until nothing
        // answerable is due, so a burst is answered whole without waiting for cron.
        loop {
            let before = (summary.turns_with_llm, summary.turns_unreachable);
            let claimed = self.run_batch(&mut summary)?;
            let with_llm = summary.turns_with_llm - before.0;
            let unreachable = summary.turns_unreachable - before.1;
            // A dry run changes nothing, so its next claim would be the same one; and
            // when the LLM was unreachable for a whole batch, the rest waits for the
            // next run too.
            if claimed == 0 || dry_run || (with_llm > 0 && unreachable == with_llm) {
                break;
            }
        }
        Ok(summary)
    }

    /// Claims one batch of turns and answers them; returns how many turns it claimed.
    fn run_batch(&mut self, summary: &mut Summary) -> Result<usize> {
        let dry_run = self.client.is_none();
        let now = clock::now_ms();
        let monitored = self.policy.monitored();
        let token = message_id::new();
        let claimed = self.db.claim_turns(&ClaimRequest {
            monitored: &monitored,
            self_jid: self.policy.self_jid(),
            batch: self.config.file.polling.batch_size.unsigned_abs() as usize,
            now,
            lease_until: now + self.lease_ms(),
            token: &token,
            preview: dry_run,
        })?;
        summary.skipped += claimed.skipped;
        let count = claimed.turns.len() + claimed.skipped;
        let mut turns = claimed.turns.into_iter();
        while let Some(turn) = turns.next() {
            let count = turn.messages.len();
            summary.claimed += count;
            if dry_run {
                summary.dry_run.extend(self.preview(&turn)?);
                continue;
            }
            match self.process(&turn, summary) {
                Ok(Outcome::Answered) => summary.answered += count,
                Ok(Outcome::Deferred { unreachable }) => {
                    summary.deferred += count;
                    summary.turns_unreachable += usize::from(unreachable);
                }
                Ok(Outcome::Failed) => summary.failed += count,
                Ok(Outcome::Skipped) => summary.skipped += count,
                Ok(Outcome::Lost) => {}
                Err(err) => {
                    // The key was refused: no turn can succeed. Leave everything pending.
                    let reason = format!("{err:#}");
                    for rest in std::iter::once(turn).chain(turns) {
                        self.db.annotate_turn(&rest, &reason)?;
                    }
                    return Err(err);
                }
            }
        }
        Ok(count)
    }

    fn lease_ms(&self) -> i64 {
        lease_ms(self.config)
    }

    fn note_config_change(&mut self) -> Result<()> {
        let jids = self.policy.monitored();
        let Some(before) = self
            .db
            .note_config(&self.config.hash, &jids, clock::now_ms())?
        else {
            return Ok(());
        };
        let added: Vec<&String> = jids.iter().filter(|j| !before.contains(j)).collect();
        let removed: Vec<&String> = before.iter().filter(|j| !jids.contains(j)).collect();
        log::info!("configuration changed: entities added {added:?}, removed {removed:?}");
        Ok(())
    }

    /// The entity that answers the turn, or why nobody does: checked before anything
    /// is paid for (a transcription), and again when the request is built.
    fn answered_by(&self, turn: &Turn) -> Result<Entity, SkipReason> {
        let said = turn
            .messages
            .iter()
            .map(|m| (m.content.as_str(), m.mentions.as_slice()));
        self.policy.answers(&turn.chat_jid, said).cloned()
    }

    /// Everything about a turn up to the LLM request, or why there is nothing to ask.
    fn prepare(
        &mut self,
        turn: &Turn,
        seen: media::Seen,
        now: i64,
    ) -> Result<Result<Prepared, SkipReason>> {
        let entity = match self.answered_by(turn) {
            Ok(entity) => entity,
            Err(reason) => return Ok(Err(reason)),
        };
        let group = entity.kind == EntityKind::Group;
        let is_self = self.policy.self_jid() == Some(turn.chat_jid.as_str());
        let stale = (is_self && self.config.file.debug.self_debug).then(|| memory::Staleness {
            idle_ms: self.config.file.debug.stale_session_seconds * 1000,
        });
        let preview = self.client.is_none();
        let memory = memory::load(
            self.db,
            &turn.chat_jid,
            &turn.chat_jid,
            &self.rule,
            stale,
            now,
            preview,
        )?;
        let mut shown = Vec::new();
        if let (true, Some(first)) = (group, turn.messages.first()) {
            shown = self.db.unmentioned_before(
                &turn.chat_jid,
                first.timestamp,
                HOUR_MS,
                GROUP_CONTEXT,
            )?;
        }
        shown.extend(turn.messages.iter().map(|m| {
            let mut m = m.clone();
            if let Some(text) = seen.texts.get(&m.id) {
                m.content = text.clone();
            }
            m
        }));
        let text = prompt::turn_text(&shown, group);
        if text.is_empty() {
            return Ok(Err(SkipReason::NoText));
        }
        let system = prompt::system_prompt(&entity);
        let mut request = prompt::build(&system, &memory.said(), &text);
        // The turn is the last message, always the user's: its images go with it,
        // unless the model refused images lately (the text says `[image] caption`).
        if let Some(last) = request.last_mut()
            && !seen.images.is_empty()
        {
            let llm = &self.config.llm;
            match self
                .db
                .takes_no_images(&llm.endpoint(), &llm.label(), now)?
            {
                Some(why) => log::debug!("{}: images left out: {why}", turn.chat_jid),
                None => last.images = seen.images,
            }
        }
        Ok(Ok(Prepared {
            debug: entity.debug || (is_self && self.config.file.debug.self_debug),
            entity,
            memory,
            text,
            system,
            request,
        }))
    }

    fn preview(&mut self, turn: &Turn) -> Result<Option<DryRunTurn>> {
        let now = clock::now_ms();
        let seen = match self.look(turn, now)? {
            media::Looked::Seen(seen) => seen,
            media::Looked::Wait { .. } | media::Looked::Lost => media::Seen::default(),
        };
        let Ok(p) = self.prepare(turn, seen, now)? else {
            return Ok(None);
        };
        Ok(Some(DryRunTurn {
            chat_jid: turn.chat_jid.clone(),
            entity: p.entity.name,
            messages: turn.messages.len(),
            endpoint: self.config.llm.endpoint(),
            request: llm::request_body(&self.config.llm, &p.request),
        }))
    }

    /// Looks at a turn's media: transcribing in a real run, reading what is stored in
    /// a dry run.
    fn look(&mut self, turn: &Turn, now: i64) -> Result<media::Looked> {
        let looker = media::Looker {
            config: self.config,
            mode: match &self.transcriber {
                Some(t) if self.client.is_some() => media::Mode::Transcribe(t),
                _ => media::Mode::Stored,
            },
            lease_ms: lease_ms(self.config),
        };
        looker.look(self.db, turn, now)
    }

    fn process(&mut self, turn: &Turn, summary: &mut Summary) -> Result<Outcome> {
        let now = clock::now_ms();
        if let Err(reason) = self.answered_by(turn) {
            self.db.release_turn(turn, Release::Skipped { reason })?;
            return Ok(Outcome::Skipped);
        }
        let limit = self.config.file.rate_limit.per_chat_per_minute;
        if self.db.replies_since(&turn.chat_jid, now - MINUTE_MS)? >= limit {
            let at = now + MINUTE_MS / 2;
            self.db.release_turn(
                turn,
                Release::Later {
                    at,
                    error: "rate limited",
                    spent: 0,
                },
            )?;
            return Ok(Outcome::Deferred { unreachable: false });
        }
        let seen = match self.look(turn, now)? {
            media::Looked::Seen(seen) => seen,
            media::Looked::Wait { at, why } => {
                log::info!("{}: {why}", turn.chat_jid);
                let error = &why;
                self.db.release_turn(
                    turn,
                    Release::Later {
                        at,
                        error,
                        spent: 0,
                    },
                )?;
                return Ok(Outcome::Deferred { unreachable: false });
            }
            media::Looked::Lost => return Ok(Outcome::Lost),
        };
        let p = match self.prepare(turn, seen, now)? {
            Ok(p) => p,
            Err(reason) => {
                self.db.release_turn(turn, Release::Skipped { reason })?;
                return Ok(Outcome::Skipped);
            }
        };
        if p.debug {
            self.queue_debug(turn, &p, now)?;
        }
        summary.turns_with_llm += 1;
        let mut answer = match self.ask(turn, &p.request, summary)? {
            Ok(answer) => answer,
            Err(outcome) => return Ok(outcome),
        };
        let max_chars = self.config.max_message_chars();
        // A runaway answer must not become hundreds of messages or a memory that every
        // later request of the chat replays.
        answer.content = reply::capped(&answer.content, max_chars * reply::MAX_PARTS);
        let shown = if self.config.llm.citations {
            reply::with_sources(&answer.content, &answer.citations)
        } else {
            answer.content.clone()
        };
        let reply_to = turn.messages.last().map(|m| m.id.clone());
        let parts = Outgoing::parts(
            &turn.chat_jid,
            &shown,
            max_chars,
            OutboxKind::Reply,
            reply_to.as_deref(),
        );
        let cap = self
            .config
            .file
            .session_memory
            .max_context_messages
            .unsigned_abs() as usize;
        let now = clock::now_ms();
        let sent_as = parts.iter().map(|part| part.message_id.clone()).collect();
        let session = p
            .memory
            .after_exchange(&p.text, &answer.content, sent_as, cap, now);
        if self.db.answer_turn(turn, &parts, &session, now)? {
            Ok(Outcome::Answered)
        } else {
            log::warn!(
                "{}: lease expired before the answer was stored; another run answers it",
                turn.chat_jid
            );
            Ok(Outcome::Lost)
        }
    }

    /// Calls the LLM, retrying briefly; the inner error is how the turn ended instead.
    fn ask(
        &mut self,
        turn: &Turn,
        request: &[ChatMessage],
        summary: &mut Summary,
    ) -> Result<Result<llm::Reply, Outcome>> {
        let Some(client) = &self.client else {
            return Ok(Err(Outcome::Skipped));
        };
        let max_attempts = self.config.file.polling.max_attempts;
        let mut calls = 0;
        let mut request = Cow::Borrowed(request);
        loop {
            // A run that outlived its lease must not pay for a turn another run now owns.
            if !self
                .db
                .renew_claim(turn, clock::now_ms() + self.lease_ms())?
            {
                log::warn!(
                    "{}: the claim was taken over by another run; not asking the LLM",
                    turn.chat_jid
                );
                return Ok(Err(Outcome::Lost));
            }
            let started = Instant::now();
            let result = client.complete(&request);
            calls += 1;
            summary.llm_calls += 1;
            record_call(self.db, client, &turn.chat_jid, &result, started)?;
            let (message, retry_after) = match result {
                Ok(answer) => {
                    if let Some(note) = &answer.note {
                        log::warn!("{}: the answer was {note}", turn.chat_jid);
                    }
                    return Ok(Ok(answer));
                }
                Err(LlmError::Unauthorized { message } | LlmError::Misconfigured { message }) => {
                    return Err(error::config(format!(
                        "{message}; pending messages stay queued"
                    )));
                }
                Err(LlmError::Rejected { message }) => {
                    log::warn!("{}: the LLM rejected the request: {message}", turn.chat_jid);
                    self.db
                        .release_turn(turn, Release::Failed { error: &message })?;
                    return Ok(Err(Outcome::Failed));
                }
                Err(LlmError::TakesNoImages { message }) => {
                    remember_no_images(self.db, &self.config.llm, &message)?;
                    log::warn!(
                        "{}: the model takes no images ({message}); answering from the text",
                        turn.chat_jid
                    );
                    let mut without = request.into_owned();
                    without.iter_mut().for_each(|m| m.images.clear());
                    request = Cow::Owned(without);
                    // The refusal came before any work: ask again at once.
                    (message, Some(Duration::ZERO))
                }
                Err(LlmError::Retryable {
                    message,
                    retry_after,
                }) => (message, retry_after),
            };
            let spent = turn.attempts + calls;
            if spent >= max_attempts {
                let error = format!("gave up after {spent} attempts: {message}");
                log::warn!("{}: {error}", turn.chat_jid);
                self.db
                    .release_turn(turn, Release::Failed { error: &error })?;
                return Ok(Err(Outcome::Failed));
            }
            let wait = retry_after.unwrap_or_else(|| backoff::delay(spent, MAX_BACKOFF));
            if calls < IN_RUN_CALLS && wait <= IN_RUN_MAX_WAIT {
                log::info!("{}: {message}; retrying in {wait:?}", turn.chat_jid);
                std::thread::sleep(wait);
                continue;
            }
            let at = clock::now_ms() + wait.as_millis() as i64;
            log::info!("{}: {message}; next attempt in {wait:?}", turn.chat_jid);
            self.db.release_turn(
                turn,
                Release::Later {
                    at,
                    error: &message,
                    spent: calls,
                },
            )?;
            return Ok(Err(Outcome::Deferred { unreachable: true }));
        }
    }

    fn queue_debug(&mut self, turn: &Turn, p: &Prepared, now: i64) -> Result<()> {
        let last = turn.messages.last().map_or("", |m| m.id.as_str());
        let key = format!("debug/{}/{last}/{}", turn.chat_jid, turn.attempts);
        let content = format!(
            "[debug] user entry:\n{}\n\n[debug] prompt:\n{}\n\n[debug] persona: {}",
            p.text, p.system, p.entity.persona
        );
        self.db.enqueue(
            &Outgoing {
                message_id: message_id::stable(&key),
                chat_jid: turn.chat_jid.clone(),
                content,
                kind: OutboxKind::Debug,
                reply_to_id: None,
            },
            now,
        )?;
        Ok(())
    }
}

fn lease_ms(config: &Config) -> i64 {
    config.file.polling.lease_seconds * 1000
}

struct Prepared {
    entity: Entity,
    memory: memory::Memory,
    text: String,
    system: String,
    request: Vec<ChatMessage>,
    debug: bool,
}

/// A model that refused images is sent none for a day; then one request tries again,
/// in case the server gained a projector.
fn remember_no_images(db: &mut Db, llm: &crate::config::LlmSettings, why: &str) -> Result<()> {
    let now = clock::now_ms();
    db.record_no_images(&llm.endpoint(), &llm.label(), why, now + DAY_MS, now)?;
    Ok(())
}

/// Logs one LLM call with what it consumed, for `stats`.
fn record_call(
    db: &mut Db,
    client: &llm::Client,
    chat_jid: &str,
    result: &Result<llm::Reply, LlmError>,
    started: Instant,
) -> Result<()> {
    let settings = client.settings();
    let usage = result.as_ref().map(|r| r.usage.clone()).unwrap_or_default();
    let model = usage.model.unwrap_or_else(|| settings.label());
    let note = match result {
        Ok(reply) => reply.note.clone(),
        Err(LlmError::TakesNoImages { .. }) => Some("images refused; asked again without".into()),
        Err(_) => None,
    };
    db.record_llm_call(
        &LlmCall {
            chat_jid,
            api: settings.api.name(),
            model: &model,
            outcome: result.as_ref().map_or_else(LlmError::outcome, |_| "ok"),
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cost: usage.cost,
            duration_ms: started.elapsed().as_millis() as i64,
            sources: result.as_ref().ok().map(|r| r.sources() as i64),
            note: note.as_deref(),
        },
        clock::now_ms(),
    )?;
    Ok(())
}

/// The session key of simulated conversations with an entity: never a real chat's.
fn simulated_user(entity: &Entity) -> String {
    format!("simulate:{}", entity.jid)
}

/// Forgets the simulated conversation with `entity`.
pub fn reset_simulation(db: &mut Db, entity: &Entity) -> Result<()> {
    if let Some(row) = db.session(&simulated_user(entity), &entity.jid)? {
        db.delete_session(&row.id)?;
    }
    Ok(())
}

/// One turn of the real pipeline (prompt, persona, memory with its expiry, the LLM) in a
/// simulated session: no chat is read, nothing is queued. Returns the reply as it would
/// be sent.
pub fn simulate(
    config: &Config,
    db: &mut Db,
    client: &llm::Client,
    entity: &Entity,
    text: &str,
) -> Result<String> {
    let rule = Rule::of(config);
    let now = clock::now_ms();
    let user = simulated_user(entity);
    let memory = memory::load(db, &user, &entity.jid, &rule, None, now, false)?;
    let request = prompt::build(&prompt::system_prompt(entity), &memory.said(), text);
    let started = Instant::now();
    let result = client.complete(&request);
    record_call(db, client, &user, &result, started)?;
    let answer = result.map_err(|e| match e {
        LlmError::Unauthorized { message } | LlmError::Misconfigured { message } => {
            error::config(message)
        }
        LlmError::Retryable { message, .. } => error::failure(
            Kind::Temporary,
            format!("the LLM is unreachable: {message}"),
        ),
        // A simulated turn carries no images, so a refusal of them is a refusal.
        LlmError::Rejected { message } | LlmError::TakesNoImages { message } => {
            anyhow::anyhow!("the LLM rejected the request: {message}")
        }
    })?;
    let cap = config
        .file
        .session_memory
        .max_context_messages
        .unsigned_abs() as usize;
    db.save_session(&memory.after_exchange(
        text,
        &answer.content,
        Vec::new(),
        cap,
        clock::now_ms(),
    ))?;
    Ok(if config.llm.citations {
        reply::with_sources(&answer.content, &answer.citations)
    } else {
        answer.content
    })
}

/// A pass that found the LLM unreachable for every turn: exit 75 so cron retries.
pub fn unreachable_error(summary: &Summary) -> anyhow::Error {
    error::failure(
        Kind::Temporary,
        format!(
            "the LLM could not be reached for any of {} chats; {} messages stay pending",
            summary.turns_with_llm, summary.deferred
        ),
    )
}
