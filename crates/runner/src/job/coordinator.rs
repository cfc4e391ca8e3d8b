//! The job's coordinator: the job folder and journal, the schedule, the slot
//! threads, the event stream, and the end of the job.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::Scope;
use std::time::{Duration, Instant, SystemTime};

use kennel_layout::{JobDir, ResultsRoot};

use super::journal::{JournalEntry, JournalWriter};
use super::launcher::{Launcher, ProcessLauncher};
use super::options::{point_latest, JobOptions, JobReport};
use super::test_run::{not_run, run_test};
use crate::discover::PlannedTest;
use crate::error::RunnerError;
use crate::event::{EventKind, RunEvent, Summary, TestResult};
use crate::schedule::Scheduler;

/// Why the job stops early.
const ABORT_NONE: u8 = 0;
const ABORT_USER: u8 = 1;
const ABORT_JOB_TIMEOUT: u8 = 2;

/// The longest the coordinator waits for a message before it looks at the
/// interrupt flag and the job's timeout again.
const COORDINATOR_TICK: Duration = Duration::from_millis(200);

/// What the slot threads share.
pub(super) struct Shared<'a> {
    pub(super) opts: &'a JobOptions,
    pub(super) job_dir: &'a Path,
    abort: AtomicU8,
    interrupted: &'a AtomicBool,
    pub(super) launcher: &'a dyn Launcher,
    pub(super) start: Instant,
}

impl Shared<'_> {
    /// Why running tests must stop now, if they must.
    pub(super) fn abort_reason(&self) -> Option<&'static str> {
        if self.interrupted.load(Ordering::SeqCst) {
            self.abort.store(ABORT_USER, Ordering::SeqCst);
        }
        match self.abort.load(Ordering::SeqCst) {
            ABORT_NONE => None,
            ABORT_USER => Some("interrupted by the user"),
            _ => Some("the job's timeout was reached"),
        }
    }

    /// How long the coordinator may wait for the next message.
    fn next_wait(&self) -> Duration {
        match self.opts.job_timeout {
            Some(t) => (self.start + t).saturating_duration_since(Instant::now()),
            None => COORDINATOR_TICK,
        }
        .min(COORDINATOR_TICK)
    }

    /// Stop the job once its own timeout has passed.
    fn check_job_timeout(&self) {
        if self
            .opts
            .job_timeout
            .is_some_and(|t| self.start.elapsed() >= t)
        {
            self.abort.store(ABORT_JOB_TIMEOUT, Ordering::SeqCst);
        }
    }
}

/// What test threads tell the coordinator.
pub(super) enum Msg {
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
    run_job_with(tests, opts, &ProcessLauncher, &interrupted, on_event)
}

/// [`run_job`] with the attempts started by `launcher` and the job stopped as by
/// Ctrl-C once `interrupted` is set; no signal handler is installed.
pub fn run_job_with(
    tests: &[PlannedTest],
    opts: &JobOptions,
    launcher: &dyn Launcher,
    interrupted: &AtomicBool,
    on_event: &mut dyn FnMut(&RunEvent),
) -> Result<JobReport, RunnerError> {
    let job = ResultsRoot::new(&opts.results_dir).job(&opts.job_id);
    let job_dir = make_job_dir(opts, &job)?;
    let start = Instant::now();
    let mut books = Books {
        journal: open_journal(&job, opts, tests)?,
        on_event,
        start,
        summary: Summary::default(),
        ended: vec![false; tests.len()],
    };
    let jobs = opts.jobs.max(1).min(tests.len().max(1));
    let memory = opts
        .memory_mib
        .unwrap_or_else(crate::schedule::available_memory_mib);
    books.announce_job(opts, &job_dir, tests.len(), jobs, memory);
    let shared = Shared {
        opts,
        job_dir: &job_dir,
        abort: AtomicU8::new(ABORT_NONE),
        interrupted,
        launcher,
        start,
    };
    let weights = tests.iter().map(crate::schedule::weight).collect();
    let mut scheduler = Scheduler::new(weights, jobs, memory);
    run_all(&shared, tests, &mut scheduler, &mut books);
    Ok(books.finish(&shared, tests, job_dir.clone()))
}

/// The job folder (with its `tests/`), `latest` pointed at it, and the private
/// folders of test processes killed with an earlier runner removed.
fn make_job_dir(opts: &JobOptions, job: &JobDir) -> Result<PathBuf, RunnerError> {
    let job_dir = job.root().to_path_buf();
    std::fs::create_dir_all(job.tests_dir()).map_err(|source| RunnerError::Results {
        path: job_dir.clone(),
        source,
    })?;
    point_latest(&opts.results_dir, &job_dir);
    kennel_machine::private_dir::remove_orphans(
        &std::env::temp_dir(),
        &[
            kennel_layout::SCRATCH_PREFIX,
            kennel_machine::private_dir::SOCKET_DIR_PREFIX,
        ],
    );
    Ok(job_dir)
}

