//! The job's journal (`journal.jsonl` in the job folder): what the job planned,
//! started and finished, one JSON line each, appended as it happens.
//!
//! Each line is written whole by one `write(2)` of the line and its newline, so a
//! runner killed by `kill -9` leaves every finished result on disk. Against a power
//! cut, a thread of the writer syncs the file (`fdatasync`) at most every
//! [`SYNC_EVERY`] while lines come in, and the job syncs it once more at its end: a
//! power cut loses at most the lines of the last second, never a test's hot path
//! (no test waits for a sync). A last line cut short, without its newline, is not
//! read. The end-of-job files (`results.json`, `junit.xml`, ...) are written from
//! the journal, and rebuilt from it by [`recover`] when the runner died before
//! writing them: tests that had started or had not run are then INTERRUPTED, with a
//! reason that says the runner died.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use kennel_results::{ResultsError, RunOptions};

use crate::event::{Status, Summary, TestResult};

pub use kennel_results::JournalEntry;

/// How often, at most, the journal is synced to the disk while lines come in.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

/// Appends [`JournalEntry`] lines to a journal file, synced in the background (at
/// most once a second, `SYNC_EVERY`, and at the end).
#[derive(Debug)]
pub struct JournalWriter {
    path: PathBuf,
    file: File,
    failed: bool,
    /// Lines were written since the last sync.
    dirty: Arc<AtomicBool>,
    /// Dropped to stop the syncing thread.
    _stop: mpsc::Sender<()>,
}

impl JournalWriter {
    /// Create (or truncate) the journal at `path`, and start the thread that syncs it.
    pub fn create(path: &Path) -> std::io::Result<JournalWriter> {
        let file = File::create(path)?;
        let dirty = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel::<()>();
        let synced = file.try_clone()?;
        let flag = Arc::clone(&dirty);
        std::thread::Builder::new()
            .name("journal-sync".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(SYNC_EVERY) {
                    if flag.swap(false, Ordering::AcqRel) {
                        let _ = synced.sync_data();
                    }
                }
            })?;
        Ok(JournalWriter {
            path: path.to_path_buf(),
            file,
            failed: false,
            dirty,
            _stop: stop,
        })
    }

    /// Append one line. Returns the error of the first write that fails (later
    /// failures are not reported again).
    pub fn append(&mut self, entry: &JournalEntry) -> Result<(), std::io::Error> {
        let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        match self.file.write_all(&line) {
            Ok(()) => {
                self.dirty.store(true, Ordering::Release);
                Ok(())
            }
            Err(e) if !self.failed => {
                self.failed = true;
                Err(std::io::Error::new(
                    e.kind(),
                    format!("cannot write {}: {e}", self.path.display()),
                ))
            }
            Err(_) => Ok(()),
        }
    }

    /// Sync the journal to the disk now (the end of the job).
    pub fn sync(&mut self) {
        self.dirty.store(false, Ordering::Release);
        let _ = self.file.sync_data();
    }
}

/// The entries of the journal at `path`, in order, each line that does not parse
/// as the error saying where and why; a last line without its newline (cut
/// short) is not read.
pub fn read_journal(
    path: &Path,
) -> std::io::Result<impl Iterator<Item = Result<JournalEntry, ResultsError>>> {
    Ok(read_journal_at(path)?.map(|(_, e)| e))
}

/// A job as its journal tells it.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// Job id.
    pub job_id: String,
    /// RFC 3339 start time.
    pub started: String,
    /// Wall-clock seconds (up to the last journal write when the runner died).
    pub duration_s: f64,
    /// Counts.
    pub summary: Summary,
    /// The user interrupted the job.
    pub interrupted: bool,
    /// The runner died before the job ended (no `done` line).
    pub runner_died: bool,
    /// How the job was run, as recorded.
    pub options: Option<RunOptions>,
    /// The lines that did not parse and were passed over, each saying where
    /// (`journal.jsonl:LINE:COLUMN`) and why.
    pub unreadable: Vec<String>,
}

