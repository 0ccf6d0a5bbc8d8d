//! The account's standing with WhatsApp: bans, logouts, the client version to use.

use crate::Result;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::Db;
use wabot_core::account::{Standing, Verdict};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AccountState {
    pub banned_until: Option<i64>,
    pub ban_reason: Option<String>,
    pub logged_out_at: Option<i64>,
    pub logout_reason: Option<String>,
    /// `major.minor.patch` of WhatsApp Web, when the server asked for a newer one.
    pub client_version: Option<String>,
    /// When WhatsApp last refused a first message to a new contact (error 463).
    pub reachout_refused_at: Option<i64>,
    /// When the reachout timelock ends, as the server reported it.
    pub reachout_until: Option<i64>,
    /// The last refusal of the connection no reconnect cures, and why.
    pub refused_at: Option<i64>,
    pub refusal_reason: Option<String>,
}

/// How long a 463 refusal is assumed to restrict new contacts when the server did not
/// say when its timelock ends.
pub const REACHOUT_ASSUMED_MS: i64 = 24 * 3_600_000;

/// The account's one state row, created on the first change.
pub(super) fn ensure_row(tx: &rusqlite::Transaction, now: i64) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO account_state (id, updated_at) VALUES (1, ?1)",
        [now],
    )?;
    Ok(())
}

/// (chat, sender): one read receipt covers messages of one sender in one chat.
pub type ChatSender = (String, String);

impl AccountState {
    /// Why connecting now would be wrong, if it would: a ban that has not run out, or a
    /// logout no pairing has undone.
    pub fn refusal(&self, now: i64) -> Option<Verdict> {
        if let (Some(until), reason) = (self.banned_until, &self.ban_reason)
            && until > now
        {
            return Some(Verdict::Banned {
                until,
                reason: reason.clone().unwrap_or_default(),
            });
        }
        self.logged_out_at.map(|_| Verdict::LoggedOut {
            reason: self.logout_reason.clone().unwrap_or_default(),
        })
    }
}

impl AccountState {
    /// Until when first messages to new contacts are refused, if a timelock holds now:
    /// the server's end when it said one, else a day after the last 463 refusal.
    pub fn reachout_timelock(&self, now: i64) -> Option<i64> {
        let until = match (self.reachout_until, self.reachout_refused_at) {
            // A refusal after the announced end starts a new timelock of unknown length.
            (Some(until), Some(refused)) if refused > until => refused + REACHOUT_ASSUMED_MS,
            (Some(until), _) => until,
            (None, Some(refused)) => refused + REACHOUT_ASSUMED_MS,
            (None, None) => return None,
        };
        (until > now).then_some(until)
    }
}

