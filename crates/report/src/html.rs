//! `report.html`: one self-contained page (inline CSS, a few lines of inline JS,
//! no external resources) with the summary, a timeline of the job by slot, and
//! every test with its logs inline; in a big job, the failures with their logs
//! and the other tests as compact tables linking theirs.

use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

use kennel_layout::{JobDir, LogFile, TestDir, LOGS};
use kennel_runner::{Status, TestResult};
use minijinja::{AutoEscape, Environment, Output, State, Value};
use serde::Serialize;

use crate::stream::Tests;
use kennel_results::ResultsFile;

use crate::{human_secs, ReportError};

mod timeline;
use timeline::{one_bar, timeline, Bar, Runs, Timeline};

const TEMPLATE: &str = include_str!("report.html.j2");

/// Each inline log shows at most its last this many bytes.
pub(crate) const LOG_CAP: u64 = 256 * 1024;
/// The whole page inlines at most this many bytes of logs; after that, links only.
const PAGE_LOG_BUDGET: u64 = 32 * 1024 * 1024;
/// In a job of more tests than this, only the logs of tests that did not pass or
/// skip are inlined; the others are linked (the page of a big job stays small and
/// opens fast).
pub(crate) const INLINE_ALL_LOGS_UP_TO: usize = 100;

#[derive(Serialize)]
struct Page {
    job_id: String,
    started: String,
    duration: String,
    kennel_version: String,
    interrupted: bool,
    total: usize,
    failed: usize,
    counts: Vec<Count>,
    groups: Vec<Group>,
    cap: String,
    timeline: Timeline,
}

#[derive(Serialize)]
struct Count {
    status: &'static str,
    class: &'static str,
    n: usize,
}

#[derive(Serialize)]
struct Group {
    key: &'static str,
    label: &'static str,
    n: usize,
}

#[derive(Serialize)]
struct Row {
    anchor: String,
    number: usize,
    status: &'static str,
    class: &'static str,
    group: &'static str,
    duration: String,
    name: String,
    file: String,
    variant: String,
    tags: String,
    reason: Option<String>,
    detail: Option<String>,
    flaky: bool,
    attempts: u32,
    accel: Vec<String>,
    /// `warm (template ID)` or `cold`, when the test started a machine.
    start: Option<String>,
    phases: Vec<String>,
    logdir: String,
    logdir_href: String,
    logs: Vec<Log>,
    /// The folders of earlier attempts (`attempt-N/`), linked.
    earlier: Vec<Link>,
    /// Other files the test left (a wrapper's output, `screendump.png`), linked.
    files: Vec<Link>,
}

#[derive(Serialize)]
struct Link {
    name: String,
    href: String,
}

#[derive(Serialize)]
struct Log {
    name: &'static str,
    href: String,
    size: String,
    /// The text shown (the tail when `truncated`); `None` when over the page budget.
    text: Option<String>,
    truncated: bool,
    empty: bool,
}

/// CSS class of a status.
fn class(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Error => "error",
        Status::Skip => "skip",
        Status::Interrupted => "interrupted",
    }
}

/// Which filter button shows a row.
fn group(status: Status) -> &'static str {
    match status {
        Status::Pass => "passed",
        Status::Skip => "skipped",
        Status::Fail | Status::Error | Status::Interrupted => "failed",
    }
}

/// Failures first, then passes, then skips.
fn rank(status: Status) -> u8 {
    match status {
        Status::Fail | Status::Error | Status::Interrupted => 0,
        Status::Pass => 1,
        Status::Skip => 2,
    }
}

/// The template's parts, split at `{#- SPLIT ... #}`: the page's head, a timeline bar,
/// the middle, a test's row, a compact table's head and foot (its rows are data
/// between them), the page's foot.
/// The page is rendered part by part, a bar and a row per test, so that a job of
/// thousands of tests is never held whole in memory.
const PARTS: [&str; 7] = [
    "head",
    "bar",
    "middle",
    "row",
    "table_head",
    "table_foot",
    "foot",
];

