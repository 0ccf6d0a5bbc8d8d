//! Answering on arrival: a listener that has just committed a message to answer calls
//! [`Arrival::notify`], and `process-once` starts as a child process within a second or
//! two instead of at cron's next minute. The short-lived job stays the one that answers;
//! cron stays the safety net for anything this misses (a failed run, a listener
//! stopping with a run still due).
//!
//! Synchronous and independent of any transport: one thread owns the schedule and the
//! child, `notify` only records the instant and wakes it, so a listener never waits; a
//! second thread per child only waits for its end, to wake the first. Time comes from
//! a [`Clock`]: the system's in a listener, a manual one in the tests, which move it on
//! instead of waiting for it.
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
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::clock::{Clock, SystemClock, Wakeup};
use crate::config::Config;

/// How long arrivals are gathered into one run, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Timing {
    /// A run starts once no message has arrived for this long…
    quiet: i64,
    /// …or this long after the first message waiting, whichever comes first.
    longest: i64,
}

impl Timing {
    const DEFAULT: Self = Self {
        quiet: 1_000,
        longest: 2_000,
    };
}

/// After SIGTERM, how long a child has before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(3);

/// When to start the next run: the decision alone, driven with explicit instants.
#[derive(Debug, Default)]
struct Schedule {
    /// The first and the latest arrival no started run has covered yet.
    waiting: Option<(i64, i64)>,
    running: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Start a run now (the schedule counts it as running).
    Start,
    /// Nothing before this instant, unless something arrives.
    WaitUntil(i64),
    /// A run is going; arrivals are kept for the run after it.
    Busy,
    /// Nothing waits.
    Idle,
}

impl Schedule {
    fn arrived(&mut self, now: i64) {
        let first = self.waiting.map_or(now, |(first, _)| first);
        self.waiting = Some((first, now));
    }

    fn step(&mut self, now: i64, timing: Timing) -> Step {
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
    /// Set by [`Arrival::shutdown`]: until when a running child may still run.
    stopping: Option<i64>,
}

struct Shared {
    state: Mutex<State>,
    /// Rung by an arrival, a shutdown and a child's end: whatever the thread waits for.
    wakeup: Wakeup,
    clock: Arc<dyn Clock>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // The state is a few plain fields, consistent after any panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sleep_until(&self, until: Option<i64>) {
        self.clock.sleep_until(until, &self.wakeup);
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
        Self::with(Timing::DEFAULT, Arc::new(SystemClock), launch)
    }

