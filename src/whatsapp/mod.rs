//! The WhatsApp side of wabot: the only async code, behind blocking functions.

pub mod convert;
pub mod device;
pub mod drain;
mod history;
mod ingest;
mod jobs;
pub mod listen;
pub mod on_demand;
pub mod pair;
mod qr;
#[cfg(feature = "bench")]
pub mod replay;
pub mod session;
mod wiring;

/// The one tokio runtime of a process that talks to WhatsApp (the library needs the
/// multi-threaded kind).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// A flag that turns true on Ctrl-C (SIGINT), for blocking jobs that stop cleanly.
pub fn ctrl_c_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let set = std::sync::Arc::clone(&flag);
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
            set.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    flag
}
