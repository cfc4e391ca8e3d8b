use std::fmt::Write as _;

use kennel_config::text::visible;
use kennel_results::ResultsFile;

use crate::human_secs;

/// A job's summary as `kennel report [JOB]` prints it: a header line, one line per
/// test (status, duration, name, then the reason indented below), and the closing
/// `kennel: N passed, N failed, N skipped` line (FAIL, ERROR and INTERRUPTED count
/// as failed). Ends with a newline. Names and reasons are shown through
/// [`visible`]: the escape sequences a guest printed are written out, not obeyed.
///
/// # Examples
///
/// ```
/// use kennel_report::summary_text;
/// use kennel_results::ResultsFile;
///
/// let file: ResultsFile = serde_json::from_str(r#"{
///     "kennel_version": "0.1.0", "job_id": "20261125T031500-3f9a2c1d",
///     "started": "2026-11-25T03:15:00Z", "duration_s": 1.5,
///     "summary": {"total": 0, "pass": 0, "fail": 0, "error": 0, "skip": 0, "interrupted": 0},
///     "tests": []
/// }"#).unwrap();
/// assert!(summary_text(&file).ends_with("kennel: 0 passed, 0 failed, 0 skipped\n"));
/// ```
pub fn summary_text(file: &ResultsFile) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "job {} started {} ({:.1}s){}",
        file.job_id,
        file.started,
        file.duration_s,
        if file.interrupted {
            ", interrupted"
        } else {
            ""
        }
    );
    for t in &file.tests {
        let flaky = if t.flaky {
            " (FLAKY: passed after failing)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            " {:<11} {:>7}  {}{flaky}",
            t.status.as_str(),
            human_secs(t.duration_s),
            visible(&t.name)
        );
        if let Some(r) = &t.reason {
            let _ = writeln!(out, "             {}", visible(r));
        }
    }
    let s = file.summary;
    let _ = writeln!(
        out,
        "kennel: {} passed, {} failed, {} skipped",
        s.pass,
        s.fail + s.error + s.interrupted,
        s.skip
    );
    out
}
