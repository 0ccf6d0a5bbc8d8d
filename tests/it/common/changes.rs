//! Waiting for something to happen without sleeping: a test blocks in `poll(2)` until
//! one of its event sources fires (a file in the sandbox changed, a stand-in took a
//! request, a process ended), then looks again. A fixed sleep is either too long or
//! flaky; this wakes on the change itself, and the deadline only ends a wait that
//! would otherwise hang.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::inotify;
use rustix::pipe::{PipeFlags, pipe_with};
use rustix::process::{Pid, PidfdFlags, pidfd_open};

/// How long anything a test waits for may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Something that becomes readable when what a test waits for may have happened.
pub trait Source {
    fn fd(&self) -> BorrowedFd<'_>;
    /// Forgets the changes seen so far (called before each look).
    fn drain(&self) {
        let mut buf = [0u8; 4096];
        while rustix::io::read(self.fd(), &mut buf).is_ok_and(|n| n > 0) {}
    }
}

/// Every change to the files of the database's directory (SQLite writes its WAL on each
/// commit) and of the directory above it, which is watched until the database's own
/// appears.
pub struct Files {
    fd: OwnedFd,
    db_dir: PathBuf,
}

/// Writes and new files only: a test's own reads (opening and closing the database)
/// must not wake it, or each look would cause the next.
const CHANGES: inotify::WatchFlags = inotify::WatchFlags::MODIFY
    .union(inotify::WatchFlags::CREATE)
    .union(inotify::WatchFlags::MOVED_TO);

impl Files {
    pub fn of_db(db: &Path) -> Self {
        let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
            .expect("inotify");
        let db_dir = db.parent().expect("the database's directory").to_path_buf();
        let above = db_dir.parent().expect("the sandbox");
        inotify::add_watch(&fd, above, CHANGES).expect("watch the sandbox");
        let files = Files { fd, db_dir };
        files.watch_db_dir();
        files
    }

    /// Adding the same directory again keeps its one watch.
    fn watch_db_dir(&self) {
        if self.db_dir.is_dir() {
            inotify::add_watch(&self.fd, &self.db_dir, CHANGES).expect("watch the database");
        }
    }
}

impl Source for Files {
    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn drain(&self) {
        self.watch_db_dir();
        let mut buf = [0u8; 4096];
        while rustix::io::read(&self.fd, &mut buf).is_ok_and(|n| n > 0) {}
    }
}

/// A stand-in server rings it whenever its state changed.
pub struct Bell {
    read: OwnedFd,
    write: OwnedFd,
}

impl Bell {
    pub fn new() -> Self {
        let (read, write) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK).expect("pipe");
        Bell { read, write }
    }

    pub fn ring(&self) {
        // A full pipe already says "changed": nothing is lost when the write is refused.
        let _ = rustix::io::write(&self.write, &[1]);
    }
}

impl Source for Bell {
    fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

/// Readable once the process ended (a pidfd).
pub struct Exit(OwnedFd);

impl Exit {
    pub fn of(child: &std::process::Child) -> Self {
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("a pid")).expect("a pid");
        Exit(pidfd_open(pid, PidfdFlags::empty()).expect("pidfd_open"))
    }
}

impl Source for Exit {
    fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    fn drain(&self) {}
}

/// Returns once `done` holds, looking again whenever a source fires; fails the test
/// after `patience`.
pub fn within(
    patience: Duration,
    what: &str,
    sources: &[&dyn Source],
    mut done: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + patience;
    loop {
        // Drained before the look: whatever changes after it wakes the poll below.
        for source in sources {
            source.drain();
        }
        if done() {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {what}");
        let mut fds: Vec<PollFd<'_>> = sources
            .iter()
            .map(|s| PollFd::from_borrowed_fd(s.fd(), PollFlags::IN))
            .collect();
        let timeout = Timespec::try_from(left).expect("a timeout");
        match poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => panic!("poll: {e}"),
        }
    }
}

/// [`within`] the usual [`PATIENCE`].
pub fn until(what: &str, sources: &[&dyn Source], done: impl FnMut() -> bool) {
    within(PATIENCE, what, sources, done);
}
