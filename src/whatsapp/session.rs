//! A short connection for a job that finds no listener (`sync`, `media fetch`): takes
//! the connection lock, connects with the same wiring as `listen`, waits a bounded time
//! for the login, and hands out the live client as blocking sources.

use std::time::Duration;

use anyhow::{Context, Result};
use whatsapp_rust::prelude::*;

use super::on_demand::Live;
use super::wiring::Wiring;
use super::{device, runtime};
use crate::config::Config;
use crate::db::Db;
use crate::error::{self, Kind};
use crate::lock::ConnectionLock;
use crate::policy::Policy;

/// How long connecting and logging in may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Session {
    pub live: Live,
    handle: Option<whatsapp_rust::bot::BotHandle>,
    wiring: Wiring,
    runtime: Option<tokio::runtime::Runtime>,
    // Released last, after the connection is closed.
    _lock: ConnectionLock,
}

/// Whether this machine is linked; a clear exit 69 when not.
pub fn require_device(config: &Config) -> Result<String> {
    device::paired_as(&config.device_store_path())?.ok_or_else(|| {
        error::failure(
            Kind::Unavailable,
            "this machine is not linked to WhatsApp yet: run `wabot pair` first",
        )
    })
}

impl Session {
    /// Connects, holding `lock` (taken by the caller, who checked the device first).
    pub fn connect(config: &Config, lock: ConnectionLock) -> Result<Session> {
        let db = Db::open(&config.database_path)?;
        let (wiring, answers) = Wiring::new(db, Policy::new(config));
        let runtime = runtime()?;
        let store_path = config.device_store_path();
        let (client, handle) = runtime.block_on(async {
            let store = SqliteStore::new(&store_path.to_string_lossy())
                .await
                .context("opening the device store")?;
            let bot = wiring
                .apply(Bot::builder().with_backend(store))
                .build()
                .await
                .context("starting the WhatsApp client")?;
            let client = bot.client();
            let handle = bot.spawn();
            if client.wait_for_connected(CONNECT_TIMEOUT).await.is_err() {
                let _ = tokio::time::timeout(Duration::from_secs(2), handle.shutdown()).await;
                return Err(error::failure(
                    Kind::Temporary,
                    format!(
                        "could not connect to WhatsApp within {} s: check the network and that \
                         this device is still linked (`wabot stats` shows the listener)",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                ));
            }
            Ok((client, handle))
        })?;
        let wiring_kept = wiring;
        Ok(Session {
            live: Live {
                runtime: runtime.handle().clone(),
                client,
                answers,
            },
            handle: Some(handle),
            wiring: wiring_kept,
            runtime: Some(runtime),
            _lock: lock,
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if let Some(handle) = self.handle.take() {
            let grace = super::listen::SHUTDOWN_GRACE;
            if !runtime.block_on(self.wiring.settle(grace)) {
                log::warn!("received history was still being stored at shutdown");
            }
            let _ = runtime.block_on(tokio::time::timeout(grace, handle.shutdown()));
        }
        // Do not wait for the library's retry loops.
        runtime.shutdown_timeout(Duration::from_secs(1));
    }
}