    fn with(
        timing: Timing,
        clock: Arc<dyn Clock>,
        launch: impl FnMut() -> Command + Send + 'static,
    ) -> Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            wakeup: Wakeup::default(),
            clock,
        });
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
        let now = self.shared.clock.now_ms();
        self.shared.state().schedule.arrived(now);
        self.shared.wakeup.ring();
    }

    /// Starts no further run and returns once no child is left: a running one gets
    /// `grace` to finish, then SIGTERM, then SIGKILL. Arrivals still waiting for their
    /// run stay pending in the database for cron.
    pub fn shutdown(&self, grace: Duration) {
        let until = self.shared.clock.now_ms() + millis(grace);
        {
            // Rung under the lock: whoever sees `stopping` set knows the thread was told.
            let mut state = self.shared.state();
            state.stopping = Some(until);
            self.shared.wakeup.ring();
        }
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

fn millis(span: Duration) -> i64 {
    i64::try_from(span.as_millis()).unwrap_or(i64::MAX)
}

/// The scheduling thread: starts runs when due, reaps them, stops when told.
fn drive(shared: &Arc<Shared>, timing: Timing, mut launch: impl FnMut() -> Command) {
    let mut child: Option<Child> = None;
    loop {
        if child.as_mut().is_some_and(reap) {
            child = None;
            shared.state().schedule.finished();
        }
        let now = shared.clock.now_ms();
        let mut state = shared.state();
        if let Some(until) = state.stopping {
            if state.schedule.waiting.is_some() {
                log::info!("stopping: messages that arrived just now are left to cron");
            }
            drop(state);
            if let Some(running) = child {
                stop(shared, running, until);
            }
            return;
        }
        let step = state.schedule.step(now, timing);
        drop(state);
        match step {
            Step::Start => match launch().spawn() {
                Ok(started) => child = Some(watched(shared, started)),
                Err(e) => {
                    log::warn!(
                        "could not start process-once on arrival ({e}); cron answers instead"
                    );
                    shared.state().schedule.finished();
                }
            },
            Step::WaitUntil(due) => shared.sleep_until(Some(due)),
            // The child's watcher rings when it ends.
            Step::Busy | Step::Idle => shared.sleep_until(None),
        }
    }
}

/// Collects and reports the child if it has ended; false while it runs. A child that
/// cannot be waited for counts as ended: nothing more can be learnt about it.
fn reap(child: &mut Child) -> bool {
    match child.try_wait() {
        Ok(None) => false,
        Ok(Some(status)) => {
            report(status);
            true
        }
        Err(e) => {
            log::warn!("could not wait for process-once started on arrival: {e}");
            true
        }
    }
}

/// Starts a thread that rings the wakeup when `child` ends. It waits without reaping
/// (`WNOWAIT`): the pid stays the child's until [`reap`] collects it, so signalling it
/// can never reach another process.
fn watched(shared: &Arc<Shared>, child: Child) -> Child {
    let pid = rustix::process::Pid::from_child(&child);
    let shared = Arc::clone(shared);
    let watcher = std::thread::Builder::new()
        .name("on-arrival-child".into())
        .spawn(move || {
            let options =
                rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOWAIT;
            loop {
                match rustix::process::waitid(rustix::process::WaitId::Pid(pid), options) {
                    Err(rustix::io::Errno::INTR) => continue,
                    // CHILD: reaped already, by a look that came first.
                    Ok(_) | Err(rustix::io::Errno::CHILD) => {}
                    Err(e) => log::warn!("could not watch process-once started on arrival: {e}"),
                }
                break;
            }
            shared.wakeup.ring();
        });
    if let Err(e) = watcher {
        // Without a watcher the end is noticed at the next arrival or at shutdown.
        log::warn!("could not watch process-once started on arrival: {e}");
    }
    child
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

/// Lets a running child finish until `grace_ends`, then asks it to stop, then makes it;
/// reaped in every case.
fn stop(shared: &Shared, mut child: Child, grace_ends: i64) {
    if reaped_by(shared, &mut child, grace_ends) {
        return;
    }
    log::warn!("process-once started on arrival is still running at shutdown: stopping it");
    let pid = rustix::process::Pid::from_child(&child);
    if let Err(e) = rustix::process::kill_process(pid, rustix::process::Signal::TERM) {
        log::warn!("could not signal process-once ({e})");
    }
    let killed_at = shared.clock.now_ms() + millis(TERM_GRACE);
    if !reaped_by(shared, &mut child, killed_at) {
        // SIGKILL and reap; both fail only if it is gone already.
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Whether the child ended (and was reaped) before `deadline`.
fn reaped_by(shared: &Shared, child: &mut Child, deadline: i64) -> bool {
    loop {
        if reap(child) {
            return true;
        }
        if shared.clock.now_ms() >= deadline {
            return false;
        }
        shared.sleep_until(Some(deadline));
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
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use super::*;
    use crate::clock::{Asleep, ManualClock};

    const T: Timing = Timing::DEFAULT;

    #[test]
    fn a_single_arrival_runs_after_the_quiet_period() {
        let t0 = 1_000_000;
        let mut s = Schedule::default();
        assert_eq!(s.step(t0, T), Step::Idle);
        s.arrived(t0);
        assert_eq!(s.step(t0, T), Step::WaitUntil(t0 + 1000));
        assert_eq!(s.step(t0 + 999, T), Step::WaitUntil(t0 + 1000));
        assert_eq!(s.step(t0 + 1000, T), Step::Start);
        assert_eq!(s.step(t0 + 1001, T), Step::Busy);
        s.finished();
        assert_eq!(s.step(t0 + 1500, T), Step::Idle, "nothing runs twice");
    }

    #[test]
    fn a_burst_is_one_run_and_a_stream_cannot_postpone_it_past_the_longest_wait() {
        let t0 = 1_000_000;
        let mut s = Schedule::default();
        for i in 0..5 {
            s.arrived(t0 + i * 100);
        }
        assert_eq!(s.step(t0 + 400, T), Step::WaitUntil(t0 + 1400));
        // A message every 600 ms: the quiet period never comes, the cap does.
        let mut s = Schedule::default();
        for i in 0..4 {
            s.arrived(t0 + i * 600);
        }
        assert_eq!(s.step(t0 + 1800, T), Step::WaitUntil(t0 + 2000));
        assert_eq!(s.step(t0 + 2000, T), Step::Start);
    }

    #[test]
    fn arrivals_during_a_run_make_exactly_one_more_run() {
        let t0 = 1_000_000;
        let mut s = Schedule::default();
        s.arrived(t0);
        assert_eq!(s.step(t0 + 1000, T), Step::Start);
        for i in 1..=10 {
            s.arrived(t0 + 1000 + i * 100);
            assert_eq!(s.step(t0 + 1000 + i * 100, T), Step::Busy);
        }
        s.finished();
        // The first waiting arrival came at 1100 ms: its cap (3100 ms) is long past.
        assert_eq!(s.step(t0 + 5000, T), Step::Start);
        s.finished();
        assert_eq!(s.step(t0 + 5001, T), Step::Idle);
    }

    /// The real thread with real children (`sh`) on a manual clock. Time moves only when
    /// a test advances it; what a test waits for (in real time, bounded) is an event:
    /// a child started, a child reaped, the thread asleep having seen the time.
    struct Rig {
        dir: tempfile::TempDir,
        clock: Arc<ManualClock>,
        arrival: Arrival,
    }

    const T0: i64 = 1_000_000;
    /// How long a test waits for an event before it fails.
    const WITHIN: Duration = Duration::from_secs(10);

    impl Rig {
        /// Each run appends its pid to `pids`, then runs `script`.
        fn new(script: &str) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let pids = dir.path().join("pids");
            let script = format!("echo $$ >> '{}'; {script}", pids.display());
            Self::launching(dir, move || {
                let mut cmd = Command::new("sh");
                cmd.arg("-c").arg(&script);
                cmd
            })
        }

        fn launching(
            dir: tempfile::TempDir,
            launch: impl FnMut() -> Command + Send + 'static,
        ) -> Self {
            let clock = Arc::new(ManualClock::new(T0));
            let arrival = Arrival::with(T, Arc::clone(&clock) as Arc<dyn Clock>, launch).unwrap();
            Self {
                dir,
                clock,
                arrival,
            }
        }

        fn advance(&self, ms: u64) {
            self.clock.advance(Duration::from_millis(ms));
        }

        /// How the scheduling thread sleeps once it has seen the clock's time.
        fn asleep(&self) -> Asleep {
            self.clock
                .asleep(WITHIN)
                .expect("the on-arrival thread never went to sleep")
        }

        fn path(&self, name: &str) -> std::path::PathBuf {
            self.dir.path().join(name)
        }

        /// The pids of the runs started so far (each writes its own first thing).
        fn pids(&self) -> Vec<u32> {
            std::fs::read_to_string(self.path("pids"))
                .map(|s| s.lines().filter_map(|l| l.parse().ok()).collect())
                .unwrap_or_default()
        }

        /// Waits until `n` runs have started and all of them were reaped.
        fn ran(&self, n: usize) {
            eventually(&format!("{n} runs started and reaped"), || {
                let pids = self.pids();
                pids.len() == n && pids.iter().all(|&pid| reaped(pid))
            });
        }
    }

    /// A script that runs until the test creates the file `gate`.
    fn gated(rig_dir: &Path) -> String {
        format!(
            "while [ ! -e '{}' ]; do sleep 0.01; done",
            rig_dir.join("gate").display()
        )
    }

    fn eventually(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + WITHIN;
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn reaped(pid: u32) -> bool {
        // A zombie still has its /proc entry: gone means reaped.
        !Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn a_burst_starts_one_run_when_the_quiet_period_ends_and_not_a_moment_before() {
        let rig = Rig::new("true");
        assert_eq!(rig.asleep(), Asleep::UntilWoken);
        for _ in 0..5 {
            rig.arrival.notify();
            rig.advance(100);
        }
        // The last arrival came at T0 + 400 ms; the clock shows T0 + 500 ms.
        assert_eq!(rig.asleep(), Asleep::Until(T0 + 1400));
        rig.advance(899);
        assert_eq!(
            rig.asleep(),
            Asleep::Until(T0 + 1400),
            "at T0 + 1399 ms the thread looked and slept on"
        );
        assert!(rig.pids().is_empty());
        rig.advance(1);
        rig.ran(1);
        assert_eq!(
            rig.asleep(),
            Asleep::UntilWoken,
            "reaped, and nothing else is due"
        );
        assert_eq!(rig.pids().len(), 1);
    }

    #[test]
    fn arrivals_during_a_run_make_exactly_one_more_run_from_their_own_instants() {
        let dir = tempfile::tempdir().unwrap();
        let rig = Rig::new(&gated(dir.path()));
        rig.arrival.notify();
        rig.advance(1000);
        eventually("the first run", || rig.pids().len() == 1);
        for _ in 0..3 {
            rig.advance(100);
            rig.arrival.notify();
        }
        // Arrivals at T0 + 1100..1300 ms while the run goes on; it ends at T0 + 1300 ms.
        std::fs::write(dir.path().join("gate"), "").unwrap();
        rig.ran(1);
        assert_eq!(
            rig.asleep(),
            Asleep::Until(T0 + 2300),
            "the follow-up is debounced"
        );
        rig.advance(1000);
        rig.ran(2);
        assert_eq!(rig.asleep(), Asleep::UntilWoken);
        assert_eq!(rig.pids().len(), 2, "exactly one more run");
    }

    #[test]
    fn a_failed_run_does_not_stop_the_next() {
        let rig = Rig::new("exit 3");
        for n in 1..=2 {
            rig.arrival.notify();
            rig.advance(1000);
            rig.ran(n);
        }
    }

    #[test]
    fn a_run_that_cannot_start_is_logged_and_later_arrivals_try_again() {
        let launched = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&launched);
        let rig = Rig::launching(tempfile::tempdir().unwrap(), move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Command::new("/nonexistent/wabot")
        });
        for n in 1..=2 {
            rig.arrival.notify();
            rig.advance(1000);
            eventually("a launch", || launched.load(Ordering::SeqCst) == n);
            assert_eq!(rig.asleep(), Asleep::UntilWoken, "nothing runs");
        }
    }

    /// Shuts `rig` down on another thread, so that the test can move the clock meanwhile;
    /// returns once the scheduling thread has been told.
    fn shut_down(rig: &Arc<Rig>, grace_ms: u64) -> std::thread::JoinHandle<()> {
        let stopping = std::thread::spawn({
            let rig = Arc::clone(rig);
            move || rig.arrival.shutdown(Duration::from_millis(grace_ms))
        });
        eventually("the shutdown's start", || {
            rig.arrival.shared.state().stopping.is_some()
        });
        stopping
    }

    fn joined(stopping: std::thread::JoinHandle<()>) {
        eventually("the shutdown", || stopping.is_finished());
        stopping.join().unwrap();
    }

    #[test]
    fn shutdown_lets_a_run_finish_within_its_grace() {
        let dir = tempfile::tempdir().unwrap();
        let rig = Arc::new(Rig::new(&gated(dir.path())));
        rig.arrival.notify();
        rig.advance(1000);
        eventually("the run", || rig.pids().len() == 1);
        let stopping = shut_down(&rig, 5000);
        assert_eq!(
            rig.asleep(),
            Asleep::Until(T0 + 6000),
            "the grace is counted"
        );
        rig.advance(4999);
        assert_eq!(rig.asleep(), Asleep::Until(T0 + 6000));
        assert!(!reaped(rig.pids()[0]), "not stopped within its grace");
        std::fs::write(dir.path().join("gate"), "").unwrap();
        joined(stopping);
        rig.ran(1);
    }

    #[test]
    fn shutdown_terminates_a_run_that_outlasts_its_grace_and_reaps_it() {
        let rig = Arc::new(Rig::new("exec sleep 30"));
        rig.arrival.notify();
        rig.advance(1000);
        eventually("the run", || rig.pids().len() == 1);
        let stopping = shut_down(&rig, 200);
        assert_eq!(rig.asleep(), Asleep::Until(T0 + 1200));
        // SIGTERM's own grace never passes on this clock: the run ends by SIGTERM alone.
        rig.advance(200);
        joined(stopping);
        rig.ran(1);
    }

    #[test]
    fn stopping_starts_no_run_that_was_still_being_gathered() {
        let launched = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&launched);
        let rig = Rig::launching(tempfile::tempdir().unwrap(), move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Command::new("true")
        });
        rig.arrival.notify();
        rig.advance(5000);
        rig.arrival.shutdown(Duration::from_millis(100));
        // The thread has ended: whatever it was going to launch, it has launched.
        assert_eq!(launched.load(Ordering::SeqCst), 0, "left to cron");
    }
}
