//! One test on its slot thread: what each kind of planned test does, and how an
//! executable's results (a TAP producer's points) reach the coordinator.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use kennel_layout::TestDir;
use kennel_results::StartRecord;

use super::attempt::run_case;
use super::coordinator::{Msg, Shared};
use crate::discover::{LoadFailure, Planned, PlannedTest};
use crate::event::{EventKind, Outcome, Status, TestResult};
use crate::executable::ExecRun;
use crate::test_process::{test_command, TestKind};

/// Where a slot thread's test reports to: its index in the job and the coordinator.
#[derive(Clone, Copy)]
pub(super) struct Report<'a> {
    pub(super) index: usize,
    pub(super) tx: &'a mpsc::Sender<Msg>,
}

impl Report<'_> {
    /// Tell the job that attempt `attempt` of the test (`name`) started.
    pub(super) fn started(&self, name: String, attempt: u32) {
        self.event(EventKind::TestStarted {
            index: self.index,
            name,
            attempt,
        });
    }

    pub(super) fn event(&self, kind: EventKind) {
        let _ = self.tx.send(Msg::Event(Box::new(kind)));
    }

    fn result(&self, result: TestResult) {
        let _ = self.tx.send(Msg::Result {
            index: self.index,
            result: Box::new(result),
        });
    }
}

/// Run test `t` on `slot`: its results, those not already sent to the
/// coordinator as they came.
pub(super) fn run_test(
    shared: &Shared<'_>,
    t: &PlannedTest,
    slot: usize,
    tx: &mpsc::Sender<Msg>,
) -> Vec<TestResult> {
    let started = Instant::now();
    let logdir = make_logdir(&shared.job_dir.join(&t.logdir));
    let mut result = not_run(t, "");
    result.start_s = started.duration_since(shared.start).as_secs_f64();
    result.slot = slot;
    result.attempts = 1;
    let report = Report { index: t.index, tx };
    let program = |kind, stdout_file, timeout| {
        let run = Program {
            kind,
            stdout_file,
            timeout,
        };
        run_program(shared, t, report, &run, &logdir, result.clone())
    };
    let default_timeout = kennel_spec::DEFAULT_TIMEOUT;
    match &t.what {
        Planned::Invalid(f) => vec![invalid(f, &logdir, result)],
        Planned::Executable { path } => {
            let kind = TestKind::Executable {
                path,
                args: &t.args,
            };
            program(kind, kennel_layout::TEST_LOG, default_timeout)
        }
        Planned::QemuTest(q) => {
            let kind = TestKind::QemuTree {
                test: q,
                ids: &t.args,
            };
            program(kind, kennel_layout::TEST_LOG, q.timeout)
        }
        Planned::CargoTest(c) if c.ignored => {
            result.reason = Some("ignored (marked `ignore` in the test)".into());
            vec![result]
        }
        Planned::CargoTest(c) => {
            let timeout = c.timeout.unwrap_or(default_timeout);
            program(TestKind::Rust(c), kennel_layout::STDOUT_LOG, timeout)
        }
        Planned::Case { case, case_index } => {
            let run = super::attempt::CaseRun {
                case,
                case_index: *case_index,
                logdir,
                started,
            };
            vec![run_case(shared, report, &run, result)]
        }
    }
}

/// The test's log folder, made and absolute.
fn make_logdir(logdir: &Path) -> PathBuf {
    let _ = std::fs::create_dir_all(logdir);
    std::path::absolute(logdir).unwrap_or_else(|_| logdir.to_path_buf())
}

/// A file that does not load: an ERROR, its message in `test.log`.
fn invalid(f: &LoadFailure, logdir: &Path, mut result: TestResult) -> TestResult {
    let _ = std::fs::write(TestDir::new(logdir).test_log(), format!("{}\n", f.message));
    let o = Outcome::with(Status::Error, f.message.clone());
    result.status = o.status;
    result.reason = o.reason;
    result.detail = o.detail;
    result
}

/// A test run as a program of its own (every kind but a TOML case).
struct Program<'a> {
    kind: TestKind<'a>,
    /// The file in the log folder its stdout goes to.
    stdout_file: &'static str,
    /// Its own timeout, before the job's factor.
    timeout: Duration,
}

/// A program: one result, or one per TAP test point, each sent to the
/// coordinator as soon as it is known (none are left for the end). A program
/// that cannot run here (a QEMU tree test without its QEMU) SKIPs, unstarted.
fn run_program(
    shared: &Shared<'_>,
    t: &PlannedTest,
    report: Report<'_>,
    program: &Program<'_>,
    logdir: &Path,
    mut template: TestResult,
) -> Vec<TestResult> {
    let command = match test_command(shared.opts, program.kind, logdir) {
        Ok(command) => command,
        Err(why) => {
            template.status = Status::Skip;
            template.reason = Some(kennel_machine::error_chain(&why));
            return vec![template];
        }
    };
    report.started(t.name(), 1);
    let abort = || shared.abort_reason().is_some();
    let run = ExecRun {
        command: &command,
        logdir,
        stdout_file: program.stdout_file,
        timeout: shared.opts.test_timeout(program.timeout),
        interrupted: &abort,
    };
    shared.launcher.run_executable(&run, &mut |r| {
        let mut t = template.clone();
        if let Some(point) = &r.point {
            t.name = format!("{}: {point}", template.name);
        }
        t.point = r.point;
        t.status = r.outcome.status;
        t.reason = r.outcome.reason;
        t.detail = r.outcome.detail;
        // A Rust test's machines: how they started (`start.json`, written by
        // the machine core's record as each started); the detail says when it does not read.
        if t.point.is_none() {
            match StartRecord::read(logdir) {
                Ok(machines) => t.machines = machines.unwrap_or_default(),
                Err(e) => {
                    t.detail = Some(format!(
                        "{}\n{}",
                        t.detail.as_deref().or(t.reason.as_deref()).unwrap_or(""),
                        crate::error_chain(&e)
                    ))
                }
            }
        }
        t.duration_s = r.duration_s;
        t.start_s = template.start_s + (r.at_s - r.duration_s).max(0.0);
        report.result(t);
    });
    Vec::new()
}

/// The result of a test that did not run (yet), for `why`.
pub(super) fn not_run(t: &PlannedTest, why: &str) -> TestResult {
    let variant = match &t.what {
        Planned::Case { case, .. } => case.variant.iter().cloned().collect(),
        _ => IndexMap::new(),
    };
    TestResult {
        name: t.name(),
        file: t.file().to_path_buf(),
        variant,
        tags: t.tags(),
        status: Status::Skip,
        reason: Some(why.to_string()),
        flaky: false,
        duration_s: 0.0,
        logdir: t.logdir.clone(),
        attempts: 0,
        detail: None,
        machines: Default::default(),
        start_s: 0.0,
        slot: 0,
        point: None,
    }
}
