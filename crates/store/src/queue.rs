//! The agent's queue: pending messages are claimed per chat with a lease, and every
//! outcome (answered, retried later, failed, skipped) is one transaction.

use crate::Result;
use rusqlite::{Transaction, named_params, params};

use super::Db;
use crate::policy::SkipReason;

/// A pending message as the agent sees it.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub id: String,
    pub sender: String,
    pub push_name: Option<String>,
    pub content: String,
    pub timestamp: i64,
    pub mentions: Vec<String>,
}

/// All pending messages of one chat, leased to one run under `token`.
#[derive(Debug)]
pub struct Turn {
    pub chat_jid: String,
    pub token: String,
    pub messages: Vec<QueuedMessage>,
    /// LLM attempts already spent on these messages.
    pub attempts: i64,
}

pub struct ClaimRequest<'a> {
    /// Canonical JIDs of the monitored chats.
    pub monitored: &'a [String],
    /// The account's own chat, where the owner's messages are input.
    pub self_jid: Option<&'a str>,
    pub batch: usize,
    pub now: i64,
    pub lease_until: i64,
    pub token: &'a str,
    /// Show what would be claimed without claiming it (dry run).
    pub preview: bool,
}

#[derive(Debug, Default)]
pub struct Claimed {
    pub turns: Vec<Turn>,
    /// Messages set aside while claiming: echoes of our own sends, the owner's messages
    /// outside the self chat, chats no longer monitored.
    pub skipped: usize,
}

/// How a claimed turn ends when it was not answered.
pub enum Release<'a> {
    /// Try again at `at`; `spent` is how many attempts this counts as.
    Later {
        at: i64,
        error: &'a str,
        spent: i64,
    },
    Failed {
        error: &'a str,
    },
    Skipped {
        reason: SkipReason,
    },
}

impl Db {
    /// Claims up to `batch` chats with pending work, oldest first. A chat that another
    /// run holds a live lease on is left alone, so a chat is answered by one run at a time.
    pub fn claim_turns(&mut self, req: &ClaimRequest) -> Result<Claimed> {
        let tx = self.write()?;
        let mut claimed = Claimed {
            skipped: set_aside(&tx, req)?,
            ..Claimed::default()
        };
        let chats: Vec<String> = {
            let mut stmt = tx.prepare_cached(
                "SELECT chat_jid FROM messages
                 WHERE status = 'pending'
                   AND chat_jid NOT IN (SELECT chat_jid FROM chat_tracking WHERE excluded = 1)
                 GROUP BY chat_jid
                 HAVING max(coalesce(claim_until, 0)) < :now
                    AND min(coalesce(next_attempt_at, 0)) <= :now
                 ORDER BY min(timestamp)
                 LIMIT :batch",
            )?;
            stmt.query_map(
                named_params! {":now": req.now, ":batch": req.batch as i64},
                |r| r.get("chat_jid"),
            )?
            .collect::<rusqlite::Result<_>>()?
        };
        for chat_jid in chats {
            let mut stmt = tx.prepare_cached(
                "UPDATE messages SET claim_token = ?1, claim_until = ?2
                 WHERE status = 'pending' AND chat_jid = ?3
                 RETURNING id, sender, push_name, content, timestamp, mentions, attempts",
            )?;
            let mut attempts = 0;
            let mut messages: Vec<QueuedMessage> = stmt
                .query_map(params![req.token, req.lease_until, chat_jid], |r| {
                    attempts = attempts.max(r.get::<_, i64>("attempts")?);
                    QueuedMessage::from_row(r)
                })?
                .collect::<rusqlite::Result<_>>()?;
            // A mapping learnt after a message was stored (the bot's own LID, say) still
            // counts when the turn is judged.
            for m in &mut messages {
                m.mentions = super::messages::resolve_all(&tx, std::mem::take(&mut m.mentions))?;
            }
            messages.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
            claimed.turns.push(Turn {
                chat_jid,
                token: req.token.to_string(),
                messages,
                attempts,
            });
        }
        if !req.preview {
            tx.commit()?;
        }
        Ok(claimed)
    }

