//! `report.html`: one self-contained page (inline CSS, a few lines of inline JS,
//! no external resources) with the summary, a timeline of the job by slot, and
//! every test with its logs inline; in a big job, the failures with their logs
//! and the other tests as compact tables linking theirs.
//!
//! This file renders the page part by part; `page.rs` is the page as a whole,
//! `row.rs` a test, `timeline.rs` the timeline, `text.rs` escaping and links.

use std::collections::HashMap;
use std::path::Path;

use kennel_results::ResultsFile;
use kennel_runner::{Status, TestResult};
use minijinja::{Environment, Value};

use crate::stream::Tests;
use crate::{History, ReportError};

mod page;
mod row;
mod text;
mod timeline;

use page::{class, page, rank, Page, Stats};
use row::{compact_row, row};
pub(crate) use text::{is_relative_inside, tail};
use timeline::{one_bar, Bar, Runs};

const TEMPLATE: &str = include_str!("report.html.j2");

/// Each inline log shows at most its last this many bytes.
pub(crate) const LOG_CAP: u64 = 256 * 1024;
/// The whole page inlines at most this many bytes of logs; after that, links only.
const PAGE_LOG_BUDGET: u64 = 32 * 1024 * 1024;
/// In a job of more tests than this, only the logs of tests that did not pass or
/// skip are inlined; the others are linked (the page of a big job stays small and
/// opens fast).
pub(crate) const INLINE_ALL_LOGS_UP_TO: usize = 100;

/// The strip of past outcomes covers at most this many jobs (this one the last).
const PAST_JOBS: usize = 20;

/// A test's last outcomes beside its name, oldest first, and whether it looks flaky.
#[derive(serde::Serialize)]
struct Past {
    /// `P`, `F` or `S` for each job.
    outcomes: Vec<char>,
    is_flaky: bool,
    flake_percent: u32,
}

/// The tests' record over the last [`PAST_JOBS`] jobs of the results folder that
/// holds `job_dir` (with this job's `results.json`, written first), for the tests
/// that ran more than once there. Empty when `job_dir` is not a job folder of a
/// results folder or nothing reads.
fn past_runs(job_dir: &Path) -> HashMap<String, Past> {
    let is_job = job_dir
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(kennel_layout::JOB_DIR_PREFIX));
    let Some(root) = job_dir.parent().filter(|_| is_job) else {
        return HashMap::new();
    };
    let Ok(history) = History::read(root, PAST_JOBS, &|_| true) else {
        return HashMap::new();
    };
    history
        .tests
        .iter()
        .filter(|(_, r)| r.statuses.len() > 1)
        .map(|(name, r)| {
            let s = r.stats(name);
            let past = Past {
                outcomes: s.strip.chars().collect(),
                is_flaky: s.is_flaky,
                flake_percent: (100.0 * s.flake_rate).round() as u32,
            };
            (name.clone(), past)
        })
        .collect()
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
    let parts = Parts::new()?;
    let mut stats = Stats::default();
    tests.each(&mut |_, t| {
        stats.add(t);
        Ok(())
    })?;
    let page = page(file, &stats);
    let compact = stats.total > INLINE_ALL_LOGS_UP_TO;
    parts.render("head", Value::from_serialize(&page), out)?;
    render_bars(&parts, tests, &page, compact, out)?;
    parts.render("middle", Value::from_serialize(&page), out)?;
    render_full_rows(&parts, tests, job_dir, &page, compact, out)?;
    if compact {
        render_compact_tables(&parts, tests, job_dir, &stats, out)?;
    }
    parts.render("foot", Value::from_serialize(&page), out)
}

/// The template's parts, each an HTML template (autoescaped by its name).
struct Parts {
    env: Environment<'static>,
}

impl Parts {
    fn new() -> Result<Parts, ReportError> {
        let mut env = Environment::new();
        env.set_formatter(text::html_formatter);
        for (name, source) in PARTS.iter().zip(split_template()) {
            env.add_template_owned(format!("{name}.html"), source)
                .map_err(ReportError::Html)?;
        }
        Ok(Parts { env })
    }

    /// Render the part `name` with `ctx` into `out`.
    fn render(
        &self,
        name: &str,
        ctx: Value,
        out: &mut dyn std::io::Write,
    ) -> Result<(), ReportError> {
        self.env
            .get_template(&format!("{name}.html"))
            .and_then(|part| part.render_captured_to(ctx, out))
            .map(|_| ())
            .map_err(ReportError::Html)
    }
}

/// The timeline's bars: one per test, or in a big job one per run of touching
/// passing bars and one per test that did not pass.
fn render_bars(
    parts: &Parts,
    tests: &Tests<'_>,
    page: &Page,
    compact: bool,
    out: &mut dyn std::io::Write,
) -> Result<(), ReportError> {
    let bar = |b: Bar, out: &mut dyn std::io::Write| {
        parts.render("bar", minijinja::context! { b => b }, out)
    };
    if !compact {
        return tests.each(&mut |i, t| bar(one_bar(i, t, &page.timeline), out));
    }
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
    })
}

/// The tests shown in full: every test, failures first, then passes, then skips;
/// in a big job, only the tests that did not pass and the flaky passes (the
/// others' logs are not inlined).
fn render_full_rows(
    parts: &Parts,
    tests: &Tests<'_>,
    job_dir: &Path,
    page: &Page,
    compact: bool,
    out: &mut dyn std::io::Write,
) -> Result<(), ReportError> {
    let mut budget = PAGE_LOG_BUDGET;
    let past = past_runs(job_dir);
    let mut full_row = |i: usize, t: &TestResult, out: &mut dyn std::io::Write| {
        let mut none = 0;
        let budget = if !compact || !t.status.is_ok() {
            &mut budget
        } else {
            &mut none
        };
        let row = row(i, t, job_dir, budget);
        let ctx = minijinja::context! { t => row, cap => &page.cap, past => past.get(&t.name) };
        parts.render("row", ctx, out)
    };
    if compact {
        return tests.each(&mut |i, t| match !t.status.is_ok() || t.flaky {
            true => full_row(i, t, out),
            false => Ok(()),
        });
    }
    for r in 0..3 {
        tests.each(&mut |i, t| match rank(t.status) == r {
            true => full_row(i, t, out),
            false => Ok(()),
        })?;
    }
    Ok(())
}

/// A big job's passing and skipped tests (not flaky) as compact tables: the
/// page's script makes table rows of their data rows, a page at a time.
fn render_compact_tables(
    parts: &Parts,
    tests: &Tests<'_>,
    job_dir: &Path,
    stats: &Stats,
    out: &mut dyn std::io::Write,
) -> Result<(), ReportError> {
    for (status, key, n) in [
        (Status::Pass, "passed", stats.passed),
        (Status::Skip, "skipped", stats.skipped),
    ] {
        if n == 0 {
            continue;
        }
        let ctx = minijinja::context! { group => key, class => class(status), n => n };
        parts.render("table_head", ctx, out)?;
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
            let row = compact_row(i, t, job_dir)?;
            write!(out, "{sep}{row}").map_err(|source| ReportError::Write {
                path: kennel_layout::REPORT_HTML.into(),
                source,
            })
        })?;
        parts.render("table_foot", Value::UNDEFINED, out)?;
    }
    Ok(())
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
