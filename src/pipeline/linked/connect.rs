//! A short connection for a job that finds no listener (`sync`, `media fetch`): takes
//! the connection lock, connects with the same wiring as `listen`, waits a bounded time
//! for the login, and hands out the live client as a history source and media fetcher.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Result;

use super::sink::DbSink;
use crate::account::parse_version;
use crate::config::Config;
use crate::db::{Db, MediaRow};
use crate::error::{self, Kind};
use crate::files;
use crate::lock::ConnectionLock;
use crate::policy::Policy;
use crate::whatsapp::{Live, Session, device};

/// How long connecting and logging in may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection of this process. Its fields drop in order: the live client's handle,
/// then the session (which closes the connection), then the lock.
pub struct Connection {
    pub live: Live,
    _session: Session,
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

/// A ban or a logout stands until it ends or the device is paired again: connecting
/// now, from any command, would only make WhatsApp's view of this number worse.
pub fn refuse_if_barred(config: &Config, db: &Db) -> Result<()> {
    match db.account_state()?.refusal(crate::clock::now_ms()) {
        Some(verdict) => Err(verdict.failure(config.timezone())),
        None => Ok(()),
    }
}

/// The WhatsApp Web version the server asked for last, if it asked.
pub fn client_version(db: &Db) -> Result<Option<(u32, u32, u32)>> {
    Ok(db
        .account_state()?
        .client_version
        .as_deref()
        .and_then(parse_version))
}

/// Starts a session whose sink is the database, the device store prepared private.
pub fn start(
    config: &Config,
    sink: Arc<DbSink>,
    version: Option<(u32, u32, u32)>,
) -> Result<Session> {
    files::create_private(&config.device_store_path())?;
    Session::start(config, version, sink)
}

/// Connects as `account` (from [`require_device`]), holding `lock` (taken by the caller).
pub fn connect(config: &Config, lock: ConnectionLock, account: &str) -> Result<Connection> {
    let db = Db::open(&config.database_path)?;
    refuse_if_barred(config, &db)?;
    let version = client_version(&db)?;
    let policy = Arc::new(RwLock::new(Policy::new(config)));
    let sink = DbSink::new(db, policy, own_jid(account), None);
    let mut session = start(config, Arc::new(sink), version)?;
    session.wait_connected(CONNECT_TIMEOUT)?;
    Ok(Connection {
        live: session.live()?,
        _session: session,
        _lock: lock,
    })
}

/// Records the account's own LID as its number: migrated groups mention the bot (and
/// address its messages) by LID.
pub fn learn_own_lid(config: &Config, db: &mut Db, account: &str) -> Result<()> {
    if let Some(lid) = device::own_lid(&config.device_store_path())? {
        db.record_alias(&own_jid(&lid), &own_jid(account))?;
    }
    Ok(())
}

/// The account's JID without its device part, as sent messages are stored.
pub fn own_jid(account: &str) -> String {
    crate::jid::normalize(account).unwrap_or_else(|_| account.to_string())
}

impl crate::media::Fetch for Live {
    fn fetch(&mut self, row: &MediaRow) -> Result<Vec<u8>> {
        let (Some(reference), Some(sha256)) = (&row.download, &row.sha256) else {
            anyhow::bail!("the message carries no download keys");
        };
        self.download(&row.media_type, sha256, reference)
    }
}
