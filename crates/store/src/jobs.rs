//! The job-run log: every job writes when it started and how it ended, so `stats`
//! can tell when cleanup last ran and a run that died shows as unfinished.

use crate::Result;
use rusqlite::params;

use super::Db;
use crate::clock;

/// A started job run; finish it with [`Db::finish_job`].
#[must_use]
pub struct JobRun {
    id: i64,
}

impl Db {
    pub fn start_job(&mut self, job: &str) -> Result<JobRun> {
        self.in_write(|tx| {
            tx.execute(
                "INSERT INTO job_runs (job, pid, started_at) VALUES (?1, ?2, ?3)",
                params![job, std::process::id(), clock::now_ms()],
            )?;
            let id = tx.last_insert_rowid();
            Ok(JobRun { id })
        })
    }

    /// Logs a run after the fact, for jobs whose own row must not be part of their work
    /// (a backup would otherwise contain its own run as unfinished).
    pub fn record_job(
        &mut self,
        job: &str,
        started_at: i64,
        ok: bool,
        summary: &serde_json::Value,
    ) -> Result<()> {
        let run = {
            let tx = self.write()?;
            tx.execute(
                "INSERT INTO job_runs (job, pid, started_at) VALUES (?1, ?2, ?3)",
                params![job, std::process::id(), started_at],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            JobRun { id }
        };
        self.finish_job(run, ok, summary)
    }

    pub fn finish_job(&mut self, run: JobRun, ok: bool, summary: &serde_json::Value) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "UPDATE job_runs SET finished_at = ?2, outcome = ?3, summary = ?4 WHERE id = ?1",
                params![
                    run.id,
                    clock::now_ms(),
                    if ok { "ok" } else { "failed" },
                    summary.to_string()
                ],
            )?;
            Ok(())
        })
    }
}
