//! `media fetch`: one message's file now, through the listener when it runs (a request
//! it performs, watched until done), else over a connection of this process.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::clock::{self, Polled};
use crate::config::{Config, Transport};
use crate::db::{Db, MediaRow};
use crate::error::{self, Kind};
use crate::pipeline::linked::connect;
use crate::status::DownloadState;
use crate::{interrupt, lock, media};

/// The listener downloads with its own bounded timeouts; this is the patience on top.
const WAIT: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(250);

/// The file of `row`, downloaded now unless it is on disk already. Returns its path.
pub fn fetch(config: &Config, db: &mut Db, row: &MediaRow) -> Result<PathBuf> {
    let on_disk = |relative: &str| config.database_path.with_file_name(relative);
    if let Some(path) = row
        .local_path
        .as_deref()
        .map(on_disk)
        .filter(|p| p.exists())
    {
        return Ok(path);
    }
    if row.download.is_none() && row.remote.is_none() {
        anyhow::bail!(
            "message {} ({}) carries no download keys, so its file cannot be fetched",
            row.message_id,
            row.media_type
        );
    }
    let max = u64::try_from(config.file.media.max_bytes).unwrap_or(u64::MAX);
    if !db.listener_running()? && config.file.transport != Transport::WhatsappWeb {
        let (mut rest, _) = crate::webhook::listen::rest(config)?;
        return media::download(db, rest.as_mut(), &config.media_dir(), max, row);
    }
    if !db.listener_running()? {
        let lock = lock::acquire(&config.database_path)?;
        let account = connect::require_device(config)?;
        let mut connection = connect::connect(config, lock, &account)?;
        return media::download(db, &mut connection.live, &config.media_dir(), max, row);
    }
    db.request_media(row.id)?;
    let interrupted = interrupt::flag()?;
    let polled = clock::poll_until(Some(Instant::now() + WAIT), POLL, &interrupted, || {
        let Some(now) = db.media(row.id)? else {
            anyhow::bail!("message {} was deleted meanwhile", row.message_id);
        };
        Ok(match now.download_state {
            DownloadState::Done => Some(Ok(on_disk(&now.local_path.unwrap_or_default()))),
            DownloadState::Failed => Some(Err(anyhow::anyhow!(
                "the download failed: {}",
                now.last_error.unwrap_or_default()
            ))),
            DownloadState::None | DownloadState::Pending => None,
        })
    })?;
    match polled {
        Polled::Done(result) => result,
        Polled::TimedOut | Polled::Interrupted => Err(error::failure(
            Kind::Temporary,
            "the listener has not finished the download yet; it keeps trying (see `wabot stats`)",
        )),
    }
}