/// The most tests a journal may describe: a line naming a test past it is
/// damaged (a 4-billion index must not make recovery allocate for every
/// test before it), and is passed over like a line that does not parse.
pub const MAX_TESTS: usize = 1 << 20;

/// Why a test that had started has no result: the runner died.
pub const DIED_WHILE_RUNNING: &str =
    "the runner died while the test ran (killed, or the machine stopped); its logs are in its folder";
/// Why a test that had not started has no result: the runner died.
pub const DIED_BEFORE_START: &str =
    "not run: the runner died (killed, or the machine stopped) before the test started";

/// Read the journal and hand every test's results, in plan order, to `each`; a test
/// without its `ended` line gets an INTERRUPTED result saying the runner died.
///
/// Reads the journal twice and keeps a few bytes per test in memory (where its
/// `planned` line is, how many results it has), not the results themselves: only
/// results that finished ahead of an earlier test still running wait in memory.
pub fn recover(journal: &Path, each: &mut dyn FnMut(TestResult)) -> std::io::Result<Recovered> {
    let (mut rec, tests) = first_reading(journal)?;
    if rec.runner_died {
        rec.duration_s = seconds_since(&rec.started, journal);
    }
    let mut planned_lines = BufReader::new(File::open(journal)?);
    let mut ahead: std::collections::BTreeMap<usize, Vec<TestResult>> = Default::default();
    let mut next = 0;
    let mut hand_out = |i: usize, results: Vec<TestResult>, rec: &mut Recovered| {
        let t = &tests[i];
        for r in results {
            rec.summary.add(r.status);
            each(r);
        }
        if t.ended {
            return;
        }
        let Some(mut template) = t.planned_at.and_then(|o| planned_at(&mut planned_lines, o))
        else {
            return;
        };
        template.status = Status::Interrupted;
        template.reason = Some(
            if t.started {
                DIED_WHILE_RUNNING
            } else {
                DIED_BEFORE_START
            }
            .to_string(),
        );
        template.detail = None;
        rec.summary.add(template.status);
        each(template);
    };
    let ready = |i: usize, ahead: &std::collections::BTreeMap<usize, Vec<TestResult>>| {
        ahead.get(&i).map_or(0, Vec::len) == tests[i].results
    };
    for (_, entry) in read_journal_at(journal)? {
        if let Ok(JournalEntry::Finished { index, test }) = entry {
            ahead.entry(index).or_default().push(test);
        }
        while next < tests.len() && ready(next, &ahead) {
            let results = ahead.remove(&next).unwrap_or_default();
            hand_out(next, results, &mut rec);
            next += 1;
        }
    }
    while next < tests.len() {
        let results = ahead.remove(&next).unwrap_or_default();
        hand_out(next, results, &mut rec);
        next += 1;
    }
    Ok(rec)
}

/// The first reading of the journal: the job, and what is known of each test.
fn first_reading(journal: &Path) -> std::io::Result<(Recovered, Vec<Progress>)> {
    let mut rec = Recovered {
        job_id: String::new(),
        started: String::new(),
        duration_s: 0.0,
        summary: Summary::default(),
        interrupted: false,
        runner_died: true,
        options: None,
        unreadable: Vec::new(),
    };
    let mut tests: Vec<Progress> = Vec::new();
    let at = |tests: &mut Vec<Progress>, i: usize| -> usize {
        if tests.len() <= i {
            tests.resize(i + 1, Progress::default());
        }
        i
    };
    for (number, (offset, entry)) in read_journal_at(journal)?.enumerate() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                rec.unreadable.push(crate::error_chain(&e));
                continue;
            }
        };
        if let Some(index) = test_index(&entry).filter(|&i| i >= MAX_TESTS) {
            rec.unreadable.push(format!(
                "{}:{}: test index {index} is past the {MAX_TESTS} tests a job may have",
                journal.display(),
                number + 1
            ));
            continue;
        }
        match entry {
            JournalEntry::Job {
                job_id,
                started,
                options,
                total,
            } => {
                rec.job_id = job_id;
                rec.started = started;
                rec.options = options;
                tests.reserve(total.min(MAX_TESTS));
            }
            JournalEntry::Planned { index, .. } => {
                let i = at(&mut tests, index);
                tests[i].planned_at = Some(offset);
            }
            JournalEntry::Started { index } => {
                let i = at(&mut tests, index);
                tests[i].started = true;
            }
            JournalEntry::Finished { index, .. } => {
                let i = at(&mut tests, index);
                tests[i].results += 1;
            }
            JournalEntry::Ended { index } => {
                let i = at(&mut tests, index);
                tests[i].ended = true;
            }
            JournalEntry::Done {
                interrupted,
                duration_s,
            } => {
                rec.runner_died = false;
                rec.interrupted = interrupted;
                rec.duration_s = duration_s;
            }
        }
    }
    Ok((rec, tests))
}

