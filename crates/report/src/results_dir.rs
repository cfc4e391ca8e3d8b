use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use kennel_config::write_atomic_with;
use kennel_layout::{JobDir, JUNIT_XML, REPORT_HTML, RESULTS_JSON, RESULTS_TAP};
use kennel_results::{ResultsError, ResultsFile, RunOptions};
use kennel_runner::{EventKind, RunEvent, Summary, TestResult};

use crate::stream::{Spool, Tests};
use crate::{ReportError, Reporter};

/// Read a job folder's `results.json`, telling a missing file
/// ([`ReportError::NoResults`]) from a broken one ([`ReportError::BadResults`]).
/// A job folder whose runner died before writing `results.json` (`kill -9`, a
/// power cut) but that holds its journal has its end-of-job files rebuilt first
/// ([`rebuild`]).
pub fn load_results(job_dir: &Path) -> Result<ResultsFile, ReportError> {
    let path = JobDir::new(job_dir).results_json();
    if !path.exists() && JobDir::new(job_dir).journal().is_file() {
        if let Some(e) = rebuild(job_dir)?.into_iter().next() {
            return Err(e);
        }
    }
    ResultsFile::read(job_dir).map_err(|e| match e {
        ResultsError::Read { source, .. } => ReportError::NoResults {
            dir: job_dir.to_path_buf(),
            source,
        },
        e => ReportError::BadResults(e),
    })
}

/// Write the end-of-job files of `job_dir` (`results.json`, `junit.xml`,
/// `results.tap`, `report.html`) from its journal (`journal.jsonl`): what the runner
/// does at the end of a job, and what `kennel report`, `replay` and `merge` do for a
/// job whose runner died before it got there. Tests that had started or had not run
/// when the runner died are INTERRUPTED, saying so. Returns the files that could not
/// be written; an unreadable journal is [`ReportError::NoResults`].
pub fn rebuild(job_dir: &Path) -> Result<Vec<ReportError>, ReportError> {
    let journal = JobDir::new(job_dir).journal();
    let no_results = |source| ReportError::NoResults {
        dir: job_dir.to_path_buf(),
        source,
    };
    // The results go to a spool, not to memory; each file is written from it.
    let (spool, rec) =
        Spool::create(job_dir, |add| kennel_runner::recover(&journal, add)).map_err(no_results)?;
    let rec = rec.map_err(no_results)?;
    let file = ResultsFile {
        kennel_version: env!("CARGO_PKG_VERSION").to_string(),
        job_id: rec.job_id,
        started: rec.started,
        duration_s: rec.duration_s,
        summary: rec.summary,
        interrupted: rec.interrupted,
        tests: Vec::new(),
        options: rec.options,
    };
    let mut errors = note_unreadable(job_dir, &rec.unreadable);
    errors.extend(write_outputs(job_dir, &file, &Tests::Spool(&spool)));
    Ok(errors)
}

/// Say in `job.log` which lines of the journal were passed over, and why (a
/// broken journal is rebuilt as far as it reads; a test whose lines are lost is
/// INTERRUPTED). Returns the error of a `job.log` that could not be written.
fn note_unreadable(job_dir: &Path, unreadable: &[String]) -> Vec<ReportError> {
    if unreadable.is_empty() {
        return Vec::new();
    }
    let path = JobDir::new(job_dir).job_log();
    let stamp = humantime::format_rfc3339_millis(SystemTime::now());
    let text: String = unreadable
        .iter()
        .map(|why| format!("{stamp} journal line passed over: {why}\n"))
        .collect();
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut log| log.write_all(text.as_bytes()));
    match appended {
        Ok(()) => Vec::new(),
        Err(source) => vec![ReportError::Write { path, source }],
    }
}

