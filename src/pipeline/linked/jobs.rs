//! The listener's background work besides sending: sync requests and media downloads,
//! one at a time, on a plain thread with its own database connection.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Result;

use crate::clock;
use crate::config::Config;
use crate::db::Db;
use crate::policy::Policy;
use crate::sync::engine;
use crate::whatsapp::Live;

const IDLE: Duration = Duration::from_secs(1);

struct Worker {
    db: Db,
    live: Live,
    policy: Arc<RwLock<Policy>>,
    stop: Arc<AtomicBool>,
    media_dir: PathBuf,
    max_bytes: u64,
}

pub fn spawn(
    config: &Config,
    live: Live,
    policy: Arc<RwLock<Policy>>,
    stop: &Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>> {
    let mut worker = Worker {
        db: Db::open(&config.database_path)?,
        live,
        policy,
        stop: Arc::clone(stop),
        media_dir: config.media_dir(),
        max_bytes: u64::try_from(config.file.media.max_bytes).unwrap_or(u64::MAX),
    };
    let recovered = worker.db.recover_sync()?;
    if recovered > 0 {
        log::warn!("{recovered} history sync(s) were cut short by the last stop; they resume now");
    }
    Ok(std::thread::spawn(move || {
        while !worker.stop.load(Ordering::Relaxed) {
            let busy = if worker.live.is_logged_in() {
                worker.tick().unwrap_or_else(|e| {
                    log::warn!("background job: {e:#}");
                    false
                })
            } else {
                false
            };
            if !busy {
                std::thread::sleep(IDLE);
            }
        }
    }))
}

impl Worker {
    /// Does one piece of work; false when there was none.
    fn tick(&mut self) -> Result<bool> {
        if let Some(request) = self.db.next_sync_request()? {
            let monitored = self
                .policy
                .read()
                .map(|p| p.monitored())
                .unwrap_or_default();
            let stop = Arc::clone(&self.stop);
            let stopping = move || {
                stop.load(Ordering::Relaxed)
                    .then(|| "the listener is stopping".to_string())
            };
            engine::perform(
                &mut self.db,
                &mut self.live,
                &request,
                &monitored,
                &stopping,
            )?;
            return Ok(true);
        }
        if let Some(row) = self.db.next_media_download(clock::now_ms())? {
            match crate::media::download(
                &mut self.db,
                &mut self.live,
                &self.media_dir,
                self.max_bytes,
                &row,
            ) {
                Ok(path) => log::info!("media of {} saved as {}", row.message_id, path.display()),
                Err(e) => log::warn!("media of {} not downloaded: {e:#}", row.message_id),
            }
            return Ok(true);
        }
        Ok(false)
    }
}