    /// Extends the lease of a turn before a long step, so no other run takes it over.
    /// Extends this run's lease on a turn; false when another run has taken it over.
    pub fn renew_claim(&mut self, turn: &Turn, until: i64) -> Result<bool> {
        self.in_write(|tx| {
            let held = tx.execute(
                "UPDATE messages SET claim_until = ?1
                 WHERE chat_jid = ?2 AND claim_token = ?3 AND status = 'pending'",
                params![until, turn.chat_jid, turn.token],
            )?;
            Ok(held > 0)
        })
    }

    /// Makes failed inbound messages pending again with a fresh attempt budget (all, or
    /// one chat's). Returns how many.
    pub fn requeue_failed(&mut self, chat: Option<&str>) -> Result<usize> {
        self.in_write(|tx| {
            let requeued = tx.execute(
                "UPDATE messages SET status = 'pending', attempts = 0, next_attempt_at = NULL,
                     last_error = NULL, claim_token = NULL, claim_until = NULL
                 WHERE status = 'failed' AND is_from_me = 0 AND (?1 IS NULL OR chat_jid = ?1)",
                [chat],
            )?;
            Ok(requeued)
        })
    }

    /// Ends a turn without an answer.
    pub fn release_turn(&mut self, turn: &Turn, release: Release) -> Result<()> {
        self.in_write(|tx| {
            let (status, error, next, spent, skip) = match release {
                Release::Later { at, error, spent } => ("pending", error, Some(at), spent, None),
                Release::Failed { error } => ("failed", error, None, 1, None),
                Release::Skipped { reason } => {
                    ("skipped", reason.describe(), None, 0, Some(reason.as_str()))
                }
            };
            tx.execute(
                "UPDATE messages SET status = ?1, last_error = ?2, next_attempt_at = ?3,
                     attempts = attempts + ?4, skip_reason = ?7,
                     claim_token = NULL, claim_until = NULL
                 WHERE chat_jid = ?5 AND claim_token = ?6 AND status = 'pending'",
                params![status, error, next, spent, turn.chat_jid, turn.token, skip],
            )?;
            Ok(())
        })
    }

    /// Records that pending work was found unanswerable for the run as a whole (the key
    /// was refused): the messages stay pending and say why.
    pub fn annotate_turn(&mut self, turn: &Turn, error: &str) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "UPDATE messages SET last_error = ?1, claim_token = NULL, claim_until = NULL
                 WHERE chat_jid = ?2 AND claim_token = ?3",
                params![error, turn.chat_jid, turn.token],
            )?;
            Ok(())
        })
    }

    /// What a group said without mentioning the bot in the `window` before `before` and
    /// after its last answered message, oldest first: context for the question.
    pub fn unmentioned_before(
        &self,
        chat_jid: &str,
        before: i64,
        window: i64,
        limit: usize,
    ) -> Result<Vec<QueuedMessage>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, sender, push_name, content, timestamp, mentions FROM messages
             WHERE chat_jid = ?1 AND timestamp < ?2 AND status = 'skipped'
               AND skip_reason = ?5
               AND timestamp > max(?2 - ?3, coalesce(
                   (SELECT timestamp FROM messages WHERE chat_jid = ?1 AND status = 'answered'
                    ORDER BY timestamp DESC LIMIT 1), 0))
             ORDER BY timestamp DESC LIMIT ?4",
        )?;
        let not_mentioned = SkipReason::NotMentioned.as_str();
        let mut rows: Vec<QueuedMessage> = stmt
            .query_map(
                params![chat_jid, before, window, limit as i64, not_mentioned],
                QueuedMessage::from_row,
            )?
            .collect::<rusqlite::Result<_>>()?;
        rows.reverse();
        Ok(rows)
    }

    /// Whether anything at all is pending: the fast path of a cron run with nothing to do.
    pub fn has_pending(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE status = 'pending') AS pending",
            [],
            |r| r.get("pending"),
        )?)
    }
}

impl QueuedMessage {
    /// A message from the columns `id, sender, push_name, content, timestamp, mentions`.
    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Self> {
        Ok(QueuedMessage {
            id: r.get("id")?,
            sender: r.get("sender")?,
            push_name: r.get("push_name")?,
            content: r.get("content")?,
            timestamp: r.get("timestamp")?,
            mentions: super::mentions(r.get("mentions")?),
        })
    }
}

