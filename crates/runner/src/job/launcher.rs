//! The seam between a job and the operating system: how one attempt of a test
//! case is started, waited for, killed, and how its outcome is learnt.
//!
//! [`run_job`](super::run_job) uses [`ProcessLauncher`], a `kennel __run-test`
//! child process per attempt; unit tests give
//! [`run_job_with`](super::run_job_with) a scripted launcher instead, so that
//! scheduling, retries, fail-fast, timeouts and interrupts are tested without
//! spawning anything.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::child::{read_outcome, ChildArgs};
use crate::error::RunnerError;
use crate::event::{Outcome, Status};

/// How long past its own timeout a test process may take (its teardown) before
/// the runner kills its process group.
const BACKSTOP: Duration = Duration::from_secs(20);

/// Starts attempts of test cases. The job calls it from several slot threads at once.
pub trait Launcher: Sync {
    /// Start one attempt; `args.logdir` exists and is the attempt's log folder.
    fn start(&self, args: &ChildArgs) -> Result<Box<dyn TestProcess>, RunnerError>;

    /// How long past `args.timeout` a started attempt may run (the test enforces its
    /// own timeout and then tears down) before the job kills it.
    fn grace(&self) -> Duration;
}

/// One running attempt, as the job sees it.
pub trait TestProcess {
    /// Wait until the attempt ends by itself or `deadline` passes; true when it ended.
    fn wait_until(&mut self, deadline: Instant) -> bool;

    /// Stop the attempt now (it overran, or the job is stopping), wait for it,
    /// and clean up what it left behind.
    fn kill(self: Box<Self>);

    /// The outcome of an attempt that ended by itself (see [`TestProcess::wait_until`]).
    fn finish(self: Box<Self>) -> Outcome;
}

/// The real launcher: `<exe> __run-test ...` in a process group of its own, its
/// output in `test-process.log`, its outcome read from `result.json`.
#[derive(Debug, Clone)]
pub struct ProcessLauncher {
    exe: PathBuf,
}

impl ProcessLauncher {
    /// Launch attempts with `exe`, the `kennel` executable.
    pub fn new(exe: impl Into<PathBuf>) -> ProcessLauncher {
        ProcessLauncher { exe: exe.into() }
    }
}

impl Launcher for ProcessLauncher {
    fn start(&self, args: &ChildArgs) -> Result<Box<dyn TestProcess>, RunnerError> {
        let log = std::fs::File::create(args.logdir.join("test-process.log"));
        let mut cmd = Command::new(&self.exe);
        cmd.arg("__run-test")
            .args(args.to_args())
            .stdin(Stdio::null());
        match log.and_then(|f| Ok((f.try_clone()?, f))) {
            Ok((out, err)) => {
                cmd.stdout(out).stderr(err);
            }
            Err(_) => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        kennel_machine::process::kill_with_parent(&mut cmd);
        let child = cmd.spawn().map_err(|source| RunnerError::Spawn {
            exe: self.exe.clone(),
            source,
        })?;
        Ok(Box::new(ChildProcess {
            process: kennel_machine::process::Reaper::spawn(child),
            logdir: args.logdir.clone(),
        }))
    }

    fn grace(&self) -> Duration {
        BACKSTOP
    }
}

/// A `kennel __run-test` process, leader of its own process group.
struct ChildProcess {
    process: kennel_machine::process::Reaper,
    logdir: PathBuf,
}

impl TestProcess for ChildProcess {
    fn wait_until(&mut self, deadline: Instant) -> bool {
        self.process.wait_until(deadline).is_some()
    }

    fn kill(self: Box<Self>) {
        kennel_machine::process::signal_group(self.process.pid(), libc::SIGKILL);
        self.process
            .wait_until(Instant::now() + Duration::from_secs(10));
        remove_scratch(&self.logdir);
    }

    fn finish(self: Box<Self>) -> Outcome {
        let status = self
            .process
            .status()
            .map(|s| s.to_string())
            .unwrap_or_else(|| "exit status unknown".into());
        // Whatever the test process left behind in its group (it should be nothing) goes now.
        kennel_machine::process::signal_group(self.process.pid(), libc::SIGKILL);
        remove_scratch(&self.logdir);
        match read_outcome(&self.logdir) {
            Some(o) => o,
            None => Outcome::with(
                Status::Error,
                format!(
                    "the test process ended ({}) without reporting a result; its output:\n{}",
                    status,
                    tail(&self.logdir.join("test-process.log"), 15)
                ),
            ),
        }
    }
}

/// Remove the scratch folder a test process did not get to remove (killed, or
/// crashed): it may hold disk overlays of hundreds of MiB. Only a folder named
/// like the ones test processes make is touched.
fn remove_scratch(logdir: &Path) {
    let note = logdir.join(crate::interpret::SCRATCH_NOTE);
    let Ok(text) = std::fs::read_to_string(&note) else {
        return;
    };
    let dir = PathBuf::from(text.trim());
    let ours = dir
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("kennel-tmp-"));
    if ours && dir.is_dir() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_file(&note);
}

fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
