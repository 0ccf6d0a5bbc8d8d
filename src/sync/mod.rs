//! History sync: walking a chat's history backwards from its oldest stored message,
//! resumably, whoever holds the WhatsApp connection.

pub mod checkpoint;
pub mod engine;