/// Render `report.html` for the job `file` (its `tests` unused) of the tests
/// `tests` into `out` as it goes (a big job's page is never held whole in memory),
/// reading test logs under `job_dir`.
///
/// A job of more than [`INLINE_ALL_LOGS_UP_TO`] tests shows its failures (and flaky
/// passes) in full, with their logs, and its passing and skipped tests as compact
/// tables that link their logs; its timeline draws each slot's run of touching
/// passing bars as one.
pub(crate) fn render_to(
    file: &ResultsFile,
    tests: &Tests<'_>,
    job_dir: &Path,
    out: &mut dyn std::io::Write,
) -> Result<(), ReportError> {
    let mut env = Environment::new();
    env.set_formatter(html_formatter);
    // Each part is an HTML template (autoescape by name).
    for (name, source) in PARTS.iter().zip(split_template()) {
        env.add_template_owned(format!("{name}.html"), source)
            .map_err(ReportError::Html)?;
    }
    let part = |name: &str| {
        env.get_template(&format!("{name}.html"))
            .map_err(ReportError::Html)
    };
    let render = |name: &str, ctx: Value, out: &mut dyn std::io::Write| {
        part(name)?
            .render_captured_to(ctx, out)
            .map(|_| ())
            .map_err(ReportError::Html)
    };
    let mut stats = Stats::default();
    tests.each(&mut |_, t| {
        stats.add(t);
        Ok(())
    })?;
    let page = page(file, &stats);
    let compact = stats.total > INLINE_ALL_LOGS_UP_TO;
    render("head", Value::from_serialize(&page), out)?;
    let bar =
        |b: Bar, out: &mut dyn std::io::Write| render("bar", minijinja::context! { b => b }, out);
    if compact {
        let mut runs = Runs::new(&page.timeline);
        tests.each(&mut |i, t| match runs.add(i, t) {
            Some(done) => bar(done, out),
            None => Ok(()),
        })?;
        for done in runs.finish() {
            bar(done, out)?;
        }
        tests.each(&mut |i, t| match t.status.is_ok() {
            true => Ok(()),
            false => bar(one_bar(i, t, &page.timeline), out),
        })?;
    } else {
        tests.each(&mut |i, t| bar(one_bar(i, t, &page.timeline), out))?;
    }
    render("middle", Value::from_serialize(&page), out)?;
    let mut budget = PAGE_LOG_BUDGET;
    let mut full_row = |i: usize, t: &TestResult, out: &mut dyn std::io::Write| {
        let mut none = 0;
        let budget = if !compact || !t.status.is_ok() {
            &mut budget
        } else {
            &mut none
        };
        let row = row(i, t, job_dir, budget);
        render(
            "row",
            minijinja::context! { t => row, cap => &page.cap },
            out,
        )
    };
    if !compact {
        // Failures first, then passes, then skips.
        for r in 0..3 {
            tests.each(&mut |i, t| match rank(t.status) == r {
                true => full_row(i, t, out),
                false => Ok(()),
            })?;
        }
    } else {
        tests.each(&mut |i, t| match !t.status.is_ok() || t.flaky {
            true => full_row(i, t, out),
            false => Ok(()),
        })?;
        for (status, key, n) in [
            (Status::Pass, "passed", stats.passed),
            (Status::Skip, "skipped", stats.skipped),
        ] {
            if n == 0 {
                continue;
            }
            let ctx = minijinja::context! { group => key, class => class(status), n => n };
            render("table_head", ctx, out)?;
            let mut first = true;
            tests.each(&mut |i, t| {
                if t.status != status || t.flaky {
                    return Ok(());
                }
                let sep = if std::mem::take(&mut first) {
                    ""
                } else {
                    ",\n"
                };
                let row = compact_row(i, t, job_dir);
                write!(out, "{sep}{row}").map_err(|source| ReportError::Write {
                    path: kennel_layout::REPORT_HTML.into(),
                    source,
                })
            })?;
            render("table_foot", Value::UNDEFINED, out)?;
        }
    }
    render("foot", Value::from_serialize(&page), out)
}

/// What the page needs to know of all its tests before it shows any.
#[derive(Default)]
struct Stats {
    total: usize,
    failed: usize,
    passed: usize,
    skipped: usize,
    /// When the last test ended, in seconds from the job's start.
    end_s: f64,
    slots: usize,
}

