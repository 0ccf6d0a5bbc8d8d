//! History sync: walking a chat's history backwards from its oldest stored message,
//! resumably, whoever holds the WhatsApp connection.

pub(crate) use crate::checkpoint;
pub mod engine;
pub mod run;
