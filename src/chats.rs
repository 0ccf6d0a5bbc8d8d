//! Chats as people name them: a phone number, a JID, or the name of a chat, contact or
//! monitored entity. Shared by the commands and the MCP server.

use anyhow::Result;

use crate::config::Config;
use crate::db::Db;
use crate::error::{self, Kind};
use crate::jid;

/// A chat named on the command line: a phone number or JID as given, or the one chat,
/// contact or monitored entity with that name.
/// [`resolve`] for an optional argument.
pub fn resolve_given(
    db: &Db,
    config: &Config,
    to: Option<&str>,
    what: &str,
) -> Result<Option<String>> {
    to.map(|to| resolve(db, config, to, what)).transpose()
}

pub fn resolve(db: &Db, config: &Config, to: &str, what: &str) -> Result<String> {
    if let Ok(jid) = jid::normalize(to) {
        return Ok(jid);
    }
    let mut candidates = db.find_by_name(to)?;
    candidates.extend(
        config
            .entities
            .iter()
            .filter(|e| e.name.eq_ignore_ascii_case(to))
            .map(|e| (e.jid.clone(), e.name.clone())),
    );
    candidates.sort();
    candidates.dedup_by(|a, b| a.0 == b.0);
    match candidates.as_slice() {
        [] => Err(error::failure(
            Kind::Usage,
            format!(
                "{what}: no chat or contact is named {to:?} (give a phone number, a JID or a name)"
            ),
        )),
        [(jid, _)] => Ok(jid.clone()),
        many => Err(error::failure(
            Kind::Usage,
            format!(
                "{what}: {to:?} is ambiguous: {}",
                many.iter()
                    .map(|(j, n)| format!("{n} ({j})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// Names for JIDs in human output: a monitored entity's name, then a stored chat or
/// contact name, then `+phone`; the JID itself when nothing better is known. `--json`
/// keeps the JIDs.
pub struct Names<'a> {
    db: &'a Db,
    config: &'a Config,
    known: std::collections::HashMap<String, String>,
}

impl<'a> Names<'a> {
    pub fn new(db: &'a Db, config: &'a Config) -> Self {
        Self {
            db,
            config,
            known: std::collections::HashMap::new(),
        }
    }

    pub fn of(&mut self, jid: &str) -> String {
        if let Some(name) = self.known.get(jid) {
            return name.clone();
        }
        let own = self.config.self_jid().is_some_and(|own| own == jid);
        let name = own
            .then(|| "me".to_string())
            .or_else(|| self.config.entity_for_chat(jid).map(|e| e.name.clone()))
            .or_else(|| self.db.name_of(jid).ok().flatten())
            .or_else(|| jid::phone(jid).map(|p| format!("+{p}")))
            .unwrap_or_else(|| jid.to_string());
        self.known.insert(jid.to_string(), name.clone());
        name
    }
}
