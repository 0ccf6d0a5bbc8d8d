//! Ctrl-C and SIGTERM for blocking jobs that must stop cleanly (a waiting `sync`, a
//! `media fetch`): the signal only sets a flag, the job looks at it between steps.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};

/// A flag that turns true on SIGINT or SIGTERM.
pub fn flag() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&flag))
            .context("installing the Ctrl-C handler")?;
    }
    Ok(flag)
}