impl Stats {
    fn add(&mut self, t: &TestResult) {
        self.total += 1;
        match group(t.status) {
            "passed" => self.passed += 1,
            "skipped" => self.skipped += 1,
            _ => self.failed += 1,
        }
        self.end_s = self.end_s.max(t.start_s + t.duration_s);
        self.slots = self.slots.max(t.slot + 1);
    }
}

/// A passing or skipped test in a big job, as a row of its table's data (the page's
/// script makes table rows of them, a page at a time): `[number, duration, name,
/// reason, folder href, test.log href]`, as JSON that is safe inside `<script>`.
fn compact_row(i: usize, t: &TestResult, job_dir: &Path) -> String {
    let inside = is_relative_inside(&t.logdir);
    let logdir = t.logdir.display().to_string();
    let log = kennel_layout::TEST_LOG;
    let folder = if inside {
        format!("{}/", href(&logdir))
    } else {
        String::new()
    };
    let log_href = (inside && JobDir::new(job_dir).test(&t.logdir).file(log).is_file())
        .then(|| href(&format!("{logdir}/{log}")));
    let row = serde_json::json!([
        i + 1,
        human_secs(t.duration_s),
        t.name,
        t.reason,
        folder,
        log_href
    ]);
    // No `</script>` nor `<!--` can end or bend the script element.
    row.to_string().replace('<', "\\u003c")
}

/// The template split into [`PARTS`]; each part but the last loses the whitespace
/// before its marker, as `{#-` does.
fn split_template() -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = TEMPLATE;
    while let Some(at) = rest.find("{#- SPLIT") {
        parts.push(rest[..at].trim_end().to_string());
        let after = rest[at..].find("#}").map_or(rest.len(), |e| at + e + 2);
        rest = &rest[after..];
    }
    parts.push(rest.to_string());
    parts
}

