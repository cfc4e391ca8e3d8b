use std::io::Write;
use std::path::Path;

use kennel_layout::{JobDir, Stream, LOGS};
use kennel_runner::{Status, TestResult};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::stream::Tests;
use crate::ReportError;
use kennel_results::ResultsFile;

/// A failed test's `system-out`/`system-err` hold at most the last this many bytes
/// of each log.
pub(crate) const JUNIT_LOG_CAP: u64 = 16 * 1024;
/// The whole file holds at most this many bytes of logs; after that, the logs' folder only.
const JUNIT_LOG_BUDGET: u64 = 8 * 1024 * 1024;

/// `junit.xml` for GitLab, Jenkins and friends: one suite per test file (per run
/// of consecutive tests of one file: a merge of shards that split a file has a suite
/// for each part). A test that did not pass carries the tails of its logs (under
/// `job_dir`): output logs in `system-out`, error logs (stderr, the test process,
/// QEMU) in `system-err`. A TAP test point's `system-err` is its own failure text
/// instead (what the producer said about that point: its diagnostics or its
/// stderr), not the producer's whole `stderr.log`, which all its points share.
/// Written a suite at a time.
pub(crate) fn render_to(
    file: &ResultsFile,
    tests: &Tests<'_>,
    job_dir: &Path,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    let write_err = |source| ReportError::Write {
        path: kennel_layout::JUNIT_XML.into(),
        source,
    };
    let mut head = Report::new(format!("kennel job {}", file.job_id));
    tests.each(&mut |_, t| {
        head.tests += 1;
        match t.status {
            Status::Pass => {}
            Status::Skip => head.skipped += 1,
            Status::Fail => head.failures += 1,
            Status::Error | Status::Interrupted => head.errors += 1,
        }
        Ok(())
    })?;
    // The report without its suites, less its closing tag; then each suite as a
    // report of one suite would print it; then the closing tag.
    let head = head.to_string().map_err(ReportError::Junit)?;
    out.write_all(
        head.trim_end()
            .trim_end_matches(CLOSE)
            .trim_end()
            .as_bytes(),
    )
    .map_err(write_err)?;
    let mut budget = JUNIT_LOG_BUDGET;
    let mut suite: Option<TestSuite> = None;
    let flush = |suite: TestSuite, out: &mut dyn Write| -> Result<(), ReportError> {
        let mut one = Report::new("");
        one.add_test_suite(suite);
        let text = one.to_string().map_err(ReportError::Junit)?;
        let inner = text
            .trim_end()
            .trim_end_matches(CLOSE)
            .split_once('\n')
            .and_then(|(_, rest)| rest.split_once('\n'))
            .map_or("", |(_, suites)| suites);
        write!(out, "\n{}", inner.trim_end()).map_err(write_err)
    };
    tests.each(&mut |_, t| {
        let suite_name = t.file.display().to_string();
        if suite
            .as_ref()
            .is_some_and(|s| s.name.as_str() != suite_name)
        {
            if let Some(done) = suite.take() {
                flush(done, out)?;
            }
        }
        let suite = suite.get_or_insert_with(|| TestSuite::new(suite_name));
        suite.add_test_case(case(t, job_dir, &mut budget));
        Ok(())
    })?;
    if let Some(done) = suite.take() {
        flush(done, out)?;
    }
    write!(out, "\n{CLOSE}\n").map_err(write_err)
}

/// The closing tag of the report.
const CLOSE: &str = "</testsuites>";

/// One test as a `<testcase>`.
fn case(t: &TestResult, job_dir: &Path, budget: &mut u64) -> TestCase {
    let status = match t.status {
        Status::Pass => TestCaseStatus::success(),
        Status::Skip => {
            let mut s = TestCaseStatus::skipped();
            if let Some(r) = &t.reason {
                s.set_message(r.clone());
            }
            s
        }
        Status::Fail | Status::Error | Status::Interrupted => {
            let kind = if t.status == Status::Fail {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(format!(
                "{}: {}",
                t.status,
                t.reason.as_deref().unwrap_or("")
            ));
            s.set_type(t.status.as_str());
            s.set_description(format!(
                "{}\nlogs: {}",
                t.detail.as_deref().or(t.reason.as_deref()).unwrap_or(""),
                t.logdir.display()
            ));
            s
        }
    };
    let mut case = TestCase::new(t.name.clone(), status);
    // The journal's number may be anything: past what a Duration holds is
    // no time worth printing.
    let time = std::time::Duration::try_from_secs_f64(t.duration_s.max(0.0));
    case.set_time(time.unwrap_or(std::time::Duration::ZERO));
    case.set_classname(t.file.display().to_string());
    if !t.status.is_ok() {
        if let Some(out) = logs(job_dir, t, Stream::Out, budget) {
            case.set_system_out(out);
        }
        let err = match &t.point {
            Some(_) => point_err(t, budget),
            None => logs(job_dir, t, Stream::Err, budget),
        };
        if let Some(err) = err {
            case.set_system_err(err);
        }
    }
    case
}

/// The tails of a test's logs of one stream, each under a `==> name <==` line
/// (as `tail` prints several files); `None` when it wrote none.
/// A failing TAP point's own text (its detail) and where the producer's whole
/// stderr is; past the file's budget, only where.
fn point_err(t: &TestResult, budget: &mut u64) -> Option<String> {
    let text = t.detail.as_deref()?;
    let whole = t.logdir.join(kennel_layout::STDERR_LOG);
    let len = text.len() as u64;
    if len > *budget {
        return Some(format!(
            "(not inlined: see this test's detail in results.json, and {})\n",
            whole.display()
        ));
    }
    *budget -= len;
    Some(format!(
        "{text}\n(all of the producer's stderr: {})\n",
        whole.display()
    ))
}

fn logs(job_dir: &Path, t: &TestResult, stream: Stream, budget: &mut u64) -> Option<String> {
    if !crate::html::is_relative_inside(&t.logdir) {
        return None;
    }
    let dir = JobDir::new(job_dir).test(&t.logdir);
    let mut text = String::new();
    for log in LOGS.iter().filter(|l| l.stream == stream) {
        let path = dir.file(log.name);
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let len = meta.len();
        if len == 0 {
            continue;
        }
        let shown = len.min(JUNIT_LOG_CAP);
        text.push_str(&format!("==> {} <==\n", log.name));
        if shown > *budget {
            let rel = t.logdir.join(log.name);
            text.push_str(&format!("(not inlined: see {})\n", rel.display()));
            continue;
        }
        *budget -= shown;
        if len > JUNIT_LOG_CAP {
            text.push_str(&format!("(the last {} KiB)\n", JUNIT_LOG_CAP / 1024));
        }
        match crate::html::tail(&path, len, JUNIT_LOG_CAP) {
            Ok(tail) => text.push_str(&tail),
            Err(e) => text.push_str(&format!("(cannot read {}: {e})", log.name)),
        }
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    (!text.is_empty()).then_some(text)
}
