//! The outbox's transport on the linked device: paced socket writes with the id the row
//! was queued with, and read receipts. Blocking: called from the drainer's own thread.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use wabot_core::outbox::{FailureKind, OutboxRow, SendFailure, Sent, Transport};
use whatsapp_rust::prelude::*;

use crate::bounded;
use crate::pacing::{self, Pacer};
use crate::session::Liveness;

const SEND_TIMEOUT: Duration = Duration::from_secs(30);
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends through the live client, paced, waiting at most [`SEND_TIMEOUT`].
pub struct ClientSender {
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) client: Arc<Client>,
    pub(crate) liveness: Arc<Liveness>,
    pub(crate) pacer: Pacer,
}

impl ClientSender {
    /// Connected, logged in, and what the last connection left unacknowledged is back
    /// in the queue: a send now can reach WhatsApp and goes once.
    pub fn ready(&self) -> bool {
        self.client.is_logged_in() && self.liveness.sendable()
    }

    /// Read receipts for messages `ids` of `sender_jid` in `chat_jid`.
    pub fn mark_read(&mut self, chat_jid: &str, sender_jid: &str, ids: &[String]) -> Result<()> {
        let chat: Jid = chat_jid
            .parse()
            .map_err(|e| anyhow::anyhow!("{chat_jid} is not a JID: {e:?}"))?;
        let sender: Jid = sender_jid
            .parse()
            .map_err(|e| anyhow::anyhow!("{sender_jid} is not a JID: {e:?}"))?;
        // In a group the receipt names whose message was read.
        let participant = chat_jid.ends_with("@g.us").then_some(&sender);
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let sent = bounded(
            &self.runtime,
            RECEIPT_TIMEOUT,
            self.client.mark_as_read(&chat, participant, &refs),
        );
        match sent {
            Ok(result) => Ok(result?),
            Err(_) => anyhow::bail!("no answer within {RECEIPT_TIMEOUT:?}"),
        }
    }
}

impl Transport for ClientSender {
    fn name(&self) -> &'static str {
        "WhatsApp"
    }

    fn send(&mut self, row: &OutboxRow) -> Result<Sent, SendFailure> {
        let (chat_jid, text) = (row.chat_jid.as_str(), row.content.as_str());
        let to: Jid = chat_jid.parse().map_err(|e| {
            SendFailure::new(
                FailureKind::Final,
                format!("{chat_jid} is not a JID: {e:?}"),
            )
        })?;
        std::thread::sleep(
            self.pacer
                .wait_before(chat_jid, Instant::now(), fastrand::f64()),
        );
        if self.pacer.typing {
            // Best effort: a chat state that does not arrive only loses the "typing…".
            let composing = self.client.chatstate();
            let _ = bounded(
                &self.runtime,
                Duration::from_secs(5),
                composing.send_composing(&to),
            );
            std::thread::sleep(pacing::typing_for(text));
        }
        self.pacer.sent(chat_jid, Instant::now());
        let options = SendOptions::default().with_message_id(row.message_id.clone());
        let send = self
            .client
            .send_message_with_options(&to, wa::Message::text(text), options);
        let passing = FailureKind::Passing {
            retry_after_ms: None,
        };
        match bounded(&self.runtime, SEND_TIMEOUT, send) {
            Ok(Ok(_)) => Ok(Sent::Written),
            Ok(Err(e @ whatsapp_rust::SendError::InvalidRequest(_))) => {
                Err(SendFailure::new(FailureKind::Final, e.to_string()))
            }
            Ok(Err(e)) => Err(SendFailure::new(passing, e.to_string())),
            Err(_) => Err(SendFailure::new(
                passing,
                format!("no answer from WhatsApp within {SEND_TIMEOUT:?}"),
            )),
        }
    }
}
