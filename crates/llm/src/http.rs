//! The one way wabot makes HTTP clients (LLM, transcription, the official WhatsApp
//! APIs): bounded in time, statuses read by the caller (each API has its own error
//! bodies), and a user agent that names wabot.

use std::time::Duration;

/// A client whose calls end within `timeout`; connecting gets at most 10 s of it.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent(concat!("wabot/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}
