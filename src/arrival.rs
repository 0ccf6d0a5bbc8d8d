//! Answering on arrival: a listener that has just committed a message to answer calls
//! [`Arrival::notify`], and `process-once` starts as a child process within a second or
//! two instead of at cron's next minute. The short-lived job stays the one that answers;
//! cron stays the safety net for anything this misses (a failed run, a listener
//! stopping with a run still due).
//!
//! Synchronous and independent of any transport: one thread owns the schedule and the
//! child, `notify` only records the instant and wakes it, so a listener never waits.
//!
//! - **Debounced**: a run starts once no further message has come for
//!   [`Timing::DEFAULT`]'s `quiet` (1 s), and at the latest `longest` (2 s) after the
//!   first message that waits, so a burst is one turn and a steady stream cannot keep
//!   postponing the answer.
//! - **One at a time**: while a child runs, arrivals are collected and exactly one more
//!   run follows it (debounced the same way, from the arrivals' own instants).
//! - **Reaped, never fatal**: a child's failure is logged; exit 75 (the LLM is
//!   unreachable) is a normal outcome the next run retries.
//! - **Stopping** starts no new run; a running child gets a grace period to finish, then
//!   SIGTERM, then SIGKILL, and is always waited for. `process-once` is kill-safe: a
//!   killed run's claims are taken over when their lease expires.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::config::Config;

/// How long arrivals are gathered into one run.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// A run starts once no message has arrived for this long…
    pub quiet: Duration,
    /// …or this long after the first message waiting, whichever comes first.
    pub longest: Duration,
}

impl Timing {
    pub const DEFAULT: Self = Self {
        quiet: Duration::from_secs(1),
        longest: Duration::from_secs(2),
    };
}

/// How often a running child is looked at (its end is noticed at most this late).
const CHILD_POLL: Duration = Duration::from_millis(20);
/// After SIGTERM, how long a child has before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(3);

/// When to start the next run: the decision alone, driven with explicit instants.
#[derive(Debug, Default)]
struct Schedule {
    /// The first and the latest arrival no started run has covered yet.
    waiting: Option<(Instant, Instant)>,
    running: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Start a run now (the schedule counts it as running).
    Start,
    /// Nothing before this instant, unless something arrives.
    WaitUntil(Instant),
    /// A run is going; arrivals are kept for the run after it.
    Busy,
    /// Nothing waits.
    Idle,
}

impl Schedule {
    fn arrived(&mut self, now: Instant) {
        let first = self.waiting.map_or(now, |(first, _)| first);
        self.waiting = Some((first, now));
    }

    fn step(&mut self, now: Instant, timing: Timing) -> Step {
        if self.running {
            return Step::Busy;
        }
        let Some((first, last)) = self.waiting else {
            return Step::Idle;
        };
        let due = (last + timing.quiet).min(first + timing.longest);
        if now < due {
            return Step::WaitUntil(due);
        }
        self.waiting = None;
        self.running = true;
        Step::Start
    }

    fn finished(&mut self) {
        self.running = false;
    }
}

#[derive(Debug, Default)]
struct State {
    schedule: Schedule,
    /// Set by [`Arrival::shutdown`]: how long a running child may still take.
    stopping: Option<Duration>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // The state is a few plain fields, consistent after any panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Starts answering runs as messages arrive; see the module documentation.
pub struct Arrival {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Arrival {
    /// Starts the scheduling thread; `launch` builds the command of each run.
    pub fn start(launch: impl FnMut() -> Command + Send + 'static) -> Result<Self> {
        Self::with_timing(Timing::DEFAULT, launch)
    }

    fn with_timing(
        timing: Timing,
        launch: impl FnMut() -> Command + Send + 'static,
    ) -> Result<Self> {
        let shared = Arc::new(Shared::default());
        let worker = std::thread::Builder::new()
            .name("on-arrival".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || drive(&shared, timing, launch)
            })
            .context("starting the on-arrival thread")?;
        Ok(Self {
            shared,
            worker: Mutex::new(Some(worker)),
        })
    }