/// The test a line is about, if any.
fn test_index(entry: &JournalEntry) -> Option<usize> {
    match entry {
        JournalEntry::Planned { index, .. }
        | JournalEntry::Started { index }
        | JournalEntry::Finished { index, .. }
        | JournalEntry::Ended { index } => Some(*index),
        JournalEntry::Job { .. } | JournalEntry::Done { .. } => None,
    }
}

/// What the first reading of the journal learnt of one test.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// Where its `planned` line starts.
    planned_at: Option<u64>,
    started: bool,
    ended: bool,
    /// How many `finished` lines it has.
    results: usize,
}

/// The journal's entries (or why a line is none) with the byte offset each line
/// starts at.
fn read_journal_at(
    path: &Path,
) -> std::io::Result<impl Iterator<Item = (u64, Result<JournalEntry, ResultsError>)>> {
    let mut reader = BufReader::new(File::open(path)?);
    let path = path.to_path_buf();
    let mut line = Vec::new();
    let mut offset = 0u64;
    let mut number = 0;
    Ok(std::iter::from_fn(move || {
        line.clear();
        let at = offset;
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) if line.last() != Some(&b'\n') => None,
            Ok(n) => {
                offset += n as u64;
                number += 1;
                Some((at, parse_line(&line, &path, number)))
            }
        }
    }))
}

/// Line `number` of the journal at `path`.
fn parse_line(line: &[u8], path: &Path, number: usize) -> Result<JournalEntry, ResultsError> {
    ResultsError::parse_line(line, path, "journal line", number)
}

/// The test of the `planned` line at `offset`.
fn planned_at(reader: &mut BufReader<File>, offset: u64) -> Option<TestResult> {
    use std::io::{Seek, SeekFrom};
    reader.seek(SeekFrom::Start(offset)).ok()?;
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).ok()?;
    // The line parsed when the journal was first read.
    match serde_json::from_slice(&line) {
        Ok(JournalEntry::Planned { test, .. }) => Some(test),
        _ => None,
    }
}

