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

/// Whose messages a search keeps: a person or chat by number, JID or name, `me` (the
/// account's own), or an author named as messages were stored (a group export's
/// members have no number, only their name).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Author {
    pub sender: Option<String>,
    pub name: Option<String>,
    pub me: bool,
}

pub fn resolve_author(db: &Db, config: &Config, from: &str, what: &str) -> Result<Author> {
    if from.trim().eq_ignore_ascii_case("me") {
        return Ok(Author {
            me: true,
            ..Author::default()
        });
    }
    match resolve(db, config, from, what) {
        Ok(jid) => Ok(Author {
            sender: Some(jid),
            ..Author::default()
        }),
        Err(_) if db.has_author(from.trim())? => Ok(Author {
            name: Some(from.trim().to_string()),
            ..Author::default()
        }),
        Err(unknown) => Err(unknown),
    }
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

/// A chat named where trust is granted (`mcp.send_to`): a number, a JID, or the name of
/// a configured entity. Stored names are never looked at: push names are chosen by
/// their senders, so a stranger can be called "Carol" too.
pub fn resolve_configured(config: &Config, to: &str, what: &str) -> Result<String> {
    if let Ok(jid) = jid::normalize(to) {
        return Ok(jid);
    }
    let named: Vec<&crate::config::Entity> = config
        .entities
        .iter()
        .filter(|e| e.name.trim().eq_ignore_ascii_case(to.trim()))
        .collect();
    match named.as_slice() {
        [entity] => Ok(entity.jid.clone()),
        [] => Err(error::failure(
            Kind::Usage,
            format!(
                "{what}: {to:?} names no monitored entity; names here mean only those of app.json ({}); give a number or JID for anyone else",
                config
                    .entities
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        many => Err(error::failure(
            Kind::Usage,
            format!(
                "{what}: {to:?} names {} monitored entities: {}",
                many.len(),
                many.iter()
                    .map(|e| format!("{} ({})", e.name, e.jid))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// Who a stored message says wrote it.
#[derive(Clone, Copy)]
pub struct Written<'a> {
    pub chat: &'a str,
    pub sender: &'a str,
    /// The name it was stored with (push name, an export's author).
    pub name: Option<&'a str>,
    pub from_me: bool,
}

impl<'a> Written<'a> {
    pub fn of_hit(hit: &'a crate::db::Hit) -> Self {
        Written {
            chat: &hit.chat_jid,
            sender: &hit.sender,
            name: hit.author.as_deref(),
            from_me: hit.is_from_me,
        }
    }

    pub fn of_row(row: &'a crate::db::MessageRow) -> Self {
        Written {
            chat: &row.chat_jid,
            sender: &row.sender,
            name: row.push_name.as_deref(),
            from_me: row.is_from_me,
        }
    }
}

/// Names for JIDs, the same in every table and every `--json`: a monitored entity's
/// name, then a stored chat or contact name, then `+phone`; the JID itself when nothing
/// better is known.
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

    /// Who wrote a found message: "me", the person, or, for a group member an export
    /// named only by name (stored under the group), that name.
    pub fn author_of(&mut self, m: Written<'_>) -> String {
        match m.name {
            _ if m.from_me => "me".to_string(),
            Some(name) if m.sender == m.chat => name.to_string(),
            _ => self.of(m.sender),
        }
    }
}