    /// A message to answer was committed: a run follows (debounced). Never blocks.
    pub fn notify(&self) {
        self.shared.state().schedule.arrived(Instant::now());
        self.shared.wake.notify_all();
    }

    /// Starts no further run and returns once no child is left: a running one gets
    /// `grace` to finish, then SIGTERM, then SIGKILL. Arrivals still waiting for their
    /// run stay pending in the database for cron.
    pub fn shutdown(&self, grace: Duration) {
        self.shared.state().stopping = Some(grace);
        self.shared.wake.notify_all();
        let worker = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(worker) = worker
            && worker.join().is_err()
        {
            log::error!("the on-arrival thread panicked");
        }
    }
}

impl Drop for Arrival {
    fn drop(&mut self) {
        self.shutdown(Duration::ZERO);
    }
}

/// The scheduling thread: starts runs when due, reaps them, stops when told.
fn drive(shared: &Shared, timing: Timing, mut launch: impl FnMut() -> Command) {
    let mut child: Option<Child> = None;
    let mut state = shared.state();
    loop {
        if let Some(running) = child.as_mut() {
            match running.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    report(status);
                    child = None;
                    state.schedule.finished();
                }
                Err(e) => {
                    log::warn!("could not wait for process-once started on arrival: {e}");
                    child = None;
                    state.schedule.finished();
                }
            }
        }
        if let Some(grace) = state.stopping {
            if state.schedule.waiting.is_some() {
                log::info!("stopping: messages that arrived just now are left to cron");
            }
            drop(state);
            if let Some(running) = child {
                stop(running, grace);
            }
            return;
        }
        match state.schedule.step(Instant::now(), timing) {
            Step::Start => {
                drop(state);
                match launch().spawn() {
                    Ok(started) => child = Some(started),
                    Err(e) => {
                        log::warn!(
                            "could not start process-once on arrival ({e}); cron answers instead"
                        );
                        shared.state().schedule.finished();
                    }
                }
                state = shared.state();
            }
            Step::WaitUntil(due) => {
                let wait = due.saturating_duration_since(Instant::now());
                state = wait_for(shared, state, wait);
            }
            Step::Busy => state = wait_for(shared, state, CHILD_POLL),
            Step::Idle => {
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
    }
}

fn wait_for<'a>(
    shared: &'a Shared,
    state: MutexGuard<'a, State>,
    wait: Duration,
) -> MutexGuard<'a, State> {
    shared
        .wake
        .wait_timeout(state, wait)
        .unwrap_or_else(PoisonError::into_inner)
        .0
}

fn report(status: ExitStatus) {
    match status.code() {
        Some(0) => log::debug!("process-once started on arrival finished"),
        Some(75) => log::info!(
            "process-once started on arrival: the LLM is unreachable for now (exit 75); a later run retries"
        ),
        _ => log::warn!(
            "process-once started on arrival failed ({status}); its messages stay pending for the next run"
        ),
    }
}

/// Lets a running child finish within `grace`, then asks it to stop, then makes it;
/// reaped in every case.
fn stop(mut child: Child, grace: Duration) {
    if let Some(status) = wait_at_most(&mut child, grace) {
        return report(status);
    }
    log::warn!("process-once started on arrival is still running at shutdown: stopping it");
    let pid = rustix::process::Pid::from_child(&child);
    if let Err(e) = rustix::process::kill_process(pid, rustix::process::Signal::TERM) {
        log::warn!("could not signal process-once ({e})");
    }
    if wait_at_most(&mut child, TERM_GRACE).is_none() {
        // SIGKILL and reap; both fail only if it is gone already.
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The child's exit status once it ended within `limit`; `None` if it still runs.
fn wait_at_most(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(CHILD_POLL),
            Ok(None) => return None,
            Err(e) => {
                log::warn!("could not wait for process-once: {e}");
                return None;
            }
        }
    }
}

