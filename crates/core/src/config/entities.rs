//! Monitored entities: app.json entries resolved to canonical JIDs, with every
//! contradiction reported by its index.

use std::collections::HashMap;

use serde::Serialize;

use super::file::{EntityEntry, EntityKind};
use crate::jid::{self, JidKind};

/// A monitored chat, as the agent uses it.
#[derive(Debug, Clone, Serialize)]
pub struct Entity {
    #[serde(rename = "type")]
    pub kind: EntityKind,
    /// Canonical JID of the chat (a user's own chat, or the group).
    pub jid: String,
    pub name: String,
    pub prompt: String,
    pub persona: String,
    pub debug: bool,
    pub require_mention: bool,
}

pub fn resolve(entries: &[EntityEntry], problems: &mut Vec<String>) -> Vec<Entity> {
    let mut entities = Vec::new();
    let mut by_jid: HashMap<String, usize> = HashMap::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("monitored_entities[{i}]");
        let Some(jid) = entity_jid(entry, &at, problems) else {
            continue;
        };
        if let Some(first) = by_jid.insert(jid.clone(), i) {
            problems.push(format!(
                "{at}: duplicates monitored_entities[{first}] (both are {jid})"
            ));
            continue;
        }
        let name = match &entry.name {
            Some(name) if name.trim().is_empty() => {
                problems.push(format!("{at}.name: is empty"));
                continue;
            }
            Some(name) => name.trim().to_string(),
            None => jid.clone(),
        };
        if let Some(first) = by_name.insert(name.to_lowercase(), i) {
            problems.push(format!(
                "{at}.name: {name:?} is already the name of monitored_entities[{first}]"
            ));
        }
        if entry.prompt.trim().is_empty() {
            problems.push(format!("{at}.prompt: is empty"));
        }
        if entry.kind == EntityKind::User && entry.require_mention.is_some() {
            problems.push(format!(
                "{at}.require_mention: only applies to groups (type \"group\")"
            ));
        }
        entities.push(Entity {
            kind: entry.kind,
            jid,
            name,
            prompt: entry.prompt.clone(),
            persona: entry.persona.clone(),
            debug: entry.debug,
            require_mention: entry
                .require_mention
                .unwrap_or(entry.kind == EntityKind::Group),
        });
    }
    entities
}

/// The entity's chat JID from `jid` and/or `phone`, which must agree with each other and
/// with the entity's type.
fn entity_jid(entry: &EntityEntry, at: &str, problems: &mut Vec<String>) -> Option<String> {
    let from_phone = match &entry.phone {
        Some(phone) if phone.contains('@') => {
            problems.push(format!(
                "{at}.phone: {phone:?} is a JID, not a phone number (use \"jid\")"
            ));
            return None;
        }
        Some(phone) => Some(parse(at, "phone", phone, problems)?),
        None => None,
    };
    let from_jid = match &entry.jid {
        Some(j) => Some(parse(at, "jid", j, problems)?),
        None => None,
    };
    let jid = match (from_phone, from_jid) {
        (None, None) => {
            problems.push(format!("{at}: needs \"jid\" or \"phone\""));
            return None;
        }
        (Some(p), Some(j)) if p != j => {
            problems.push(format!(
                "{at}: \"phone\" ({p}) and \"jid\" ({j}) name different chats"
            ));
            return None;
        }
        (Some(j), _) | (None, Some(j)) => j,
    };
    let fits = match entry.kind {
        EntityKind::User => matches!(
            jid::kind(&jid),
            Some(JidKind::User | JidKind::Lid | JidKind::Bsuid)
        ),
        EntityKind::Group => entry.phone.is_none() && jid::kind(&jid) == Some(JidKind::Group),
    };
    if !fits {
        let kind = match entry.kind {
            EntityKind::User => "a user needs a phone number or a user JID",
            EntityKind::Group => "a group needs a JID ending in @g.us",
        };
        problems.push(format!("{at}: {kind}, got {jid}"));
        return None;
    }
    Some(jid)
}

fn parse(at: &str, field: &str, value: &str, problems: &mut Vec<String>) -> Option<String> {
    jid::normalize(value)
        .map_err(|e| problems.push(format!("{at}.{field}: {e}")))
        .ok()
}
