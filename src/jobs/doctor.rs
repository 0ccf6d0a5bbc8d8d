//! `wabot doctor`: one look at everything that keeps wabot answering, each finding with
//! the next step when something is wrong.

use anyhow::Result;
use serde::Serialize;

use crate::account::Verdict;
use crate::clock;
use crate::config::{Config, Transport};
use crate::db::Db;
use crate::error::{self, Kind};
use crate::jobs::vitality::Canary;
use crate::whatsapp::device;

#[derive(Debug, Serialize)]
pub struct Finding {
    /// What scripts key on (`device_linked`): the title in snake case, so that it
    /// stays one word however the title is spelled in a table.
    pub id: String,
    /// The title a person reads.
    pub check: &'static str,
    pub ok: bool,
    pub detail: String,
    /// What to do about it, when it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Whether only a person can fix it (a link, a ban); otherwise waiting may do.
    #[serde(skip)]
    pub needs_a_human: bool,
}

fn finding(check: &'static str, ok: bool, detail: impl Into<String>) -> Finding {
    let id = check
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("_");
    Finding {
        id,
        check,
        ok,
        detail: detail.into(),
        next: None,
        needs_a_human: false,
    }
}

impl Finding {
    fn next(mut self, step: impl Into<String>, needs_a_human: bool) -> Self {
        if !self.ok {
            self.next = Some(step.into());
            self.needs_a_human = needs_a_human;
        }
        self
    }
}

/// Quarantined messages listed, newest first.
const QUARANTINE_SHOWN: usize = 5;

pub fn examine(config: &Config, db: &Db) -> Result<Vec<Finding>> {
    let tz = config.timezone();
    let now = clock::now_ms();
    let shown = |t: i64| clock::display(t, tz);
    let mut findings = Vec::new();

    let state = db.account_state()?;
    let web = config.file.transport == Transport::WhatsappWeb;
    if web {
        linked_device(config, &state, now, &mut findings)?;
        sends(config, db, &state, now, &mut findings)?;
    } else {
        let missing: Vec<&str> = config
            .file
            .transport
            .secret_names()
            .iter()
            .copied()
            .filter(|name| config.transport_secrets.get(name).is_none())
            .collect();
        findings.push(
            finding(
                "provider secrets",
                missing.is_empty(),
                if missing.is_empty() {
                    format!("{} secrets set", config.file.transport.name())
                } else {
                    format!("missing: {}", missing.join(", "))
                },
            )
            .next("put them in the environment or .env beside app.json", true),
        );
    }

    let beat = db.heartbeat()?;
    let running = db.listener_running()?;
    let connected = running && beat.as_ref().is_some_and(|b| b.connected);
    let detail = match &beat {
        None => "never ran".to_string(),
        Some(b) if !running => format!("not running (last heartbeat {})", shown(b.updated_at)),
        Some(b) => format!(
            "{} ({})",
            if b.connected {
                "connected"
            } else {
                "running, not connected"
            },
            b.detail.as_deref().unwrap_or(b.state.as_str())
        ),
    };
    let unit = if web { "wabot-listen" } else { "wabot-webhook" };
    findings.push(finding("listener", connected, detail).next(
        if running {
            format!("it retries by itself; `journalctl -u {unit}` says why it is not connected")
        } else {
            format!("`systemctl start {unit}` (or run `wabot listen`)")
        },
        !running,
    ));

    let paused = db.is_paused()?;
    findings.push(
        finding(
            "answering",
            !paused,
            if paused {
                "paused: messages are stored, none answered"
            } else {
                "on"
            },
        )
        .next("`wabot resume` when you want answers again", true),
    );

    findings.push(finding(
        "last send taken by WhatsApp",
        true,
        db.last_sent_at()?
            .map_or_else(|| "none yet".to_string(), shown),
    ));
    if web {
        findings.push(finding(
            "WhatsApp Web version",
            true,
            state
                .client_version
                .map_or_else(|| "the library's own".to_string(), |v| v.to_string()),
        ));
    }
    let quarantined = db.quarantined(QUARANTINE_SHOWN)?;
    let listed: Vec<String> = quarantined
        .iter()
        .map(|q| format!("{} in {} ({})", q.message_id, q.chat_jid, q.reason))
        .collect();
    // Information, not a fault: they are kept for a newer wabot to read.
    findings.push(finding(
        "quarantined messages",
        true,
        if listed.is_empty() {
            "none".to_string()
        } else {
            format!("{} (newest; see `wabot stats`)", listed.join("; "))
        },
    ));
    findings.push(finding(
        "LID mappings known",
        true,
        db.lid_mappings()?.to_string(),
    ));
    if let Some(var) = &config.llm.api_key_env {
        let set = config.api_key.is_some();
        findings.push(
            finding(
                "LLM key",
                set,
                format!("{var} {}", if set { "set" } else { "missing" }),
            )
            .next(
                format!("put {var} in the environment or .env beside app.json"),
                true,
            ),
        );
    } else {
        findings.push(finding(
            "LLM key",
            true,
            "none sent (api_key_env is null)".to_string(),
        ));
    }
    let t = &config.file.transcription;
    if let (true, Some(var)) = (t.enabled, &t.api_key_env) {
        let set = config.transcription_key.is_some();
        findings.push(
            finding(
                "transcription key",
                set,
                format!("{var} {}", if set { "set" } else { "missing" }),
            )
            .next(
                format!("put {var} (transcription.api_key_env) in the environment or .env beside app.json"),
                true,
            ),
        );
    }
    Ok(findings)
}