/// minijinja's HTML escaping, minus `/` → `&#x2f;` (which bloats logs full of paths):
/// strings escape `&`, `<`, `>`, `"` and `'`; everything else as minijinja does it.
fn html_formatter(out: &mut Output, state: &State, value: &Value) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(text) if state.auto_escape() == AutoEscape::Html && !value.is_safe() => {
            out.write_str(&escape(text)).map_err(minijinja::Error::from)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// Escape text for HTML content and quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

fn page(file: &ResultsFile, stats: &Stats) -> Page {
    let s = &file.summary;
    let counts = [
        (Status::Pass, s.pass),
        (Status::Fail, s.fail),
        (Status::Error, s.error),
        (Status::Skip, s.skip),
        (Status::Interrupted, s.interrupted),
    ]
    .into_iter()
    .map(|(st, n)| Count {
        status: st.as_str(),
        class: class(st),
        n,
    })
    .collect();
    Page {
        job_id: file.job_id.clone(),
        started: file.started.clone(),
        duration: human_secs(file.duration_s),
        kennel_version: file.kennel_version.clone(),
        interrupted: file.interrupted,
        total: s.total,
        failed: s.fail + s.error + s.interrupted,
        counts,
        groups: vec![
            Group {
                key: "all",
                label: "all",
                n: stats.total,
            },
            Group {
                key: "failed",
                label: "failed",
                n: stats.failed,
            },
            Group {
                key: "passed",
                label: "passed",
                n: stats.passed,
            },
            Group {
                key: "skipped",
                label: "skipped",
                n: stats.skipped,
            },
        ],
        cap: kennel_config::human_bytes(LOG_CAP),
        timeline: timeline(file.duration_s, stats.end_s, stats.slots),
    }
}

fn row(i: usize, t: &TestResult, job_dir: &Path, budget: &mut u64) -> Row {
    let variant = t
        .variant
        .iter()
        .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(", ");
    let logdir_ok = is_relative_inside(&t.logdir);
    let (logs, earlier) = if logdir_ok {
        let logs = LOGS
            .iter()
            .filter_map(|file| log(job_dir, &t.logdir, file, budget))
            .collect();
        (logs, earlier_attempts(job_dir, t))
    } else {
        (Vec::new(), Vec::new())
    };
    let files = if logdir_ok {
        other_files(job_dir, t)
    } else {
        Vec::new()
    };
    Row {
        anchor: format!("t{}", i + 1),
        number: i + 1,
        status: t.status.as_str(),
        class: class(t.status),
        group: group(t.status),
        duration: human_secs(t.duration_s),
        name: t.name.clone(),
        file: t.file.display().to_string(),
        variant,
        tags: t.tags.join(", "),
        reason: t.reason.clone(),
        detail: t.detail.clone(),
        flaky: t.flaky,
        attempts: t.attempts,
        accel: t
            .machines
            .accel
            .iter()
            .map(|(m, a)| format!("{m}: {a}"))
            .collect(),
        start: t
            .machines
            .start
            .as_ref()
            .map(|start| match &t.machines.template {
                Some(id) => format!("{start} (template {id})"),
                None => start.to_string(),
            }),
        phases: t
            .machines
            .phases
            .iter()
            .map(|(phase, s)| format!("{phase} {}", human_secs(*s)))
            .collect(),
        logdir: t.logdir.display().to_string(),
        logdir_href: if logdir_ok {
            format!("{}/", href(&t.logdir.display().to_string()))
        } else {
            String::new()
        },
        logs,
        earlier,
        files,
    }
}

/// Most files linked per test (a folder with more is linked whole).
const MAX_FILE_LINKS: usize = 200;

/// The files of a test's folder that are not logs kennel shows inline nor its
/// own bookkeeping: what a `--wrapper` wrote (`strace.log`), `screendump.png`, and
/// every file in its subfolders (a test's own logs, such as the `base.log` and
/// `console.log` of a QEMU functional test under `<test id>/`), but not the folders
/// of earlier attempts, the scratch fallback `tmp/` nor `ssh/`. Of the subfolders,
/// a TAP point is shown only the one named after it (its unittest id, else its
/// name): all the producer's points share the folder.
fn other_files(job_dir: &Path, t: &TestResult) -> Vec<Link> {
    let internal = [
        kennel_layout::RESULT_JSON,
        kennel_layout::SCRATCH_NOTE,
        kennel_layout::ATTACH_JSON,
        kennel_layout::START_JSON,
        kennel_layout::PAUSED,
    ];
    let own = t
        .point
        .as_deref()
        .map(|p| kennel_runner::unittest_id(p).unwrap_or(p));
    let mut names: Vec<String> = Vec::new();
    for e in std::fs::read_dir(job_dir.join(&t.logdir))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let shown = !LOGS.iter().any(|l| l.name == name) && !internal.contains(&name.as_str());
        // Not earlier attempts, the scratch fallback nor an SSH key folder.
        let kept = !TestDir::is_attempt(&name)
            && name != kennel_layout::SCRATCH_FALLBACK_DIR
            && name != kennel_layout::SSH_DIR;
        let ours = kept && (t.point.is_none() || own == Some(name.as_str()));
        match e.file_type() {
            Ok(k) if k.is_file() && shown => names.push(name),
            Ok(k) if k.is_dir() && ours => files_under(&e.path(), Path::new(&name), &mut names),
            _ => {}
        }
    }
    names.sort();
    names
        .into_iter()
        .take(MAX_FILE_LINKS)
        .map(|name| Link {
            href: href(&t.logdir.join(&name).display().to_string()),
            name,
        })
        .collect()
}

/// The files under `dir`, named by their path below the test's folder (`rel` is `dir`'s).
fn files_under(dir: &Path, rel: &Path, names: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if names.len() >= MAX_FILE_LINKS {
            return;
        }
        let rel = rel.join(e.file_name());
        match e.file_type() {
            Ok(k) if k.is_file() => names.push(rel.display().to_string()),
            Ok(k) if k.is_dir() => files_under(&e.path(), &rel, names),
            _ => {}
        }
    }
}