/// Write a job's end-of-job files into `job_dir`, each atomically: `results.json`,
/// `junit.xml`, `results.tap` and `report.html` (which reads the logs under `job_dir`),
/// for the job `file` (its `tests` unused) of the tests `tests`.
/// Goes on past a failure; returns every file that could not be written.
pub(crate) fn write_outputs(
    job_dir: &Path,
    file: &ResultsFile,
    tests: &Tests<'_>,
) -> Vec<ReportError> {
    type Render<'a> = Box<dyn Fn(&mut dyn Write) -> Result<(), ReportError> + 'a>;
    // One at a time, each streamed to its file: a job of thousands of tests
    // never holds its reports in memory at once.
    let outputs: [(&str, Render<'_>); 4] = [
        (
            RESULTS_JSON,
            Box::new(|w| crate::stream::write_results_json(file, tests, w)),
        ),
        (
            JUNIT_XML,
            Box::new(|w| crate::junit::render_to(file, tests, job_dir, w)),
        ),
        (RESULTS_TAP, Box::new(|w| crate::tap::render_to(tests, w))),
        (
            REPORT_HTML,
            Box::new(|w| crate::html::render_to(file, tests, job_dir, w)),
        ),
    ];
    let mut errors = Vec::new();
    for (name, render) in outputs {
        if let Err(e) = write_streamed(&job_dir.join(name), &*render) {
            errors.push(e);
        }
    }
    errors
}

/// Stream `render` into `path`, atomically ([`write_atomic_with`]).
fn write_streamed(
    path: &Path,
    render: &dyn Fn(&mut dyn Write) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    // The renderer's own error rides through the io::Error and comes back out.
    let written = write_atomic_with(path, |w| render(w).map_err(std::io::Error::other));
    written.map_err(|e| {
        if e.get_ref().is_some_and(|inner| inner.is::<ReportError>()) {
            if let Some(Ok(report)) = e.into_inner().map(|inner| inner.downcast::<ReportError>()) {
                return *report;
            }
            // Unreachable: the inner error was just seen to be a ReportError.
            return ReportError::Write {
                path: path.to_path_buf(),
                source: std::io::Error::other("cannot render"),
            };
        }
        ReportError::Write {
            path: path.to_path_buf(),
            source: e,
        }
    })
}

/// Writes the job folder: `job.log` as events come, and at the end
/// `results.json`, `junit.xml`, `results.tap` and `report.html` (each atomically).
pub struct ResultsDir {
    job_dir: PathBuf,
    job_id: String,
    started: SystemTime,
    log: Option<File>,
    results: Vec<(usize, TestResult)>,
    /// The runner keeps a journal: the files are written from it, nothing is collected.
    journaled: bool,
    /// The end-of-job files wait for [`ResultsDir::write_end_files`].
    deferred: bool,
    errors: Vec<String>,
    options: Option<RunOptions>,
}

impl Default for ResultsDir {
    fn default() -> Self {
        Self::new()
    }
}

impl ResultsDir {
    /// A writer that learns its folder from the `JobStarted` event.
    pub fn new() -> ResultsDir {
        ResultsDir {
            job_dir: PathBuf::new(),
            job_id: String::new(),
            started: SystemTime::now(),
            log: None,
            results: Vec::new(),
            journaled: false,
            deferred: false,
            errors: Vec::new(),
            options: None,
        }
    }

    /// Record how the job was run in `results.json` (`options`), for `kennel replay`.
    pub fn with_options(mut self, options: RunOptions) -> ResultsDir {
        self.options = Some(options);
        self
    }

    /// Write the end-of-job files not at `JobFinished` but when
    /// [`ResultsDir::write_end_files`] is called (for a job with a journal: the
    /// caller can free the job's plan first, so that a big job does not hold its plan
    /// and its results at once).
    pub fn defer_end_files(mut self) -> ResultsDir {
        self.deferred = true;
        self
    }

    /// Write the end-of-job files of a job with a journal now (see
    /// [`ResultsDir::defer_end_files`]); failures go to [`ResultsDir::errors`].
    pub fn write_end_files(&mut self) {
        if !self.journaled {
            return;
        }
        let written = rebuild(&self.job_dir).unwrap_or_else(|e| vec![e]);
        for e in written {
            self.errors.push(kennel_runner::error_chain(&e));
        }
    }

    /// Files that could not be written (shown to the user at the end).
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    fn log(&mut self, event: &RunEvent, text: &str) {
        if let Some(f) = self.log.as_mut() {
            let stamp = humantime::format_rfc3339_millis(event.timestamp);
            let _ = writeln!(f, "{stamp} {text}");
        }
    }

    fn finish(&mut self, summary: Summary, interrupted: bool, duration_s: f64) {
        if self.journaled {
            if !self.deferred {
                self.write_end_files();
            }
            return;
        }
        self.results.sort_by_key(|(i, _)| *i);
        let file = ResultsFile {
            kennel_version: env!("CARGO_PKG_VERSION").to_string(),
            job_id: self.job_id.clone(),
            started: humantime::format_rfc3339_seconds(self.started).to_string(),
            duration_s: (duration_s * 1000.0).round() / 1000.0,
            summary,
            interrupted,
            tests: self.results.iter().map(|(_, r)| r.clone()).collect(),
            options: self.options.clone(),
        };
        for e in write_outputs(&self.job_dir, &file, &Tests::Memory(&file.tests)) {
            self.errors.push(kennel_runner::error_chain(&e));
        }
    }
}

impl Reporter for ResultsDir {
    fn report(&mut self, event: &RunEvent) {
        match &event.kind {
            EventKind::JobStarted {
                job_id,
                job_dir,
                total,
                jobs,
            } => {
                self.job_dir = job_dir.clone();
                self.job_id = job_id.clone();
                self.journaled = JobDir::new(job_dir).journal().is_file();
                self.started = event.timestamp;
                let path = JobDir::new(job_dir).job_log();
                self.log = match File::create(&path) {
                    Ok(f) => Some(f),
                    Err(source) => {
                        let e = ReportError::Write { path, source };
                        self.errors.push(kennel_runner::error_chain(&e));
                        None
                    }
                };
                self.log(event, &format!("job {job_id}: {total} tests, {jobs} slots"));
            }
            EventKind::TestStarted {
                index,
                name,
                attempt,
            } => self.log(
                event,
                &format!("start #{} {name} (attempt {attempt})", index + 1),
            ),
            EventKind::TestRetrying {
                index,
                name,
                outcome,
            } => self.log(
                event,
                &format!(
                    "retry #{} {name}: {} {}",
                    index + 1,
                    outcome.status,
                    outcome.reason.as_deref().unwrap_or("")
                ),
            ),
            EventKind::TestFinished { index, result } => {
                let text = format!(
                    "end #{} {}: {} in {:.3}s{}",
                    index + 1,
                    result.name,
                    result.status,
                    result.duration_s,
                    result
                        .reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
                self.log(event, &text);
                if !self.journaled {
                    self.results.push((*index, result.clone()));
                }
            }
            EventKind::Note { text } => self.log(event, text),
            EventKind::JobFinished {
                summary,
                interrupted,
            } => {
                self.log(
                    event,
                    &format!(
                        "job done: {} pass, {} fail, {} error, {} skip, {} interrupted{}",
                        summary.pass,
                        summary.fail,
                        summary.error,
                        summary.skip,
                        summary.interrupted,
                        if *interrupted {
                            " (interrupted by the user)"
                        } else {
                            ""
                        }
                    ),
                );
                self.finish(*summary, *interrupted, event.elapsed.as_secs_f64());
            }
        }
    }
}
