//! Conversation memory: one session per (user, chat), expiring by the configured rule
//! and re-checked on every load so old context never leaks into a new conversation.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::db::{Db, SessionRow};
use crate::expiry::{self, Rule};
use crate::llm::Role;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub role: Role,
    pub content: String,
    pub timestamp: i64,
    /// A reply's outbox message ids: it counts as said only once they are accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sent_as: Vec<String>,
}

/// A loaded (or new) session and its context.
pub struct Memory {
    pub row: SessionRow,
    pub entries: Vec<Entry>,
    /// Outbox ids of replies in `entries` not (yet) accepted.
    unsaid: Vec<String>,
}

/// When an idle session counts as stale regardless of its expiry (self-debug chats).
pub struct Staleness {
    pub idle_ms: i64,
}

/// The live session of `user` in `chat`, or a fresh one if there is none, it expired
/// (by its stored expiry or by the current rule), or it went stale.
pub fn load(
    db: &mut Db,
    user: &str,
    chat: &str,
    rule: &Rule,
    stale: Option<Staleness>,
    now: i64,
    read_only: bool,
) -> Result<Memory> {
    if let Some(row) = db.session(user, chat)? {
        let expired = now >= row.expires_at || now >= expiry::expires_at(row.created_at, rule);
        let stale = stale.is_some_and(|s| now - row.last_activity > s.idle_ms);
        if !expired && !stale {
            let entries = serde_json::from_str(&row.context).unwrap_or_else(|e| {
                log::warn!(
                    "session {} has unreadable context, starting afresh: {e}",
                    row.id
                );
                Vec::new()
            });
            let unsaid = unsaid(db, &entries)?;
            return Ok(Memory {
                row,
                entries,
                unsaid,
            });
        }
        log::info!(
            "session {} ended ({}), starting a new one",
            row.id,
            if expired { "expired" } else { "stale" }
        );
        if !read_only {
            db.delete_session(&row.id)?;
        }
    }
    Ok(Memory {
        row: SessionRow {
            id: format!("{user}_{chat}_{}", now / 1000),
            user_jid: user.to_string(),
            chat_jid: chat.to_string(),
            context: "[]".into(),
            created_at: now,
            expires_at: expiry::expires_at(now, rule),
            last_activity: now,
        },
        entries: Vec::new(),
        unsaid: Vec::new(),
    })
}

/// The outbox ids of the replies in `entries` that WhatsApp (or the provider) did not
/// accept yet, or refused. A reply whose rows were cleaned up long since was settled.
fn unsaid(db: &Db, entries: &[Entry]) -> Result<Vec<String>> {
    let ids: Vec<String> = entries.iter().flat_map(|e| e.sent_as.clone()).collect();
    if ids.is_empty() {
        return Ok(ids);
    }
    Ok(db.outbox_ids_not_taken(&ids)?)
}

impl Memory {
    /// The conversation as the chat saw it, for the next request: without the replies
    /// not accepted (yet). They stay stored: one accepted later counts from then on.
    pub fn said(&self) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|e| !e.sent_as.iter().any(|id| self.unsaid.contains(id)))
            .cloned()
            .collect()
    }

    /// The session after this exchange, keeping only the newest `cap` entries.
    /// `sent_as` names the reply's outbox rows (none for a simulated conversation).
    pub fn after_exchange(
        mut self,
        user: &str,
        assistant: &str,
        sent_as: Vec<String>,
        cap: usize,
        now: i64,
    ) -> SessionRow {
        self.entries.push(Entry {
            role: Role::User,
            content: user.to_string(),
            timestamp: now,
            sent_as: Vec::new(),
        });
        self.entries.push(Entry {
            role: Role::Assistant,
            content: assistant.to_string(),
            timestamp: now,
            sent_as,
        });
        let excess = self.entries.len().saturating_sub(cap);
        self.entries.drain(..excess);
        self.row.context = serde_json::to_string(&self.entries).unwrap_or_else(|_| "[]".into());
        self.row.last_activity = now;
        self.row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SessionMode, TimeOfDay};
    use crate::db::{OutboxKind, Outgoing};
    use crate::outbox::{Delivery, DeliveryUpdate};

    const USER: &str = "15550001111@s.whatsapp.net";

    fn rule() -> Rule {
        Rule {
            mode: SessionMode::Duration,
            reset_time: TimeOfDay::parse("00:00").unwrap(),
            reset_hours: 24,
            zone: chrono_tz::UTC,
        }
    }

    #[test]
    fn replies_never_enter_memory_before_they_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let now = crate::clock::now_ms();
        let reply = Outgoing::parts(USER, "the answer", 1000, OutboxKind::Reply, None);
        db.enqueue_all(&reply, now).unwrap();
        let ids: Vec<String> = reply.iter().map(|r| r.message_id.clone()).collect();
        let memory = load(&mut db, USER, USER, &rule(), None, now, false).unwrap();
        db.save_session(&memory.after_exchange("the question", "the answer", ids.clone(), 10, now))
            .unwrap();

        let roles = |db: &mut Db| -> Vec<Role> {
            let memory = load(db, USER, USER, &rule(), None, now, true).unwrap();
            memory.said().iter().map(|e| e.role).collect()
        };
        assert_eq!(roles(&mut db), [Role::User], "queued is not said");
        let accepted = DeliveryUpdate {
            provider_id: None,
            own_id: Some(ids[0].clone()),
            delivery: Delivery::Accepted,
            error_code: None,
            error: None,
            at: now,
        };
        db.apply_delivery(&accepted, USER).unwrap();
        assert_eq!(
            roles(&mut db),
            [Role::User, Role::Assistant],
            "accepted is said"
        );
    }
}
