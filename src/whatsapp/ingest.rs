//! Storing what the listener receives, inside whatsapp-rust's durability hook: the
//! library acknowledges a batch only after this committed it, so a crash loses nothing;
//! a redelivered batch is harmless because every step is idempotent.

use std::sync::{Arc, Mutex, RwLock};

use anyhow::Result;
use whatsapp_rust::prelude::*;

use super::convert::{self, Inbound};
use crate::db::Db;
use crate::policy::Policy;

/// Stores one batch: identities first, then messages, then edits and revokes.
pub fn store(
    db: &mut Db,
    policy: &Policy,
    batch: Vec<(Inbound, Option<(String, String)>)>,
) -> Result<()> {
    for (lid, phone) in batch.iter().filter_map(|(_, m)| m.as_ref()) {
        db.record_lid(lid, phone)?;
    }
    let mut messages = Vec::new();
    let mut changes = Vec::new();
    for (inbound, _) in batch {
        match inbound {
            Inbound::Message(mut m) => {
                if let Some(media) = m.media.as_mut() {
                    media.fetch = policy.downloads_media(&db.canonical_jid(&m.chat_jid)?);
                }
                messages.push(m);
            }
            Inbound::Skip(reason) => log::debug!("not stored: {reason}"),
            change => changes.push(change),
        }
    }
    let report = db.ingest(messages, &|m| policy.on_arrival(m))?;
    for rejected in &report.rejected {
        log::warn!("a received message was not stored: {}", rejected.reason);
    }
    for change in changes {
        match change {
            Inbound::Edit {
                chat_jid,
                id,
                content,
                at,
            } => {
                db.apply_edit(&chat_jid, &id, &content, at)?;
            }
            Inbound::Revoke { chat_jid, id, at } => {
                db.apply_revoke(&chat_jid, &id, at)?;
            }
            Inbound::Message(_) | Inbound::Skip(_) => {}
        }
    }
    Ok(())
}

/// The hook whatsapp-rust calls before it acknowledges received messages.
pub struct Hook {
    pub db: Arc<Mutex<Db>>,
    pub policy: Arc<RwLock<Policy>>,
    pub last_event: Arc<std::sync::atomic::AtomicI64>,
}

#[whatsapp_rust::async_trait]
impl whatsapp_rust::InboundDurabilityHook for Hook {
    async fn on_messages(
        &self,
        _client: Arc<Client>,
        batch: &[InboundMessage],
    ) -> anyhow::Result<()> {
        let items: Vec<_> = batch
            .iter()
            .map(|m| {
                (
                    convert::convert(&m.info, &m.message),
                    convert::lid_mapping(&m.info),
                )
            })
            .collect();
        let policy = self
            .policy
            .read()
            .map_err(|_| anyhow::anyhow!("policy lock poisoned"))?
            .clone();
        let db = Arc::clone(&self.db);
        self.last_event
            .store(crate::clock::now_ms(), std::sync::atomic::Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let mut db = db
                .lock()
                .map_err(|_| anyhow::anyhow!("database lock poisoned"))?;
            store(&mut db, &policy, items)
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{NewMessage, Origin, Status};

    fn message(chat: &str, id: &str, from_me: bool, kind: &str) -> NewMessage {
        NewMessage {
            chat_jid: chat.into(),
            id: id.into(),
            sender: if from_me {
                "15550009999@s.whatsapp.net".into()
            } else {
                chat.into()
            },
            content: "hi".into(),
            timestamp_ms: 1_700_000_000_000,
            is_from_me: from_me,
            message_type: kind.into(),
            push_name: None,
            mentions: vec![],
            quoted_id: None,
            origin: Origin::Live,
            media: None,
        }
    }

    fn policy(store_all: bool) -> Policy {
        Policy::for_tests(
            &["15550001111@s.whatsapp.net", "15550009999@s.whatsapp.net"],
            Some("15550009999@s.whatsapp.net"),
            store_all,
        )
    }

    #[test]
    fn group_subjects_name_their_chats() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let group = "120363041234567890@g.us";
        let mut m = message(group, "g1", false, "text");
        m.sender = "15550002222@s.whatsapp.net".into();
        db.ingest(vec![m], &|_| Some(Status::History)).unwrap();
        db.name_groups(&[(group.into(), "Family".into())]).unwrap();
        db.name_groups(&[(group.into(), "Family 2026".into())])
            .unwrap();
        let stats = db.stats().unwrap();
        assert_eq!(stats.chats, 1);
        assert_eq!(
            stats.top_chats[0].name.as_deref(),
            Some("Family 2026"),
            "the subject follows renames"
        );
    }

    #[test]
    fn a_redelivered_batch_with_edits_and_revokes_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let alice = "15550001111@s.whatsapp.net";
        let batch = vec![
            (
                Inbound::Message(message("987654321@lid", "m1", false, "text")),
                Some(("987654321@lid".into(), alice.into())),
            ),
            (Inbound::Message(message(alice, "m2", false, "text")), None),
            (
                Inbound::Edit {
                    chat_jid: alice.into(),
                    id: "m2".into(),
                    content: "edited".into(),
                    at: 5,
                },
                None,
            ),
            (
                Inbound::Revoke {
                    chat_jid: "987654321@lid".into(),
                    id: "m1".into(),
                    at: 6,
                },
                None,
            ),
            (Inbound::Skip("protocol message"), None),
        ];
        for _ in 0..2 {
            store(&mut db, &policy(false), batch.clone()).unwrap();
        }
        let stats = db.stats().unwrap();
        assert_eq!(
            stats.messages.total, 2,
            "the LID message joined Alice's chat, once"
        );
        assert_eq!(stats.chats, 1);
        assert_eq!(
            stats.messages.pending, 1,
            "the revoked message is no longer pending"
        );
        let find = |query: &str| {
            let filter = crate::db::SearchFilter {
                chat: Some(alice),
                sender: None,
                since: None,
                until: None,
                limit: 10,
            };
            db.search(query, &filter).unwrap()
        };
        let edited = find("edited");
        assert_eq!(edited.len(), 1, "the edit replaced the text");
        assert_eq!(
            (edited[0].id.as_str(), edited[0].content.as_str()),
            ("m2", "edited")
        );
        assert!(
            find("hi").is_empty(),
            "neither the old text nor the revoked one remain"
        );
    }
}
