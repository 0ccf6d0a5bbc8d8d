//! Global switches and remembered facts: pause state and the last configuration seen.

use anyhow::Result;
use rusqlite::{OptionalExtension, params};

use super::Db;

impl Db {
    pub fn is_paused(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT paused FROM processing_state WHERE id = 1",
            [],
            |r| r.get(0),
        )?)
    }

    /// Remembers the configuration's hash and entity list; when the hash changed, returns
    /// the entity list stored before (an empty list on the first run).
    pub fn note_config(
        &mut self,
        hash: &str,
        entities: &[String],
        now: i64,
    ) -> Result<Option<Vec<String>>> {
        let stored: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT config_hash, entities FROM config_state WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if stored.as_ref().is_some_and(|(h, _)| h == hash) {
            return Ok(None);
        }
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO config_state (id, config_hash, entities, updated_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET config_hash = excluded.config_hash,
                 entities = excluded.entities, updated_at = excluded.updated_at",
            params![hash, serde_json::json!(entities).to_string(), now],
        )?;
        tx.commit()?;
        let before = stored
            .and_then(|(_, e)| serde_json::from_str(&e).ok())
            .unwrap_or_default();
        Ok(Some(before))
    }
}
