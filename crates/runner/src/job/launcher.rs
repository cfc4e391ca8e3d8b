//! The seam between a job and the operating system: how one attempt of a test
//! case is started, waited for, killed, and how its outcome is learnt; and how an
//! executable test is run.
//!
//! [`run_job`](super::run_job) uses [`ProcessLauncher`], a `kennel __run-test`
//! child process per attempt, started as [`crate::test_process`] says; unit tests give
//! [`run_job_with`](super::run_job_with) a scripted launcher instead, so that
//! scheduling, retries, fail-fast, timeouts and interrupts are tested without
//! spawning anything.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kennel_layout::TestDir;

use crate::error::RunnerError;
use crate::event::Status;
use crate::executable::{ExecResult, ExecRun};
use crate::test_process::TestCommand;
use kennel_config::text::{file_last_lines, BlankLines};
use kennel_config::CaseArgs;
use kennel_results::Outcome;

/// How long past its own timeout a test process may take (its teardown) before
/// the runner kills its process group.
const BACKSTOP: Duration = Duration::from_secs(20);

/// Starts the job's test processes: attempts of test cases, and executable tests
/// (including cargo tests). The job calls it from several slot threads at once.
pub trait Launcher: Sync {
    /// Start one attempt of the case `args` as `command` (made from `args` by
    /// [`test_command`](crate::test_process::test_command)); `args.logdir`
    /// exists and is the attempt's log folder.
    fn start(
        &self,
        args: &CaseArgs,
        command: &TestCommand,
    ) -> Result<Box<dyn TestProcess>, RunnerError>;

    /// How long past `args.timeout` a started attempt may run (the test enforces its
    /// own timeout and then tears down) before the job kills it.
    fn grace(&self) -> Duration;

