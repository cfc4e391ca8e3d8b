//! Children a test waits for with a bound: started in a process group of their
//! own, their output read on threads, and on expiry their group (and every
//! process carrying their `KENNEL_TEST_MARKER`) killed before the test panics
//! saying what did not end. No wait in kennel's tests is unbounded.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::processes_with;

/// How long a finished child's output readers get to see the end of their pipes
/// (a grandchild outside the group still holding one) before the test goes on
/// with what they read.
const READERS_GRACE: Duration = Duration::from_secs(10);

/// How often a bounded wait looks again.
const POLL: Duration = Duration::from_millis(20);

/// Poll `done` until it holds or `limit` passes; whether it held (asked once
/// more at the end, so a slow machine never loses a condition that came true).
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if done() {
            return true;
        }
        std::thread::sleep(POLL);
    }
    done()
}

/// The longest a child of one of kennel's tests (a `kennel run`, a QEMU, a
/// browser) may run on a loaded machine before the test kills it and fails:
/// an hour, far above the sum of the tests' own timeouts in any one job of
/// the suite (two cloud guests of 10 minutes each, one after the other, under
/// TCG, took over 10 minutes on a loaded 2-core machine), and independent of
/// them (`--gdb` multiplies those by 10,000). It ends hangs; it times nothing.
pub const RUN_BOUND: Duration = Duration::from_secs(3600);

/// [`Command::output`] with a bound.
pub trait OutputWithin {
    /// Run to its end, at most `limit`, collecting its stdout and stderr
    /// (stdin is the null device, as for [`Command::output`]):
    /// [`Bounded::start`] then [`Bounded::wait`].
    ///
    /// # Panics
    ///
    /// When it cannot start, or has not ended within `limit` (after killing
    /// it and what it started).
    fn output_within(&mut self, limit: Duration) -> Output;
}

impl OutputWithin for Command {
    #[track_caller]
    fn output_within(&mut self, limit: Duration) -> Output {
        self.stdin(Stdio::null());
        Bounded::start(self).wait(limit)
    }
}

/// What a child printed on one pipe, read on a thread as it comes.
pub struct Screen {
    seen: Arc<Mutex<Vec<u8>>>,
    reader: JoinHandle<()>,
}

impl Screen {
    /// Read `from` on a thread until its end.
    pub fn read(mut from: impl Read + Send + 'static) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let into = Arc::clone(&seen);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 {
                    break;
                }
                into.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&buf[..n]);
            }
        });
        Self { seen, reader }
    }

    /// The text read so far (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// Wait up to `limit` for `text` to have been printed; whether it was.
    pub fn wait_for(&self, text: &str, limit: Duration) -> bool {
        wait_until(limit, || self.text().contains(text))
    }

    /// Everything printed, once the pipe ended (waiting up to `grace` for
    /// that; after it, what was read so far).
    pub fn finish(self, grace: Duration) -> Vec<u8> {
        wait_until(grace, || self.reader.is_finished());
        if self.reader.is_finished() {
            let _ = self.reader.join();
        }
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A child in a process group of its own, whose piped stdout and stderr are
/// read as they come; waited for with a bound.
pub struct Bounded {
    child: Option<Child>,
    what: String,
    marker: String,
    stdout: Option<Screen>,
    stderr: Option<Screen>,
}

impl Bounded {
    /// Start `command` (stdout and stderr piped) as the leader of a new
    /// process group, with a `KENNEL_TEST_MARKER` of its own unless the caller
    /// gave one ([`crate::unique_marker`]), to find what it starts.
    ///
    /// # Panics
    ///
    /// When it cannot start.
    #[track_caller]
    pub fn start(command: &mut Command) -> Self {
        let what = format!("{command:?}");
        let marker = command
            .get_envs()
            .find(|(k, _)| *k == "KENNEL_TEST_MARKER")
            .and_then(|(_, v)| v)
            .and_then(|v| v.to_str())
            .map(str::to_string)
            .unwrap_or_else(|| {
                let marker = crate::unique_marker();
                command.env("KENNEL_TEST_MARKER", &marker);
                marker
            });
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = child.stdout.take().map(Screen::read);
        let stderr = child.stderr.take().map(Screen::read);
        Self {
            child: Some(child),
            what,
            marker,
            stdout,
            stderr,
        }
    }

    /// The child's process id (its process group's too).
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The child's stdin, when the caller piped it.
    pub fn stdin(&mut self) -> Option<&mut ChildStdin> {
        self.child.as_mut()?.stdin.as_mut()
    }

    /// Close the child's stdin (end of input).
    pub fn close_stdin(&mut self) {
        if let Some(child) = self.child.as_mut() {
            drop(child.stdin.take());
        }
    }

    /// Its stdout, read so far.
    ///
    /// # Panics
    ///
    /// When the caller did not let its stdout be piped.
    pub fn stdout(&self) -> &Screen {
        self.stdout.as_ref().expect("stdout is piped")
    }

    /// Whether it ended already (without reaping it).
    pub fn has_ended(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    /// Wait up to `limit` for it to end; its exit status and all it printed
    /// (readers joined first).
    ///
    /// # Panics
    ///
    /// When it is still running after `limit`: its process group and the
    /// processes carrying its marker are killed first, and the panic names
    /// the command, the bound and what it printed.
    #[track_caller]
    pub fn wait(mut self, limit: Duration) -> Output {
        let Some(status) = self.status_within(limit) else {
            self.kill();
            let stdout = self.stdout.take().map(|s| s.finish(READERS_GRACE));
            let stderr = self.stderr.take().map(|s| s.finish(READERS_GRACE));
            panic!(
                "{} did not end within {limit:?}; killed its process group and marked processes\n\
                 stdout:\n{}\nstderr:\n{}",
                self.what,
                String::from_utf8_lossy(&stdout.unwrap_or_default()),
                String::from_utf8_lossy(&stderr.unwrap_or_default()),
            );
        };
        Output {
            status,
            stdout: self
                .stdout
                .take()
                .map(|s| s.finish(READERS_GRACE))
                .unwrap_or_default(),
            stderr: self
                .stderr
                .take()
                .map(|s| s.finish(READERS_GRACE))
                .unwrap_or_default(),
        }
    }

    fn status_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let mut status = None;
        wait_until(limit, || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        });
        if status.is_some() {
            self.child = None;
        }
        status
    }

    /// Kill its process group and every process carrying its marker, and reap it.
    fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        kill_group(child.id());
        for pid in processes_with(&self.marker) {
            kill_group(pid);
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) with a pid and a signal number; no memory involved.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Bounded {
    /// A test that panicked before waiting leaves nothing running.
    fn drop(&mut self) {
        self.kill();
    }
}

/// SIGKILL to the process group `pgid` (nothing when it is no group leader).
fn kill_group(pgid: u32) {
    if let Ok(pgid) = libc::pid_t::try_from(pgid) {
        if pgid > 0 {
            // SAFETY: kill(2) with a negative pid names a process group; no memory involved.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
}