impl Db {
    pub fn account_state(&self) -> Result<AccountState> {
        Ok(self
            .conn
            .query_row(
                "SELECT banned_until, ban_reason, logged_out_at, logout_reason, client_version,
                     reachout_refused_at, reachout_until, refused_at, refusal_reason
                 FROM account_state WHERE id = 1",
                [],
                |r| {
                    Ok(AccountState {
                        banned_until: r.get("banned_until")?,
                        ban_reason: r.get("ban_reason")?,
                        logged_out_at: r.get("logged_out_at")?,
                        logout_reason: r.get("logout_reason")?,
                        client_version: r.get("client_version")?,
                        reachout_refused_at: r.get("reachout_refused_at")?,
                        reachout_until: r.get("reachout_until")?,
                        refused_at: r.get("refused_at")?,
                        refusal_reason: r.get("refusal_reason")?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    pub fn record_standing(&mut self, change: Standing, now: i64) -> Result<()> {
        // ?2 and ?3 are always bound; each change sets the columns it is about.
        let (set, at, text) = match change {
            Standing::Banned { until, reason } => (
                "banned_until = ?2, ban_reason = ?3",
                Some(until),
                Some(reason),
            ),
            Standing::LoggedOut { reason } => (
                "logged_out_at = ?2, logout_reason = ?3",
                Some(now),
                Some(reason),
            ),
            Standing::Linked => (
                "banned_until = ?2, ban_reason = ?3, logged_out_at = ?2, logout_reason = ?3,
                 refused_at = ?2, refusal_reason = ?3",
                None,
                None,
            ),
            Standing::Refused { reason } => (
                "refused_at = ?2, refusal_reason = ?3",
                Some(now),
                Some(reason),
            ),
            Standing::Connected => ("refused_at = ?2, refusal_reason = ?3", None, None),
            Standing::ClientVersion(v) => ("client_version = coalesce(?3, ?2)", None, Some(v)),
            Standing::Reachout { until } => return self.record_reachout_timelock(until, now),
        };
        self.in_write(|tx| {
            ensure_row(tx, now)?;
            tx.execute(
                &format!("UPDATE account_state SET {set}, updated_at = ?1 WHERE id = 1"),
                params![now, at, text],
            )?;
            Ok(())
        })
    }

    /// The reachout timelock's end as WhatsApp reports it (`None`: none holds).
    pub fn record_reachout_timelock(&mut self, until: Option<i64>, now: i64) -> Result<()> {
        self.in_write(|tx| {
            ensure_row(tx, now)?;
            tx.execute(
                "UPDATE account_state SET reachout_until = ?2, updated_at = ?1,
                     reachout_refused_at = CASE WHEN ?2 IS NULL THEN NULL ELSE reachout_refused_at END
                 WHERE id = 1",
                params![now, until],
            )?;
            Ok(())
        })
    }

    /// Whether anyone in `chat_jid` ever wrote to the account: a send there needs no
    /// reachout (WhatsApp's privacy token exists once a contact wrote first).
    pub fn has_written_to_us(&self, chat_jid: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE chat_jid = ?1 AND is_from_me = 0) AS yes",
            [chat_jid],
            |r| r.get("yes"),
        )?)
    }

    /// Inbound messages answered since `since` and not yet marked read, grouped by
    /// (chat, sender) as read receipts are sent.
    pub fn answered_unread(
        &self,
        since: i64,
        limit: usize,
    ) -> Result<Vec<(ChatSender, Vec<String>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT chat_jid, sender, id FROM messages
             WHERE status = 'answered' AND is_from_me = 0 AND read_receipt_at IS NULL
               AND timestamp >= ?1
             ORDER BY chat_jid, sender, timestamp LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![since, limit as i64], |r| {
            Ok((
                r.get::<_, String>("chat_jid")?,
                r.get::<_, String>("sender")?,
                r.get::<_, String>("id")?,
            ))
        })?;
        let mut grouped: Vec<(ChatSender, Vec<String>)> = Vec::new();
        for row in rows {
            let (chat, sender, id) = row?;
            match grouped.last_mut() {
                Some((key, ids)) if key.0 == chat && key.1 == sender => ids.push(id),
                _ => grouped.push(((chat, sender), vec![id])),
            }
        }
        Ok(grouped)
    }

    pub fn mark_read_receipts(&mut self, chat: &str, ids: &[String], now: i64) -> Result<()> {
        self.in_write(|tx| {
            for id in ids {
                tx.execute(
                    "UPDATE messages SET read_receipt_at = ?3 WHERE chat_jid = ?1 AND id = ?2",
                    params![chat, id, now],
                )?;
            }
            Ok(())
        })
    }

    /// LID ↔ phone mappings known.
    pub fn lid_mappings(&self) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT count(*) AS n FROM contacts WHERE lid IS NOT NULL",
            [],
            |r| r.get("n"),
        )?)
    }

    /// When WhatsApp last took a message of the outbox.
    pub fn last_sent_at(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT max(sent_at) AS at FROM outbox", [], |r| r.get("at"))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ban_and_a_logout_are_kept_until_the_account_is_linked_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        assert_eq!(db.account_state().unwrap(), AccountState::default());
        db.record_standing(
            Standing::Banned {
                until: 5_000,
                reason: "101: spam",
            },
            1,
        )
        .unwrap();
        db.record_standing(Standing::ClientVersion("2.3000.1"), 2)
            .unwrap();
        db.record_standing(
            Standing::LoggedOut {
                reason: "unlinked on the phone",
            },
            3,
        )
        .unwrap();
        let s = db.account_state().unwrap();
        assert_eq!((s.banned_until, s.logged_out_at), (Some(5_000), Some(3)));
        assert_eq!(s.client_version.as_deref(), Some("2.3000.1"));
        db.record_standing(Standing::Linked, 4).unwrap();
        let s = db.account_state().unwrap();
        assert_eq!((s.banned_until, s.logged_out_at), (None, None));
        assert_eq!(
            s.client_version.as_deref(),
            Some("2.3000.1"),
            "the version stays"
        );
    }

    #[test]
    fn read_receipts_go_to_recently_answered_messages_once() {
        use crate::message::{MessageStatus, NewMessage, Origin};
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let group = "120363041234567890@g.us";
        let message = |id: &str, sender: &str, at: i64| NewMessage {
            sender: sender.into(),
            ..NewMessage::text(Origin::Live, group, id, at, "hi")
        };
        let bob = "15550002222@s.whatsapp.net";
        let carol = "15550003333@s.whatsapp.net";
        let now = crate::clock::now_ms();
        db.ingest(
            vec![
                message("old", bob, now - 7_200_000),
                message("b1", bob, now - 60_000),
                message("b2", bob, now - 50_000),
                message("c1", carol, now - 40_000),
            ],
            &|_| Some(MessageStatus::Pending),
        )
        .unwrap();
        db.in_write(|tx| Ok(tx.execute("UPDATE messages SET status = 'answered'", [])?))
            .unwrap();
        let due = db.answered_unread(now - 3_600_000, 50).unwrap();
        let key = |s: &str| (group.to_string(), s.to_string());
        assert_eq!(
            due,
            vec![
                (key(bob), vec!["b1".to_string(), "b2".to_string()]),
                (key(carol), vec!["c1".to_string()]),
            ],
            "grouped by sender, the old backlog left alone"
        );
        db.mark_read_receipts(group, &["b1".into(), "b2".into()], now)
            .unwrap();
        assert_eq!(db.answered_unread(now - 3_600_000, 50).unwrap().len(), 1);
    }

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn a_ban_is_refused_until_it_ends_and_a_logout_until_the_device_is_linked() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        assert_eq!(db.account_state().unwrap().refusal(NOW), None);
        let ban = Verdict::Banned {
            until: NOW + 90 * 60_000,
            reason: "too many blocks".into(),
        };
        db.record_standing(ban.as_standing().unwrap(), NOW).unwrap();
        let state = db.account_state().unwrap();
        assert_eq!(state.refusal(NOW + 60_000), Some(ban));
        assert_eq!(state.refusal(NOW + 91 * 60_000), None, "the ban ran out");
        let out = Verdict::LoggedOut {
            reason: "Device removed".into(),
        };
        db.record_standing(out.as_standing().unwrap(), NOW).unwrap();
        assert_eq!(
            db.account_state().unwrap().refusal(NOW + 91 * 60_000),
            Some(out)
        );
        db.record_standing(Standing::Linked, NOW).unwrap();
        assert_eq!(db.account_state().unwrap().refusal(NOW), None);
        db.record_standing(Standing::ClientVersion("2.3000.1"), NOW)
            .unwrap();
        assert_eq!(
            db.account_state().unwrap().client_version.as_deref(),
            Some("2.3000.1")
        );
    }
}
