//! Running a planned job: parallel slots, one test process per attempt,
//! timeouts, retries, interrupts, and the event stream.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use indexmap::IndexMap;
use kennel_layout::{ResultsRoot, TestDir};
use kennel_spec::Value;

use crate::discover::{Planned, PlannedTest};
use crate::error::RunnerError;
use crate::event::{EventKind, Outcome, RunEvent, Status, Summary, TestResult};
use kennel_config::text::{file_last_line, BlankLines};
use kennel_config::CaseArgs;
use kennel_results::StartRecord;

mod journal;
mod launcher;
pub use journal::{
    read_journal, recover, JournalEntry, JournalWriter, Recovered, DIED_BEFORE_START,
    DIED_WHILE_RUNNING,
};
pub use launcher::{Launcher, ProcessLauncher, TestProcess};

#[cfg(test)]
mod tests;

/// How often a waiting slot looks at the interrupt flag.
const INTERRUPT_CHECK: Duration = Duration::from_millis(50);

/// How a job runs.
#[derive(Debug, Clone)]
pub struct JobOptions {
    /// Parallel slots.
    pub jobs: usize,
    /// `-p` parameters.
    pub overrides: IndexMap<String, Value>,
    /// Multiplies every test's timeout.
    pub timeout_factor: f64,
    /// Where job folders go.
    pub results_dir: PathBuf,
    /// `--qemu`.
    pub qemu: Option<PathBuf>,
    /// `--retries`: overrides the tests' own `retries`.
    pub retries: Option<u32>,
    /// Stop starting tests after the first failure.
    pub fail_fast: bool,
    /// The `kennel` executable that runs `__run-test` ([`run_job`]'s [`ProcessLauncher`]).
    pub exe: PathBuf,
    /// The job's id (see [`new_job_id`]).
    pub job_id: String,
    /// Stop the whole job after this long (running tests end INTERRUPTED).
    pub job_timeout: Option<Duration>,
    /// Memory the tests' machines may use at once, in MiB (default: what the machine has available).
    pub memory_mib: Option<u64>,
    /// How assets may be fetched.
    pub assets: kennel_config::AssetPolicy,
    /// How the job was run, in the caller's words (`results.json`'s `options`): kept
    /// in the journal so that the results can be rebuilt from it.
    pub record: Option<kennel_results::RunOptions>,
}

/// What a finished job produced. The results themselves are in the job's journal
/// (see [`recover`]) and were handed out as [`EventKind::TestFinished`] events.
#[derive(Debug, Clone)]
pub struct JobReport {
    /// The job folder.
    pub job_dir: PathBuf,
    /// Counts.
    pub summary: Summary,
    /// The user interrupted the job.
    pub interrupted: bool,
}

/// A job id: UTC time and 8 random hex digits, `20261125T031500-3f9a2c1d`.
/// The digits come from the operating system's random source (`getrandom`),
/// so that jobs started in the same second (shards on one machine, CI
/// retries) get different ids; only where that source fails (no
/// `getrandom(2)` and no `/dev/urandom`) are they the clock's nanoseconds.
pub fn new_job_id() -> String {
    let now = SystemTime::now();
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    let compact: String = stamp
        .trim_end_matches('Z')
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        bytes = nanos.to_be_bytes();
    }
    format!("{compact}-{}", kennel_config::text::hex(&bytes))
}

/// Why the job stops early.
const ABORT_NONE: u8 = 0;
const ABORT_USER: u8 = 1;
const ABORT_JOB_TIMEOUT: u8 = 2;

struct Shared<'a> {
    opts: &'a JobOptions,
    job_dir: &'a Path,
    abort: AtomicU8,
    interrupted: &'a AtomicBool,
    launcher: &'a dyn Launcher,
    start: Instant,
}

impl Shared<'_> {
    /// Why running tests must stop now, if they must.
    fn abort_reason(&self) -> Option<&'static str> {
        if self.interrupted.load(Ordering::SeqCst) {
            self.abort.store(ABORT_USER, Ordering::SeqCst);
        }
        match self.abort.load(Ordering::SeqCst) {
            ABORT_NONE => None,
            ABORT_USER => Some("interrupted by the user"),
            _ => Some("the job's timeout was reached"),
        }
    }
}

/// What test threads tell the coordinator.
enum Msg {
    Event(Box<EventKind>),
    /// A result known before its test ends (a TAP point).
    Result {
        index: usize,
        result: Box<TestResult>,
    },
    Done {
        index: usize,
        slot: usize,
        results: Vec<TestResult>,
    },
}