/// Marks pending messages that must never be answered as skipped, with the reason: the
/// SQL form of [`crate::policy`]'s rules for own messages and unmonitored chats, so a
/// whole backlog is set aside in one statement.
fn set_aside(tx: &Transaction, req: &ClaimRequest) -> Result<usize> {
    let own = SkipReason::OwnMessage;
    let own = tx.execute(
        "UPDATE messages SET status = 'skipped', last_error = ?2, skip_reason = ?3,
             claim_token = NULL, claim_until = NULL
         WHERE status = 'pending'
           AND (is_from_me = 1 AND chat_jid IS NOT ?1
                OR EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = messages.id))",
        params![req.self_jid, own.describe(), own.as_str()],
    )?;
    let unmonitored = SkipReason::NotMonitored;
    let unmonitored = tx.execute(
        "UPDATE messages SET status = 'skipped', last_error = ?2, skip_reason = ?3,
             claim_token = NULL, claim_until = NULL
         WHERE status = 'pending' AND chat_jid NOT IN (SELECT value FROM json_each(?1))",
        params![
            serde_json::json!(req.monitored).to_string(),
            unmonitored.describe(),
            unmonitored.as_str()
        ],
    )?;
    Ok(own + unmonitored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MessageStatus, NewMessage, Origin};
    use crate::policy::Policy;

    const ALICE: &str = "15550001111@s.whatsapp.net";
    const OWN: &str = "15550009999@s.whatsapp.net";
    const STRANGER: &str = "15550007777@s.whatsapp.net";
    const GROUP: &str = "120363041234567890@g.us";

    /// What core's rules say of a pending message that claiming meets: the owner's
    /// message outside the self chat never arrives as a turn, and a chat that is not
    /// monitored is never answered. `set_aside` is the SQL form of exactly this.
    fn by_the_rules(policy: &Policy, m: &NewMessage) -> Option<SkipReason> {
        if m.is_from_me && policy.on_arrival(m) != Some(MessageStatus::Pending) {
            return Some(SkipReason::OwnMessage);
        }
        let said = std::iter::once((m.content.as_str(), m.mentions.as_slice()));
        match policy.answers(&m.chat_jid, said) {
            Err(SkipReason::NotMonitored) => Some(SkipReason::NotMonitored),
            _ => None,
        }
    }

    #[test]
    fn set_aside_agrees_with_the_policy_on_every_chat_and_sender() {
        let policy = Policy::for_tests(&[ALICE, OWN, GROUP], Some(OWN), false);
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let mut cases = Vec::new();
        for chat in [ALICE, OWN, STRANGER, GROUP] {
            for from_me in [false, true] {
                let mut m = NewMessage::text(
                    Origin::Live,
                    chat,
                    format!("{chat}-{from_me}"),
                    1_700_000_000_000,
                    "hello",
                );
                m.is_from_me = from_me;
                m.sender = if from_me { OWN } else { ALICE }.to_string();
                cases.push((by_the_rules(&policy, &m), m));
            }
        }
        // Every case stored pending, as an older version or a changed app.json leaves it.
        let batch = cases.iter().map(|(_, m)| m.clone()).collect();
        db.ingest(batch, &|_| Some(MessageStatus::Pending)).unwrap();
        let monitored = policy.monitored();
        db.claim_turns(&ClaimRequest {
            monitored: &monitored,
            self_jid: policy.self_jid(),
            batch: 10,
            now: 1,
            lease_until: 2,
            token: "t",
            preview: false,
        })
        .unwrap();
        for (expected, m) in &cases {
            let stored: Option<String> = db
                .conn
                .query_row(
                    "SELECT skip_reason FROM messages WHERE chat_jid = ?1 AND id = ?2",
                    params![m.chat_jid, m.id],
                    |r| r.get("skip_reason"),
                )
                .unwrap();
            assert_eq!(
                stored.as_deref(),
                expected.map(SkipReason::as_str),
                "{} from_me={}",
                m.chat_jid,
                m.is_from_me
            );
        }
        assert!(
            cases.iter().any(|(e, _)| e.is_none()) && cases.iter().any(|(e, _)| e.is_some()),
            "the table has both outcomes"
        );
    }
}
