//! What a connection event means for the session: a change of state the heartbeat
//! shows, or an end (a ban, a logout, an outdated client, another client taking over).

use tokio::sync::mpsc;
use wabot_core::account::Verdict;
use wabot_core::clock;
use whatsapp_rust::prelude::*;

use crate::session::Liveness;
use crate::standing;

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// A ban, a logout or an outdated client: needs a human (or a new version).
    Standing(Verdict),
    /// Another client took over the session.
    Replaced,
    /// The library's client stopped by itself.
    Closed,
}

/// Notes `event` in `live` and sends what ends the session; returns the verdict of a
/// ban, logout, outdated client or refusal, for the caller to record.
pub fn on_event(
    event: &Event,
    live: &Liveness,
    ended: &mpsc::UnboundedSender<Ended>,
) -> Option<Verdict> {
    live.touch(clock::now_ms());
    let end = |e: Ended| {
        let _ = ended.send(e);
    };
    match event {
        Event::Connected(_) => {
            log::info!("connected");
            live.set(true, "connected");
        }
        Event::Disconnected(d) => {
            log::warn!("disconnected ({:?}); reconnecting", d.reason);
            live.set(false, format!("disconnected: {:?}", d.reason));
            live.set_sendable(false);
        }
        Event::LoggedOut(_)
        | Event::TemporaryBan(_)
        | Event::ClientOutdated(_)
        | Event::ConnectFailure(_) => {
            let verdict = standing::verdict(event, clock::now_ms())?;
            end(Ended::Standing(verdict.clone()));
            return Some(verdict);
        }
        Event::StreamReplaced(_) => end(Ended::Replaced),
        _ => {}
    }
    None
}
