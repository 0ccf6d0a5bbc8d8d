//! The WhatsApp side of wabot: the only async code, behind blocking functions.

pub mod convert;
pub mod drain;