/// Seconds from `started` (RFC 3339) to the journal's last change.
fn seconds_since(started: &str, journal: &Path) -> f64 {
    let Ok(start) = humantime::parse_rfc3339_weak(started) else {
        return 0.0;
    };
    std::fs::metadata(journal)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|end| end.duration_since(start).ok())
        .map_or(0.0, |d| (d.as_secs_f64() * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(name: &str, status: Status) -> TestResult {
        TestResult {
            name: name.into(),
            file: PathBuf::from(format!("tests/{name}")),
            variant: Default::default(),
            tags: Vec::new(),
            status,
            reason: None,
            flaky: false,
            duration_s: 0.5,
            logdir: PathBuf::from(format!("tests/{name}")),
            attempts: 1,
            detail: None,
            machines: Default::default(),
            start_s: 0.0,
            slot: 0,
            point: None,
        }
    }

    fn write(entries: &[JournalEntry], tail: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("journal");
        let mut w = JournalWriter::create(file.path()).expect("create");
        for e in entries {
            w.append(e).expect("append");
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(file.path())
            .and_then(|mut f| f.write_all(tail.as_bytes()))
            .expect("tail");
        file
    }

    fn planned(names: &[&str]) -> Vec<JournalEntry> {
        let mut e = vec![JournalEntry::Job {
            job_id: "j".into(),
            started: "2026-12-01T09:00:00Z".into(),
            total: names.len(),
            options: None,
        }];
        for (index, n) in names.iter().enumerate() {
            e.push(JournalEntry::Planned {
                index,
                test: test(n, Status::Skip),
            });
        }
        e
    }

    fn recovered(file: &Path) -> (Recovered, Vec<(String, Status, Option<String>)>) {
        let mut out = Vec::new();
        let rec = recover(file, &mut |t| out.push((t.name, t.status, t.reason))).expect("reads");
        (rec, out)
    }

    #[test]
    fn results_come_back_in_plan_order_whatever_order_they_finished_in() {
        let mut e = planned(&["a", "b", "c"]);
        e.extend([
            JournalEntry::Started { index: 0 },
            JournalEntry::Started { index: 1 },
            JournalEntry::Finished {
                index: 1,
                test: test("b", Status::Fail),
            },
            JournalEntry::Ended { index: 1 },
            JournalEntry::Started { index: 2 },
            JournalEntry::Finished {
                index: 2,
                test: test("c: 1", Status::Pass),
            },
            JournalEntry::Finished {
                index: 0,
                test: test("a", Status::Pass),
            },
            JournalEntry::Ended { index: 0 },
            JournalEntry::Finished {
                index: 2,
                test: test("c: 2", Status::Pass),
            },
            JournalEntry::Ended { index: 2 },
            JournalEntry::Done {
                interrupted: false,
                duration_s: 1.0,
            },
        ]);
        let file = write(&e, "");

        let (rec, out) = recovered(file.path());

        let names: Vec<&str> = out.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b", "c: 1", "c: 2"]);
        assert!(!rec.runner_died);
        assert_eq!(rec.summary.total, 4);
        assert_eq!(rec.summary.fail, 1);
    }

    #[test]
    fn a_journal_cut_short_is_read_to_its_last_whole_line_and_the_rest_is_interrupted() {
        let mut e = planned(&["a", "b", "c"]);
        e.extend([
            JournalEntry::Started { index: 0 },
            JournalEntry::Finished {
                index: 0,
                test: test("a", Status::Pass),
            },
            JournalEntry::Ended { index: 0 },
            JournalEntry::Started { index: 1 },
            JournalEntry::Finished {
                index: 1,
                test: test("b: 1", Status::Pass),
            },
        ]);
        let file = write(&e, r#"{"kind":"finished","index":1,"test":{"na"#);

        let (rec, out) = recovered(file.path());

        assert!(rec.runner_died);
        assert_eq!(
            out,
            [
                ("a".into(), Status::Pass, None),
                ("b: 1".into(), Status::Pass, None),
                (
                    "b".into(),
                    Status::Interrupted,
                    Some(DIED_WHILE_RUNNING.into())
                ),
                (
                    "c".into(),
                    Status::Interrupted,
                    Some(DIED_BEFORE_START.into())
                ),
            ]
        );
        assert_eq!(rec.summary.interrupted, 2);
    }

    #[test]
    fn a_line_that_does_not_parse_is_passed_over_saying_where_and_why() {
        let e = planned(&["a"]);
        let file = write(&e, "{\"kind\":\"started\"}\n");

        let (rec, out) = recovered(file.path());

        assert_eq!(out.len(), 1);
        assert_eq!(rec.unreadable.len(), 1);
        let why = &rec.unreadable[0];
        assert!(
            why.ends_with(":3: not a valid journal line: missing field `index`"),
            "{why}"
        );
    }
}
