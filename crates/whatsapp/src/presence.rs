//! Staying invisible on the owner's number. The library announces presence "available"
//! by itself (on a reconnect, after the first app-state sync, after every push-name
//! update), and while a linked device is "available" WhatsApp holds back the push
//! notifications of the owner's phone. So after each of those, wabot says
//! "unavailable" again.

use std::sync::Arc;
use std::time::Duration;

use whatsapp_rust::prelude::*;

/// The library sends its own "available" from a task it spawns around these events:
/// answering a moment later lands after it.
const AFTER_THE_LIBRARY: Duration = Duration::from_secs(1);

/// Whether the library is about to announce "available" because of `event`.
pub fn announces_available(event: &Event) -> bool {
    matches!(event, Event::Connected(_) | Event::SelfPushNameUpdated(_))
}

/// What every connection does with an event when the owner asked for invisibility:
/// `listen`, the jobs connecting by themselves, and `pair` (which can run for minutes).
pub fn follow(invisible: bool, event: &Event, client: &Arc<Client>) {
    if invisible && announces_available(event) {
        tokio::spawn(stay_unavailable(Arc::clone(client)));
    }
}

async fn stay_unavailable(client: Arc<Client>) {
    tokio::time::sleep(AFTER_THE_LIBRARY).await;
    // Before the push name is known the server refuses presence; the push-name event
    // that follows brings us back here.
    if let Err(e) = client.presence().set_unavailable().await {
        log::debug!("presence unavailable not set yet: {e}");
    }
}

#[cfg(test)]
mod tests {
    use whatsapp_rust::types::events::{ClientOutdated, Connected, SelfPushNameUpdated};

    use super::*;

    #[test]
    fn presence_is_set_unavailable_after_connect_and_push_name_updates() {
        let connected = Event::Connected(Connected::builder().build());
        let renamed = Event::SelfPushNameUpdated(
            SelfPushNameUpdated::builder()
                .from_server(true)
                .old_name(String::new())
                .new_name("Ada".to_string())
                .build(),
        );
        assert!(announces_available(&connected));
        assert!(announces_available(&renamed));
        let outdated = Event::ClientOutdated(ClientOutdated::builder().build());
        assert!(!announces_available(&outdated));
    }
}