/// The linked device's own findings: the link and the account's standing.
fn linked_device(
    config: &Config,
    state: &crate::db::AccountState,
    now: i64,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let shown = |t: i64| clock::display(t, config.timezone());
    let linked = device::paired_as(&config.device_store_path())?;
    findings.push(
        finding(
            "device linked",
            linked.is_some(),
            linked
                .as_deref()
                .map_or("no linked device".into(), device::display_number),
        )
        .next("run `wabot pair` (or `wabot pair --phone NUMBER`)", true),
    );

    if let (Some(at), Some(reason)) = (state.refused_at, &state.refusal_reason) {
        findings.push(
            finding(
                "connection",
                false,
                format!("WhatsApp refused the connection at {} ({reason})", shown(at)),
            )
            .next(
                "check the account on the phone, then start the listener again (`systemctl start wabot-listen`)",
                true,
            ),
        );
    }
    let refusal = state.refusal(now);
    findings.push(
        finding(
            "standing",
            refusal.is_none(),
            refusal.as_ref().map_or_else(
                || "no ban, no logout".to_string(),
                |v| v.failure(config.timezone()).to_string(),
            ),
        )
        .next(
            match &refusal {
                Some(Verdict::Banned { until, .. }) => {
                    format!(
                        "wait until {}; `wabot listen` refuses to connect before",
                        shown(*until)
                    )
                }
                _ => "run `wabot pair --force`, then start the listener".to_string(),
            },
            true,
        ),
    );

    Ok(())
}

/// Whether the linked device's sends reach people: replies without a receipt, the
/// reachout timelock, and how far the last canary got.
fn sends(
    config: &Config,
    db: &Db,
    state: &crate::db::AccountState,
    now: i64,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let shown = |t: i64| clock::display(t, config.timezone());
    let unconfirmed = db.stats()?.outbox.unconfirmed;
    findings.push(
        finding(
            "delivery receipts",
            unconfirmed == 0,
            if unconfirmed == 0 {
                "every accepted send older than whatsapp.delivery_timeout_minutes has its receipt"
                    .to_string()
            } else {
                format!("{unconfirmed} accepted sends have no delivery receipt (unconfirmed)")
            },
        )
        .next(
            "they go again, with their ids, after the next reconnect; `wabot outbox list --status unconfirmed` lists them",
            false,
        ),
    );
    let timelock = state.reachout_timelock(now);
    findings.push(
        finding(
            "new contacts",
            timelock.is_none(),
            timelock.map_or_else(
                || "no reachout timelock".to_string(),
                |until| {
                    format!(
                        "WhatsApp refuses first messages to contacts who never wrote (error 463) until about {}",
                        shown(until)
                    )
                },
            ),
        )
        .next(
            "wait until then (each refused attempt prolongs it); replies to people who wrote first still go",
            false,
        ),
    );
    if let Some(row) = db.last_canary()? {
        let canary = Canary::of(&row);
        let waited = i64::from(config.file.vitality.canary_seconds) * 1000;
        let on_its_way = canary != Canary::Failed && now - row.created_at < waited;
        findings.push(
            finding(
                "end-to-end canary",
                canary == Canary::Confirmed || on_its_way,
                if on_its_way && canary != Canary::Confirmed {
                    format!("the last one ({}) is on its way", shown(row.created_at))
                } else {
                    format!(
                        "the last one ({}): {}",
                        shown(row.created_at),
                        canary.explain()
                    )
                },
            )
            .next("run `wabot vitality` again once fixed", false),
        );
    }
    Ok(())
}

/// The exit status the findings call for: 69 when a person must act, 75 when waiting
/// may do, success otherwise.
pub fn verdict(findings: &[Finding]) -> Result<()> {
    let bad: Vec<&Finding> = findings.iter().filter(|f| !f.ok).collect();
    if bad.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = bad.iter().map(|f| f.check).collect();
    let kind = if bad.iter().any(|f| f.needs_a_human) {
        Kind::Unavailable
    } else {
        Kind::Temporary
    };
    Err(error::failure(
        kind,
        format!("needs attention: {}", names.join(", ")),
    ))
}
