//! A TOML case on its slot thread: its attempts (retries), each a test process
//! waited for until it ends, overruns its timeout, or the job stops.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kennel_config::text::{file_last_line, BlankLines};
use kennel_config::CaseArgs;
use kennel_layout::TestDir;
use kennel_results::StartRecord;

use super::coordinator::Shared;
use super::test_run::Report;
use crate::discover::CaseEntry;
use crate::event::{EventKind, Outcome, Status, TestResult};
use crate::test_process::{test_command, TestKind};

/// How often a waiting slot looks at the interrupt flag.
const INTERRUPT_CHECK: Duration = Duration::from_millis(50);

/// A case to run.
pub(super) struct CaseRun<'a> {
    pub(super) case: &'a Arc<CaseEntry>,
    /// Its index among its file's cases, for the test process.
    pub(super) case_index: usize,
    /// Its log folder (absolute).
    pub(super) logdir: PathBuf,
    /// When its slot took it.
    pub(super) started: Instant,
}

/// Run the case's attempts until one passes (or skips), its retries are spent,
/// or the job stops; the result of the last one.
pub(super) fn run_case(
    shared: &Shared<'_>,
    report: Report<'_>,
    run: &CaseRun<'_>,
    mut result: TestResult,
) -> TestResult {
    let case = run.case;
    let retries = shared.opts.retries.unwrap_or(case.retries);
    let args = CaseArgs {
        file: case.file.to_path_buf(),
        case_index: run.case_index,
        overrides: shared.opts.overrides.clone(),
        logdir: run.logdir.clone(),
        timeout: shared.opts.test_timeout(case.timeout),
        qemu: shared.opts.qemu.clone(),
        assets: shared.opts.settings.assets,
    };
    let mut outcome = Outcome::pass();
    let mut attempt = 0;
    let mut failed_before = false;
    while attempt <= retries {
        attempt += 1;
        report.started(case.name.clone(), attempt);
        if attempt > 1 {
            keep_attempt(&run.logdir, attempt - 1);
        }
        outcome = run_attempt(shared, &args);
        let retryable = matches!(
            outcome.status,
            Status::Fail | Status::Error | Status::Interrupted
        );
        if !retryable || attempt > retries || shared.abort_reason().is_some() {
            break;
        }
        failed_before = true;
        report.event(EventKind::TestRetrying {
            index: report.index,
            name: case.name.clone(),
            outcome: outcome.clone(),
        });
    }
    result.status = outcome.status;
    result.reason = outcome.reason;
    result.detail = outcome.detail;
    result.machines = outcome.machines;
    result.flaky = failed_before && outcome.status == Status::Pass;
    result.attempts = attempt;
    result.duration_s = run.started.elapsed().as_secs_f64();
    result
}

/// Move the files of a finished attempt into `attempt-N/`.
fn keep_attempt(logdir: &Path, n: u32) {
    let dest = TestDir::new(logdir).attempt(n).path().to_path_buf();
    if std::fs::create_dir_all(&dest).is_err() {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(logdir) {
        for e in entries.flatten() {
            let name = e.file_name();
            if TestDir::is_attempt(&name.to_string_lossy()) {
                continue;
            }
            let _ = std::fs::rename(e.path(), dest.join(name));
        }
    }
}

/// One attempt: started, then waited for until it ends by itself, the job
/// stops, or its timeout and the launcher's grace have passed (the time a
/// test spends paused on its failure not counted).
fn run_attempt(shared: &Shared<'_>, args: &CaseArgs) -> Outcome {
    let command = match test_command(shared.opts, TestKind::Case(args), &args.logdir) {
        Ok(command) => command,
        Err(e) => return Outcome::with(Status::Error, kennel_machine::error_chain(&e)),
    };
    let mut process = match shared.launcher.start(args, &command) {
        Ok(p) => p,
        Err(e) => return Outcome::with(Status::Error, e.to_string()),
    };
    let grace = shared.launcher.grace();
    let mut limit = Instant::now() + args.timeout + grace;
    // A killed test process wrote no result: how its machines started is
    // in `start.json`.
    let killed = |text: &str| match StartRecord::read(&args.logdir) {
        Ok(machines) => Outcome {
            machines: machines.unwrap_or_default(),
            ..Outcome::with(Status::Interrupted, text)
        },
        Err(e) => Outcome::with(
            Status::Interrupted,
            format!("{text}\n{}", crate::error_chain(&e)),
        ),
    };
    let paused = TestDir::new(&args.logdir).paused();
    let mut checked = Instant::now();
    loop {
        // Wake at once when the test process ends; look at the interrupt flag now and then.
        let next = (Instant::now() + INTERRUPT_CHECK).min(limit);
        if process.wait_until(next) {
            return process.finish();
        }
        // A test paused on its failure (`--pause-on-failure`): its time stops.
        let now = Instant::now();
        if paused.exists() {
            limit += now - checked;
        }
        checked = now;
        if let Some(why) = shared.abort_reason() {
            process.kill();
            return killed(why);
        }
        if Instant::now() >= limit {
            process.kill();
            return killed(&format!(
                "the test process did not finish within its timeout ({}) plus {}s, and was killed; last test.log line: {}",
                humantime::format_duration(args.timeout),
                grace.as_secs(),
                file_last_line(&TestDir::new(&args.logdir).test_log(), BlankLines::Keep)
                    .unwrap_or_else(|| "(none)".into())
            ));
        }
    }
}
