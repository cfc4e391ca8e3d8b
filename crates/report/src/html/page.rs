//! The page as a whole: the job's counts and filter buttons ([`Page`]), what
//! is known of all the tests before any is shown ([`Stats`]), and how a status
//! looks (its class, its filter group, its rank).

use kennel_results::ResultsFile;
use kennel_runner::{Status, TestResult};
use serde::Serialize;

use super::timeline::{lane, timeline, Timeline};
use super::LOG_CAP;
use crate::human_secs;

#[derive(Serialize)]
pub(super) struct Page {
    job_id: String,
    started: String,
    duration: String,
    kennel_version: String,
    interrupted: bool,
    total: usize,
    failed: usize,
    counts: Vec<Count>,
    groups: Vec<Group>,
    pub(super) cap: String,
    pub(super) timeline: Timeline,
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

/// CSS class of a status.
pub(super) fn class(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Error => "error",
        Status::Skip => "skip",
        Status::Interrupted => "interrupted",
    }
}

/// Which filter button shows a row.
pub(super) fn group(status: Status) -> &'static str {
    match status {
        Status::Pass => "passed",
        Status::Skip => "skipped",
        Status::Fail | Status::Error | Status::Interrupted => "failed",
    }
}

/// Failures first, then passes, then skips.
pub(super) fn rank(status: Status) -> u8 {
    match status {
        Status::Fail | Status::Error | Status::Interrupted => 0,
        Status::Pass => 1,
        Status::Skip => 2,
    }
}

/// What the page needs to know of all its tests before it shows any.
#[derive(Default)]
pub(super) struct Stats {
    pub(super) total: usize,
    failed: usize,
    pub(super) passed: usize,
    pub(super) skipped: usize,
    /// When the last test ended, in seconds from the job's start.
    end_s: f64,
    slots: usize,
}

impl Stats {
    pub(super) fn add(&mut self, t: &TestResult) {
        self.total += 1;
        match group(t.status) {
            "passed" => self.passed += 1,
            "skipped" => self.skipped += 1,
            _ => self.failed += 1,
        }
        self.end_s = self.end_s.max(t.start_s + t.duration_s);
        self.slots = self.slots.max(lane(t.slot) + 1);
    }
}

/// The page's head and foot for the job `file` of the tests counted in `stats`.
pub(super) fn page(file: &ResultsFile, stats: &Stats) -> Page {
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
