//! The LLM's side of the ledger: every call with what it consumed and brought back, and
//! what wabot learned about a model from its refusals.

use rusqlite::{OptionalExtension, params};

use super::Db;
use crate::Result;

/// One LLM call, for the usage log.
pub struct LlmCall<'a> {
    pub chat_jid: &'a str,
    /// `agent` or `chat-completions`.
    pub api: &'a str,
    pub model: &'a str,
    pub outcome: &'a str,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    /// US dollars, as the provider reported it.
    pub cost: Option<f64>,
    pub duration_ms: i64,
    /// How many sources came back; `None` for a failed call.
    pub sources: Option<i64>,
    /// What happened beside a plain answer (cut short, images left out).
    pub note: Option<&'a str>,
}

impl Db {
    pub fn record_llm_call(&mut self, call: &LlmCall, now: i64) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "INSERT INTO llm_calls (chat_jid, api, model, outcome, prompt_tokens,
                     completion_tokens, cost, duration_ms, sources, note, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    call.chat_jid,
                    call.api,
                    call.model,
                    call.outcome,
                    call.input_tokens,
                    call.output_tokens,
                    call.cost,
                    call.duration_ms,
                    call.sources,
                    call.note,
                    now
                ],
            )?;
            Ok(())
        })
    }

    /// Why `model` at `endpoint` is sent no images now, if a refusal said so and has not
    /// run out.
    pub fn takes_no_images(&self, endpoint: &str, model: &str, now: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT reason FROM llm_models
                 WHERE endpoint = ?1 AND model = ?2 AND no_images_until > ?3",
                params![endpoint, model, now],
                |r| r.get("reason"),
            )
            .optional()?)
    }

    /// Remembers that `model` at `endpoint` refused images, until `until`.
    pub fn record_no_images(
        &mut self,
        endpoint: &str,
        model: &str,
        reason: &str,
        until: i64,
        now: i64,
    ) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "INSERT INTO llm_models (endpoint, model, no_images_until, reason, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (endpoint, model) DO UPDATE SET
                     no_images_until = excluded.no_images_until,
                     reason = excluded.reason, updated_at = excluded.updated_at",
                params![endpoint, model, until, reason, now],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::Db;

    #[test]
    fn a_models_refusal_of_images_is_kept_until_it_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("w.db")).unwrap();
        let (url, model) = ("http://127.0.0.1:8080/v1/chat/completions", "local");
        assert_eq!(db.takes_no_images(url, model, 1_000).unwrap(), None);
        db.record_no_images(
            url,
            model,
            "HTTP 500: image input is not supported",
            5_000,
            1_000,
        )
        .unwrap();
        assert_eq!(
            db.takes_no_images(url, model, 4_999).unwrap().as_deref(),
            Some("HTTP 500: image input is not supported")
        );
        assert_eq!(db.takes_no_images(url, "other", 4_999).unwrap(), None);
        assert_eq!(
            db.takes_no_images(url, model, 5_000).unwrap(),
            None,
            "tried again"
        );
    }
}