/// Links to the folders where the test's earlier attempts left their logs.
fn earlier_attempts(job_dir: &Path, t: &TestResult) -> Vec<Link> {
    (1..t.attempts)
        .map(|n| TestDir::new(&t.logdir).attempt(n))
        .filter(|a| job_dir.join(a.path()).is_dir())
        .filter_map(|a| {
            let name = a.path().file_name()?.to_string_lossy().into_owned();
            Some(Link {
                name: format!("{name}/"),
                href: format!("{}/", href(&a.path().display().to_string())),
            })
        })
        .collect()
}

/// A log as shown inline: `None` when the test did not write it (or left it empty,
/// for a log not worth showing empty).
fn log(job_dir: &Path, logdir: &Path, file: &LogFile, budget: &mut u64) -> Option<Log> {
    let name = file.name;
    let path = JobDir::new(job_dir).test(logdir).file(name);
    let len = std::fs::metadata(&path).ok()?.len();
    if file.hidden_when_empty && len == 0 {
        return None;
    }
    let shown = len.min(LOG_CAP);
    let text = if shown <= *budget {
        *budget -= shown;
        Some(tail(&path, len, LOG_CAP).unwrap_or_else(|e| format!("(cannot read {name}: {e})")))
    } else {
        None
    };
    Some(Log {
        name,
        href: href(&format!("{}/{name}", logdir.display())),
        size: kennel_config::human_bytes(len),
        text,
        truncated: len > LOG_CAP,
        empty: len == 0,
    })
}

/// The last `cap` bytes of a file of `len` bytes, starting at a line.
pub(crate) fn tail(path: &Path, len: u64, cap: u64) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    if len > cap {
        f.seek(SeekFrom::Start(len - cap))?;
        f.take(cap).read_to_end(&mut bytes)?;
        if let Some(nl) = bytes.iter().position(|&b| b == b'\n') {
            bytes.drain(..=nl);
        }
    } else {
        f.read_to_end(&mut bytes)?;
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A log folder from results.json is read only when it stays inside the job folder.
pub(crate) fn is_relative_inside(p: &Path) -> bool {
    !p.as_os_str().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// A relative URL for a relative path: every byte outside the unreserved set
/// (and `/`) percent-encoded.
fn href(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logdirs_outside_the_job_are_not_read() {
        assert!(is_relative_inside(Path::new("tests/001-a")));
        assert!(!is_relative_inside(Path::new("../elsewhere")));
        assert!(!is_relative_inside(Path::new("/etc")));
    }

    /// A job folder whose one test folder holds two points' own logs, a
    /// scratch fallback and an earlier attempt.
    fn folder_with_own_logs() -> tempfile::TempDir {
        let job = tempfile::tempdir().expect("tempdir");
        let dir = job.path().join("tests/001-t-py");
        for f in [
            "t.A.test_x/base.log",
            "t.A.test_y/base.log",
            "tmp/disk.img",
            "attempt-1/test.log",
            "strace.log",
        ] {
            let path = dir.join(f);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "x").expect("write");
        }
        job
    }

    fn linked(job: &Path, point: Option<&str>) -> Vec<String> {
        let t: TestResult = serde_json::from_value(serde_json::json!({
            "name": "t.py", "file": "t.py", "variant": {}, "tags": [], "status": "FAIL",
            "reason": "x", "flaky": false, "duration_s": 1.0, "logdir": "tests/001-t-py",
            "attempts": 1, "start_s": 0.0, "slot": 0, "point": point,
        }))
        .expect("a TestResult");
        other_files(job, &t).into_iter().map(|l| l.name).collect()
    }

    #[test]
    fn a_tests_subfolders_are_linked_but_not_its_scratch_nor_attempts() {
        let job = folder_with_own_logs();

        assert_eq!(
            linked(job.path(), None),
            ["strace.log", "t.A.test_x/base.log", "t.A.test_y/base.log"]
        );
    }

    #[test]
    fn a_tap_point_links_only_its_own_subfolder() {
        let job = folder_with_own_logs();

        assert_eq!(
            linked(job.path(), Some("t.A.test_y")),
            ["strace.log", "t.A.test_y/base.log"]
        );
    }

    #[test]
    fn hrefs_are_percent_encoded() {
        assert_eq!(href("tests/001-a b/x\"y"), "tests/001-a%20b/x%22y");
    }
}