/// `process-once` of this very binary against this configuration and database, with
/// the listener's log level; its log shares the listener's stderr (the journal), its
/// output is discarded. Its own process group keeps a Ctrl-C meant for the listener
/// from killing it mid-run: the listener stops it politely instead.
pub fn process_once(config: &Config) -> Result<impl FnMut() -> Command + Send + 'static> {
    let exe = std::env::current_exe().context("finding this program's own path")?;
    let config_path: Option<PathBuf> = config.config_path.clone();
    let db = config.database_path.clone();
    let verbosity = match log::max_level() {
        log::LevelFilter::Off | log::LevelFilter::Error => Some("-q"),
        log::LevelFilter::Warn => None,
        log::LevelFilter::Info => Some("-v"),
        log::LevelFilter::Debug | log::LevelFilter::Trace => Some("-vv"),
    };
    Ok(move || {
        let mut cmd = Command::new(&exe);
        if let Some(path) = &config_path {
            cmd.arg("--config").arg(path);
        }
        cmd.arg("--db").arg(&db);
        cmd.args(verbosity);
        cmd.arg("process-once")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .process_group(0);
        cmd
    })
}

/// The listener's trigger, when `polling.on_arrival` is on.
/// How long a run started on arrival may still take once its listener stops, before it
/// is asked to stop (the units in deploy/ allow for it in `TimeoutStopSec`).
pub const LISTENER_GRACE: Duration = Duration::from_secs(10);