/// Run the planned tests and report every event to `on_event`.
///
/// Creates the job folder (and points `latest` at it), starts tests while the
/// parallel slots and the machine's memory allow (see [`crate::schedule`]), each
/// attempt in its own child process (`opts.exe __run-test`, see
/// [`ProcessLauncher`]), and returns once every test has a result.
/// Ctrl-C (SIGINT) or SIGTERM, and the job timeout, stop the running tests, mark
/// what did not run, and return with the results complete.
pub fn run_job(
    tests: &[PlannedTest],
    opts: &JobOptions,
    on_event: &mut dyn FnMut(&RunEvent),
) -> Result<JobReport, RunnerError> {
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, Arc::clone(&interrupted));
    }
    let launcher = ProcessLauncher::new(&opts.exe);
    run_job_with(tests, opts, &launcher, &interrupted, on_event)
}

/// [`run_job`] with the attempts started by `launcher` (`opts.exe` is not used) and
/// the job stopped as by Ctrl-C once `interrupted` is set; no signal handler is
/// installed.
pub fn run_job_with(
    tests: &[PlannedTest],
    opts: &JobOptions,
    launcher: &dyn Launcher,
    interrupted: &AtomicBool,
    on_event: &mut dyn FnMut(&RunEvent),
) -> Result<JobReport, RunnerError> {
    let job = ResultsRoot::new(&opts.results_dir).job(&opts.job_id);
    let job_dir = job.root().to_path_buf();
    std::fs::create_dir_all(job.tests_dir()).map_err(|source| RunnerError::Results {
        path: job_dir.clone(),
        source,
    })?;
    point_latest(&opts.results_dir, &job_dir);
    // Private folders of test processes killed with an earlier runner.
    kennel_machine::private_dir::remove_orphans(
        &std::env::temp_dir(),
        &[
            kennel_layout::SCRATCH_PREFIX,
            kennel_machine::private_dir::SOCKET_DIR_PREFIX,
        ],
    );
    let journal_err = |source| RunnerError::Results {
        path: job.journal(),
        source,
    };
    let mut journal = JournalWriter::create(&job.journal()).map_err(journal_err)?;
    let start = Instant::now();
    let emit = |on_event: &mut dyn FnMut(&RunEvent), kind: EventKind| {
        on_event(&RunEvent {
            timestamp: SystemTime::now(),
            elapsed: start.elapsed(),
            kind,
        })
    };
    journal
        .append(&JournalEntry::Job {
            job_id: opts.job_id.clone(),
            started: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            total: tests.len(),
            options: opts.record.clone(),
        })
        .map_err(journal_err)?;
    for t in tests {
        journal
            .append(&JournalEntry::Planned {
                index: t.index,
                test: not_run(t, ""),
            })
            .map_err(journal_err)?;
    }
    let jobs = opts.jobs.max(1).min(tests.len().max(1));
    let memory = opts
        .memory_mib
        .unwrap_or_else(crate::schedule::available_memory_mib);
    emit(
        on_event,
        EventKind::JobStarted {
            job_id: opts.job_id.clone(),
            job_dir: job_dir.clone(),
            total: tests.len(),
            jobs,
        },
    );
    emit(
        on_event,
        EventKind::Note {
            text: format!(
                "scheduling {} tests on {jobs} slots within {memory} MiB of memory",
                tests.len()
            ),
        },
    );
    let shared = Shared {
        opts,
        job_dir: &job_dir,
        abort: AtomicU8::new(ABORT_NONE),
        interrupted,
        launcher,
        start,
    };
    let weights = tests.iter().map(crate::schedule::weight).collect();
    let mut scheduler = crate::schedule::Scheduler::new(weights, jobs, memory);
    // Only whether each test has ended is kept: its results are in the journal.
    let mut ended = vec![false; tests.len()];
    let mut summary = Summary::default();
    let mut record = |journal: &mut JournalWriter,
                      on_event: &mut dyn FnMut(&RunEvent),
                      index: usize,
                      result: TestResult| {
        summary.add(result.status);
        let written = journal.append(&JournalEntry::Finished {
            index,
            test: result.clone(),
        });
        if let Err(e) = written {
            emit(
                on_event,
                EventKind::Note {
                    text: e.to_string(),
                },
            );
        }
        emit(on_event, EventKind::TestFinished { index, result });
    };
    let (tx, rx) = mpsc::channel::<Msg>();
    std::thread::scope(|scope| loop {
        if shared.abort_reason().is_some() {
            scheduler.drain();
        }
        while let Some((index, slot)) = scheduler.next_to_start() {
            let tx = tx.clone();
            let shared = &shared;
            let test = &tests[index];
            scope.spawn(move || {
                let results = run_test(shared, test, slot, &tx);
                let _ = tx.send(Msg::Done {
                    index,
                    slot,
                    results,
                });
            });
        }
        if scheduler.is_done() {
            break;
        }
        let wait = match opts.job_timeout {
            Some(t) => (start + t).saturating_duration_since(Instant::now()),
            None => Duration::from_millis(200),
        }
        .min(Duration::from_millis(200));
        match rx.recv_timeout(wait) {
            Ok(Msg::Result { index, result }) => {
                if opts.fail_fast && !result.status.is_ok() {
                    scheduler.drain();
                }
                record(&mut journal, on_event, index, *result);
            }
            Ok(Msg::Event(kind)) => {
                if let EventKind::TestStarted { index, .. } = &*kind {
                    let _ = journal.append(&JournalEntry::Started { index: *index });
                }
                emit(on_event, *kind)
            }
            Ok(Msg::Done {
                index,
                slot,
                results: r,
            }) => {
                scheduler.finish(index, slot);
                if opts.fail_fast && r.iter().any(|t| !t.status.is_ok()) {
                    scheduler.drain();
                }
                for result in r {
                    record(&mut journal, on_event, index, result);
                }
                let _ = journal.append(&JournalEntry::Ended { index });
                ended[index] = true;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if opts.job_timeout.is_some_and(|t| start.elapsed() >= t) {
            shared.abort.store(ABORT_JOB_TIMEOUT, Ordering::SeqCst);
        }
    });
    let was_interrupted = shared.abort.load(Ordering::SeqCst) == ABORT_USER;
    let why_not_run = match shared.abort_reason() {
        Some(r) => format!("not run: {r}"),
        None => "not run: --fail-fast stopped the job after a failure".into(),
    };
    for (i, t) in tests.iter().enumerate() {
        if !ended[i] {
            record(&mut journal, on_event, i, not_run(t, &why_not_run));
            let _ = journal.append(&JournalEntry::Ended { index: i });
        }
    }
    let _ = journal.append(&JournalEntry::Done {
        interrupted: was_interrupted,
        duration_s: (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    });
    journal.sync();
    emit(
        on_event,
        EventKind::JobFinished {
            summary,
            interrupted: was_interrupted,
        },
    );
    Ok(JobReport {
        job_dir,
        summary,
        interrupted: was_interrupted,
    })
}

fn not_run(t: &PlannedTest, why: &str) -> TestResult {
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

/// `latest` -> the job folder, replaced atomically (new link, then rename).
pub fn point_latest(results_dir: &Path, job_dir: &Path) {
    ResultsRoot::new(results_dir).point_latest(job_dir);
}

/// Tell the job that attempt `attempt` of test `index` (`name`) started.
fn announce_start(tx: &mpsc::Sender<Msg>, index: usize, name: String, attempt: u32) {
    let _ = tx.send(Msg::Event(Box::new(EventKind::TestStarted {
        index,
        name,
        attempt,
    })));
}

fn run_test(
    shared: &Shared<'_>,
    t: &PlannedTest,
    slot: usize,
    tx: &mpsc::Sender<Msg>,
) -> Vec<TestResult> {
    let started = Instant::now();
    let start_s = started.duration_since(shared.start).as_secs_f64();
    let logdir = shared.job_dir.join(&t.logdir);
    let _ = std::fs::create_dir_all(&logdir);
    let logdir = std::path::absolute(&logdir).unwrap_or(logdir);
    let mut result = not_run(t, "");
    result.start_s = start_s;
    result.slot = slot;
    result.attempts = 1;
    let (case, case_index) = match &t.what {
        Planned::Invalid(f) => {
            let _ = std::fs::write(TestDir::new(&logdir).test_log(), format!("{}\n", f.message));
            let o = Outcome::with(Status::Error, f.message.clone());
            result.status = o.status;
            result.reason = o.reason;
            result.detail = o.detail;
            return vec![result];
        }
        Planned::Executable { path } => {
            announce_start(tx, t.index, t.name(), 1);
            return run_executable_test(
                shared,
                (t.index, tx),
                path,
                &t.args,
                &logdir,
                kennel_layout::TEST_LOG,
                result,
                None,
            );
        }
        Planned::QemuTest(q) => {
            let var = |n: &str| std::env::var_os(n);
            let ctx = crate::qemu_tree::RunContext {
                qemu: shared.opts.qemu.as_deref(),
                offline: shared.opts.assets.offline,
                logdir: &logdir,
                var: &var,
            };
            let cmd = match crate::qemu_tree::command(q, &ctx) {
                Ok(cmd) => cmd.only(&t.args),
                Err(why) => {
                    result.status = Status::Skip;
                    result.reason = Some(why);
                    return vec![result];
                }
            };
            announce_start(tx, t.index, t.name(), 1);
            return run_executable_test(
                shared,
                (t.index, tx),
                &cmd.program,
                &cmd.args,
                &logdir,
                kennel_layout::TEST_LOG,
                result,
                Some((cmd.env, q.timeout)),
            );
        }
        Planned::CargoTest(c) if c.ignored => {
            result.reason = Some("ignored (marked `ignore` in the test)".into());
            return vec![result];
        }
        Planned::CargoTest(c) => {
            announce_start(tx, t.index, t.name(), 1);
            let args = vec!["--exact".to_string(), c.name.clone(), "--nocapture".into()];
            return run_executable_test(
                shared,
                (t.index, tx),
                &c.binary,
                &args,
                &logdir,
                kennel_layout::STDOUT_LOG,
                result,
                c.timeout.map(|timeout| (Vec::new(), timeout)),
            );
        }
        Planned::Case { case, case_index } => (case, *case_index),
    };
    let retries = shared.opts.retries.unwrap_or(case.retries);
    let timeout = case.timeout.mul_f64(shared.opts.timeout_factor.max(0.01));
    let mut outcome = Outcome::pass();
    let mut attempt = 0;
    let mut failed_before = false;
    while attempt <= retries {
        attempt += 1;
        announce_start(tx, t.index, case.name.clone(), attempt);
        if attempt > 1 {
            keep_attempt(&logdir, attempt - 1);
        }
        let args = CaseArgs {
            file: case.file.to_path_buf(),
            case_index,
            overrides: shared.opts.overrides.clone(),
            logdir: logdir.clone(),
            timeout,
            qemu: shared.opts.qemu.clone(),
            assets: shared.opts.assets,
        };
        outcome = run_attempt(shared, &args);
        let retryable = matches!(
            outcome.status,
            Status::Fail | Status::Error | Status::Interrupted
        );
        if !retryable || attempt > retries || shared.abort_reason().is_some() {
            break;
        }
        failed_before = true;
        let _ = tx.send(Msg::Event(Box::new(EventKind::TestRetrying {
            index: t.index,
            name: case.name.clone(),
            outcome: outcome.clone(),
        })));
    }
    result.status = outcome.status;
    result.reason = outcome.reason;
    result.detail = outcome.detail;
    result.machines = outcome.machines;
    result.flaky = failed_before && outcome.status == Status::Pass;
    result.attempts = attempt;
    result.duration_s = started.elapsed().as_secs_f64();
    vec![result]
}

/// An executable: one result, or one per TAP test point, each sent to the
/// coordinator as soon as it is known (none are left for the end). `own` is the
/// environment and timeout of a test that has its own (QEMU's tests); others get
/// `--qemu`'s host binary and the default timeout.
#[allow(clippy::too_many_arguments)]
fn run_executable_test(
    shared: &Shared<'_>,
    (index, tx): (usize, &mpsc::Sender<Msg>),
    path: &Path,
    args: &[String],
    logdir: &Path,
    stdout_file: &'static str,
    template: TestResult,
    own: Option<(Vec<(String, String)>, Duration)>,
) -> Vec<TestResult> {
    let mut env: Vec<(String, String)> = shared
        .opts
        .overrides
        .iter()
        .map(|(k, v)| (kennel_config::param_env_var(k), kennel_spec::value_text(v)))
        .collect();
    let (own_env, own_timeout) = own.unzip();
    if let Some(own) = own_env {
        env.extend(own);
    } else if let Some(q) = &shared.opts.qemu {
        if let Ok(b) = kennel_machine::find_qemu(kennel_machine::host_arch(), None, Some(q)) {
            env.push((
                kennel_machine::QEMU_BINARY_ENV.to_string(),
                b.path.to_string_lossy().into_owned(),
            ));
        }
    }
    let abort = || shared.abort_reason().is_some();
    let timeout = own_timeout
        .unwrap_or(kennel_spec::DEFAULT_TIMEOUT)
        .mul_f64(shared.opts.timeout_factor.max(0.01));
    let run = crate::executable::ExecRun {
        path,
        args,
        logdir,
        stdout_file,
        timeout,
        env,
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
        let _ = tx.send(Msg::Result {
            index,
            result: Box::new(t),
        });
    });
    Vec::new()
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

fn run_attempt(shared: &Shared<'_>, args: &CaseArgs) -> Outcome {
    let mut process = match shared.launcher.start(args) {
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