    /// Run an executable test to its end, its timeout, or `run.interrupted`, and judge
    /// it: one result, or one per TAP test point (see [`crate::executable`]), each
    /// handed to `on_result` as soon as it is known.
    fn run_executable(&self, run: &ExecRun<'_>, on_result: &mut dyn FnMut(ExecResult));
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

/// The real launcher: the case's command (`kennel __run-test ...`) in a process
/// group of its own, its output in `test-process.log`, its outcome read from
/// `result.json`; executables by [`crate::executable::run_executable`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessLauncher;

impl Launcher for ProcessLauncher {
    fn start(
        &self,
        args: &CaseArgs,
        command: &TestCommand,
    ) -> Result<Box<dyn TestProcess>, RunnerError> {
        let log = std::fs::File::create(TestDir::new(&args.logdir).test_process_log());
        let mut cmd = Command::new(&command.program);
        cmd.args(&command.args)
            .envs(command.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
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
            exe: command.program.clone(),
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

    fn run_executable(&self, run: &ExecRun<'_>, on_result: &mut dyn FnMut(ExecResult)) {
        crate::executable::run_executable(run, on_result)
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
        match Outcome::read(&self.logdir) {
            Ok(Some(o)) => o,
            Err(e) => Outcome::with(
                Status::Error,
                format!(
                    "the test process ended ({status}) with a result that does not read: {}",
                    crate::error_chain(&e)
                ),
            ),
            Ok(None) => Outcome::with(
                Status::Error,
                format!(
                    "the test process ended ({}) without reporting a result; its output:\n{}",
                    status,
                    file_last_lines(
                        &TestDir::new(&self.logdir).test_process_log(),
                        15,
                        BlankLines::Keep
                    )
                ),
            ),
        }
    }
}

/// Remove the scratch folder a test process did not get to remove (killed, or
/// crashed): it may hold disk overlays of hundreds of MiB. Only a folder named
/// like the ones test processes make is touched.
fn remove_scratch(logdir: &Path) {
    let note = TestDir::new(logdir).scratch_note();
    let Ok(text) = std::fs::read_to_string(&note) else {
        return;
    };
    let dir = PathBuf::from(text.trim());
    let ours = dir
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(kennel_layout::SCRATCH_PREFIX));
    if ours && dir.is_dir() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_file(&note);
}

#[cfg(test)]
mod tests {
    //! The real launcher, with a shell script standing in for `kennel`.

    use super::*;

    /// Finds `--logdir` among the arguments, as `kennel __run-test` does.
    const FIND_LOGDIR: &str = r#"#!/bin/sh
[ "$1" = __run-test ] || exit 9
while [ $# -gt 0 ]; do
    if [ "$1" = --logdir ]; then logdir="$2"; fi
    shift
done
"#;

    struct Fixture {
        dir: tempfile::TempDir,
        launcher: ProcessLauncher,
        args: CaseArgs,
        command: TestCommand,
    }

    /// A launcher whose `kennel` is a script running `body` after [`FIND_LOGDIR`].
    fn fixture(body: &str) -> Fixture {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let exe = dir.path().join("kennel");
        std::fs::write(&exe, format!("{FIND_LOGDIR}{body}")).expect("write script");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let logdir = dir.path().join("logdir");
        std::fs::create_dir(&logdir).expect("logdir");
        let args = CaseArgs {
            file: dir.path().join("t.toml"),
            case_index: 0,
            overrides: Default::default(),
            logdir,
            timeout: Duration::from_secs(60),
            qemu: None,
            assets: Default::default(),
        };
        let mut run_test = vec!["__run-test".to_string()];
        run_test.extend(args.to_args());
        Fixture {
            launcher: ProcessLauncher,
            command: TestCommand {
                program: exe,
                args: run_test,
                env: Vec::new(),
            },
            dir,
            args,
        }
    }

    fn ends_within(process: &mut dyn TestProcess, limit: Duration) -> bool {
        process.wait_until(Instant::now() + limit)
    }

    /// Polls until `pid` is gone (or a zombie, waiting for its reaper).
    fn gone_within(pid: &str, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        loop {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = state.rsplit(')').next().unwrap_or("").trim_start();
            if state.is_empty() || state.starts_with('Z') {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn the_outcome_is_what_the_test_process_wrote() {
        let f = fixture(
            "printf '{\"status\":\"FAIL\",\"reason\":\"from the script\"}' > \"$logdir/result.json\"\n",
        );

        let mut process = f.launcher.start(&f.args, &f.command).expect("starts");

        assert!(ends_within(process.as_mut(), Duration::from_secs(30)));
        let outcome = process.finish();
        assert_eq!(outcome.status, Status::Fail);
        assert_eq!(outcome.reason.as_deref(), Some("from the script"));
    }

    #[test]
    fn a_result_that_does_not_read_is_an_error_naming_the_file_and_where() {
        let f = fixture("printf '{\"status\":\"MAYBE\"}' > \"$logdir/result.json\"\n");

        let mut process = f.launcher.start(&f.args, &f.command).expect("starts");

        assert!(ends_within(process.as_mut(), Duration::from_secs(30)));
        let outcome = process.finish();
        assert_eq!(outcome.status, Status::Error);
        let reason = outcome.reason.unwrap_or_default();
        assert!(
            reason.contains("result.json:1:17: not a valid test outcome: unknown variant `MAYBE`"),
            "{reason}"
        );
    }

    #[test]
    fn the_test_process_gets_the_variables_of_its_command() {
        let mut f = fixture(
            "printf '{\"status\":\"PASS\",\"reason\":\"%s\"}' \"$KENNEL_NO_DOWNLOAD\" > \"$logdir/result.json\"\n",
        );
        f.command
            .env
            .push(("KENNEL_NO_DOWNLOAD".into(), "1".into()));

        let mut process = f.launcher.start(&f.args, &f.command).expect("starts");

        assert!(ends_within(process.as_mut(), Duration::from_secs(30)));
        assert_eq!(process.finish().reason.as_deref(), Some("1"));
    }

    #[test]
    fn a_test_process_ending_without_a_result_is_an_error_showing_its_output() {
        let f = fixture("echo 'no result for you' >&2\nexit 3\n");

        let mut process = f.launcher.start(&f.args, &f.command).expect("starts");

        assert!(ends_within(process.as_mut(), Duration::from_secs(30)));
        let outcome = process.finish();
        assert_eq!(outcome.status, Status::Error);
        assert_eq!(
            outcome.reason.as_deref(),
            Some("the test process ended (exit status: 3) without reporting a result; its output:")
        );
        assert!(outcome
            .detail
            .unwrap_or_default()
            .ends_with("no result for you"));
    }

    #[test]
    fn a_killed_test_process_takes_its_group_and_its_scratch_folder_with_it() {
        let f = fixture("sleep 300 &\necho $! > \"$logdir/grandchild\"\nwait\n");
        let scratch = f
            .dir
            .path()
            .join(format!("{}unit", kennel_layout::SCRATCH_PREFIX));
        std::fs::create_dir(&scratch).expect("scratch");
        let note = TestDir::new(&f.args.logdir).scratch_note();
        std::fs::write(&note, scratch.to_string_lossy().as_bytes()).expect("note");
        let mut process = f.launcher.start(&f.args, &f.command).expect("starts");
        let grandchild = f.args.logdir.join("grandchild");
        let until = Instant::now() + Duration::from_secs(30);
        while !grandchild.exists() && Instant::now() < until {
            assert!(!ends_within(process.as_mut(), Duration::from_millis(20)));
        }
        let pid = std::fs::read_to_string(&grandchild).expect("grandchild pid");

        process.kill();

        assert!(gone_within(pid.trim(), Duration::from_secs(10)), "{pid}");
        assert!(!scratch.exists());
        assert!(!note.exists());
    }

    #[test]
    fn a_missing_executable_cannot_start() {
        let f = fixture("");
        let command = TestCommand {
            program: f.dir.path().join("no-such-kennel"),
            ..f.command.clone()
        };

        let started = f.launcher.start(&f.args, &command);

        assert!(matches!(started, Err(RunnerError::Spawn { .. })));
    }
}