/// The job's journal, opened with the job and every planned test in it.
fn open_journal(
    job: &JobDir,
    opts: &JobOptions,
    tests: &[PlannedTest],
) -> Result<JournalWriter, RunnerError> {
    let journal_err = |source| RunnerError::Results {
        path: job.journal(),
        source,
    };
    let mut journal = JournalWriter::create(&job.journal()).map_err(journal_err)?;
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
    Ok(journal)
}

/// Start tests as the schedule allows and take in what their threads say, until
/// every test has ended (or the threads are gone).
fn run_all(
    shared: &Shared<'_>,
    tests: &[PlannedTest],
    scheduler: &mut Scheduler,
    books: &mut Books<'_>,
) {
    let (tx, rx) = mpsc::channel::<Msg>();
    std::thread::scope(|scope| loop {
        if shared.abort_reason().is_some() {
            scheduler.drain();
        }
        start_ready(scope, shared, tests, scheduler, &tx);
        if scheduler.is_done() {
            break;
        }
        match rx.recv_timeout(shared.next_wait()) {
            Ok(msg) => books.take(msg, scheduler, shared.opts.fail_fast),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        shared.check_job_timeout();
    });
}

/// A slot thread for each test the schedule lets start now.
fn start_ready<'scope>(
    scope: &'scope Scope<'scope, '_>,
    shared: &'scope Shared<'_>,
    tests: &'scope [PlannedTest],
    scheduler: &mut Scheduler,
    tx: &mpsc::Sender<Msg>,
) {
    while let Some((index, slot)) = scheduler.next_to_start() {
        let tx = tx.clone();
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
}

/// The job's record keeping: the journal, the events, the counts, and which
/// tests have ended (their results are in the journal).
struct Books<'e> {
    journal: JournalWriter,
    on_event: &'e mut dyn FnMut(&RunEvent),
    start: Instant,
    summary: Summary,
    ended: Vec<bool>,
}

impl Books<'_> {
    fn emit(&mut self, kind: EventKind) {
        (self.on_event)(&RunEvent {
            timestamp: SystemTime::now(),
            elapsed: self.start.elapsed(),
            kind,
        })
    }

    /// `JobStarted`, and a note on the schedule's bounds.
    fn announce_job(
        &mut self,
        opts: &JobOptions,
        job_dir: &Path,
        total: usize,
        jobs: usize,
        memory: u64,
    ) {
        self.emit(EventKind::JobStarted {
            job_id: opts.job_id.clone(),
            job_dir: job_dir.to_path_buf(),
            total,
            jobs,
        });
        self.emit(EventKind::Note {
            text: format!("scheduling {total} tests on {jobs} slots within {memory} MiB of memory"),
        });
    }

    /// A result: counted, journalled (a journal that cannot be written is a
    /// note), and handed out.
    fn record(&mut self, index: usize, result: TestResult) {
        self.summary.add(result.status);
        let written = self.journal.append(&JournalEntry::Finished {
            index,
            test: result.clone(),
        });
        if let Err(e) = written {
            self.emit(EventKind::Note {
                text: e.to_string(),
            });
        }
        self.emit(EventKind::TestFinished { index, result });
    }

    /// Test `index` has every result it will have.
    fn end(&mut self, index: usize) {
        let _ = self.journal.append(&JournalEntry::Ended { index });
        self.ended[index] = true;
    }

    /// What a slot thread said.
    fn take(&mut self, msg: Msg, scheduler: &mut Scheduler, fail_fast: bool) {
        match msg {
            Msg::Result { index, result } => {
                if fail_fast && !result.status.is_ok() {
                    scheduler.drain();
                }
                self.record(index, *result);
            }
            Msg::Event(kind) => {
                if let EventKind::TestStarted { index, .. } = &*kind {
                    let _ = self
                        .journal
                        .append(&JournalEntry::Started { index: *index });
                }
                self.emit(*kind)
            }
            Msg::Done {
                index,
                slot,
                results,
            } => {
                scheduler.finish(index, slot);
                if fail_fast && results.iter().any(|t| !t.status.is_ok()) {
                    scheduler.drain();
                }
                for result in results {
                    self.record(index, result);
                }
                self.end(index);
            }
        }
    }

    /// The end of the job: what did not run (and why), the journal closed,
    /// `JobFinished`.
    fn finish(mut self, shared: &Shared<'_>, tests: &[PlannedTest], job_dir: PathBuf) -> JobReport {
        let was_interrupted = shared.abort.load(Ordering::SeqCst) == ABORT_USER;
        let why_not_run = match shared.abort_reason() {
            Some(r) => format!("not run: {r}"),
            None => "not run: --fail-fast stopped the job after a failure".into(),
        };
        for (i, t) in tests.iter().enumerate() {
            if !self.ended[i] {
                self.record(i, not_run(t, &why_not_run));
                let _ = self.journal.append(&JournalEntry::Ended { index: i });
            }
        }
        let _ = self.journal.append(&JournalEntry::Done {
            interrupted: was_interrupted,
            duration_s: (self.start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        });
        self.journal.sync();
        self.emit(EventKind::JobFinished {
            summary: self.summary,
            interrupted: was_interrupted,
        });
        JobReport {
            job_dir,
            summary: self.summary,
            interrupted: was_interrupted,
        }
    }
}
