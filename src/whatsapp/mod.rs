//! The WhatsApp side of wabot: the only async code, behind blocking functions.

mod confirm;
pub mod convert;
pub mod device;
pub(crate) mod history;
pub(crate) mod ingest;
mod jobs;
pub mod listen;
pub mod on_demand;
mod pacing;
pub mod pair;
mod presence;
mod qr;
mod receipts;
#[cfg(test)]
mod received_tests;
#[cfg(feature = "bench")]
pub mod replay;
pub mod session;
pub mod standing;
pub(crate) mod wiring;

/// The one tokio runtime of a process that talks to WhatsApp (the library needs the
/// multi-threaded kind).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