pub fn for_listener(config: &Config) -> Result<Option<Arc<Arrival>>> {
    if !config.file.polling.on_arrival {
        return Ok(None);
    }
    Ok(Some(Arc::new(Arrival::start(process_once(config)?)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timing = Timing {
        quiet: Duration::from_millis(1000),
        longest: Duration::from_millis(2000),
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_single_arrival_runs_after_the_quiet_period() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        assert_eq!(s.step(t0, T), Step::Idle);
        s.arrived(t0);
        assert_eq!(s.step(t0, T), Step::WaitUntil(t0 + ms(1000)));
        assert_eq!(s.step(t0 + ms(999), T), Step::WaitUntil(t0 + ms(1000)));
        assert_eq!(s.step(t0 + ms(1000), T), Step::Start);
        assert_eq!(s.step(t0 + ms(1001), T), Step::Busy);
        s.finished();
        assert_eq!(s.step(t0 + ms(1500), T), Step::Idle, "nothing runs twice");
    }

    #[test]
    fn a_burst_is_one_run_and_a_stream_cannot_postpone_it_past_the_longest_wait() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        for i in 0..5 {
            s.arrived(t0 + ms(i * 100));
        }
        assert_eq!(s.step(t0 + ms(400), T), Step::WaitUntil(t0 + ms(1400)));
        // A message every 600 ms: the quiet period never comes, the cap does.
        let mut s = Schedule::default();
        for i in 0..4 {
            s.arrived(t0 + ms(i * 600));
        }
        assert_eq!(s.step(t0 + ms(1800), T), Step::WaitUntil(t0 + ms(2000)));
        assert_eq!(s.step(t0 + ms(2000), T), Step::Start);
    }

    #[test]
    fn arrivals_during_a_run_make_exactly_one_more_run() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        s.arrived(t0);
        assert_eq!(s.step(t0 + ms(1000), T), Step::Start);
        for i in 1..=10 {
            s.arrived(t0 + ms(1000 + i * 100));
            assert_eq!(s.step(t0 + ms(1000 + i * 100), T), Step::Busy);
        }
        s.finished();
        // The first waiting arrival came at 1100 ms: its cap (3100 ms) is long past.
        assert_eq!(s.step(t0 + ms(5000), T), Step::Start);
        s.finished();
        assert_eq!(s.step(t0 + ms(5001), T), Step::Idle);
    }

    /// Real children (`sh`), short timings: each run appends a line to a file.
    fn counting(dir: &std::path::Path, script: &str) -> impl FnMut() -> Command + Send + 'static {
        let log = dir.join("runs");
        let script = script.to_string();
        move || {
            let mut cmd = Command::new("sh");
            cmd.arg("-c")
                .arg(format!("echo run >> '{}'; {script}", log.display()));
            cmd
        }
    }

    fn runs(dir: &std::path::Path) -> usize {
        std::fs::read_to_string(dir.join("runs"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    const FAST: Timing = Timing {
        quiet: Duration::from_millis(100),
        longest: Duration::from_millis(300),
    };

    #[test]
    fn real_children_a_burst_then_arrivals_during_a_run_make_two_runs() {
        let dir = tempfile::tempdir().unwrap();
        let arrival = Arrival::with_timing(FAST, counting(dir.path(), "sleep 0.5")).unwrap();
        for _ in 0..5 {
            arrival.notify();
        }
        std::thread::sleep(ms(300));
        assert_eq!(runs(dir.path()), 1, "the burst started one run");
        for _ in 0..5 {
            arrival.notify();
            std::thread::sleep(ms(20));
        }
        std::thread::sleep(ms(1200));
        assert_eq!(runs(dir.path()), 2, "one more run followed the first");
        arrival.shutdown(ms(2000));
        assert_eq!(runs(dir.path()), 2);
    }

    #[test]
    fn failed_and_unstartable_runs_are_logged_and_later_arrivals_still_run() {
        let dir = tempfile::tempdir().unwrap();
        let arrival = Arrival::with_timing(FAST, counting(dir.path(), "exit 3")).unwrap();
        arrival.notify();
        std::thread::sleep(ms(400));
        arrival.notify();
        std::thread::sleep(ms(400));
        assert_eq!(runs(dir.path()), 2, "a failed run does not stop the next");
        arrival.shutdown(ms(100));

        let missing = Arrival::with_timing(FAST, || Command::new("/nonexistent/wabot")).unwrap();
        missing.notify();
        std::thread::sleep(ms(250));
        missing.notify();
        std::thread::sleep(ms(250));
        missing.shutdown(ms(100));
    }

    fn alive(pid: u32) -> bool {
        // A zombie still has its /proc entry: gone means reaped.
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn shutdown_lets_a_short_run_finish_and_terminates_a_long_one_reaping_both() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let done = dir.path().join("done");
        let short = format!(
            "echo $$ >> '{}'; sleep 0.4; echo done >> '{}'",
            pids.display(),
            done.display()
        );
        let arrival = Arrival::with_timing(FAST, counting(dir.path(), &short)).unwrap();
        arrival.notify();
        std::thread::sleep(ms(200));
        let started = Instant::now();
        arrival.shutdown(ms(5000));
        assert!(started.elapsed() < ms(2000));
        assert!(done.exists(), "the run finished its work");

        let long = format!("echo $$ >> '{}'; exec sleep 30", pids.display());
        let arrival = Arrival::with_timing(FAST, counting(dir.path(), &long)).unwrap();
        arrival.notify();
        std::thread::sleep(ms(250));
        let started = Instant::now();
        arrival.shutdown(ms(200));
        assert!(
            started.elapsed() < ms(2000),
            "SIGTERM ended the long run well before SIGKILL's turn"
        );
        for pid in std::fs::read_to_string(&pids).unwrap().lines() {
            assert!(!alive(pid.parse().unwrap()), "child {pid} was reaped");
        }
    }

    #[test]
    fn stopping_starts_no_run_that_was_still_being_gathered() {
        let dir = tempfile::tempdir().unwrap();
        let arrival = Arrival::with_timing(FAST, counting(dir.path(), "true")).unwrap();
        arrival.notify();
        arrival.shutdown(ms(100));
        std::thread::sleep(ms(300));
        assert_eq!(runs(dir.path()), 0, "left to cron");
    }
}
