//! `kennel history`: each test's record over the last jobs of a results folder,
//! read one `results.json` at a time and one test entry at a time.

use std::collections::HashMap;
use std::fmt;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use kennel_layout::{JobDir, JOB_DIR_PREFIX};
use kennel_results::{ResultsFile, Status, TestResult};
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::ReportError;

/// Runs in the "recent" half of the duration trend, at most.
const RECENT_RUNS: usize = 5;

/// One test's runs over the jobs read, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestRecord {
    /// Each run's status.
    pub statuses: Vec<Status>,
    /// Each run's duration, in seconds.
    pub durations: Vec<f64>,
    /// Runs that passed only on a retry.
    pub flaky: u32,
}

/// The last jobs of a results folder, test by test.
#[derive(Debug, Default)]
pub struct History {
    /// The jobs read, oldest first.
    pub jobs: Vec<String>,
    /// Job folders without a readable `results.json` (running, or the runner died
    /// and nothing has rebuilt it yet), passed over.
    pub unreadable: Vec<PathBuf>,
    /// Each test's record, by name, in the order first seen.
    pub tests: Vec<(String, TestRecord)>,
}

/// What `kennel history` shows of a test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestStats {
    /// The test's name.
    pub name: String,
    /// Jobs it ran in.
    pub runs: usize,
    /// PASS.
    pub pass: usize,
    /// FAIL, ERROR or INTERRUPTED.
    pub fail: usize,
    /// SKIP.
    pub skip: usize,
    /// Runs that passed only on a retry.
    pub flaky: u32,
    /// Changes of verdict (pass to fail or back) between consecutive runs.
    pub flips: usize,
    /// Failures over the runs that were not skipped.
    pub failure_rate: f64,
    /// Runs that were flaky, or that a flip begins, over those not skipped. A test
    /// that broke once and stayed broken has one flip; one failing now and then has many.
    pub flake_rate: f64,
    /// Whether it looks flaky: a retry rescued it, or its verdict changed more than once.
    pub is_flaky: bool,
    /// The median duration of its last runs (at most 5), seconds.
    pub recent_median_s: Option<f64>,
    /// The median duration of the runs before those, seconds.
    pub older_median_s: Option<f64>,
    /// The last runs' outcomes, oldest first: `P` pass, `F` fail, `S` skip.
    pub strip: String,
}

impl TestRecord {
    /// The counts, rates and trend of this record.
    pub fn stats(&self, name: &str) -> TestStats {
        let failed = |s: &Status| !s.is_ok();
        let fail = self.statuses.iter().filter(|s| failed(s)).count();
        let skip = self.statuses.iter().filter(|s| **s == Status::Skip).count();
        let verdicts: Vec<bool> = self
            .statuses
            .iter()
            .filter(|s| **s != Status::Skip)
            .map(failed)
            .collect();
        let flips = verdicts.windows(2).filter(|w| w[0] != w[1]).count();
        let judged = verdicts.len().max(1) as f64;
        let split = self.durations.len().saturating_sub(RECENT_RUNS);
        TestStats {
            name: name.to_owned(),
            runs: self.statuses.len(),
            pass: self.statuses.len() - fail - skip,
            fail,
            skip,
            flaky: self.flaky,
            flips,
            failure_rate: fail as f64 / judged,
            flake_rate: (self.flaky as f64 + flips as f64) / judged,
            is_flaky: self.flaky > 0 || flips > 1,
            recent_median_s: median(&self.durations[split..]),
            older_median_s: median(&self.durations[..split]),
            strip: self.statuses.iter().map(|s| letter(*s)).collect(),
        }
    }
}

/// One letter per outcome in a strip.
fn letter(s: Status) -> char {
    match s {
        Status::Pass => 'P',
        Status::Skip => 'S',
        Status::Fail | Status::Error | Status::Interrupted => 'F',
    }
}

fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

impl History {
    /// The last `last` jobs of the results folder `root` (by job id, which begins
    /// with the start time), each test's runs in them; `keep` chooses the tests.
    pub fn read(
        root: &Path,
        last: usize,
        keep: &dyn Fn(&str) -> bool,
    ) -> Result<History, ReportError> {
        let list = |source| ReportError::ListJobs {
            dir: root.to_owned(),
            source,
        };
        let mut names: Vec<String> = std::fs::read_dir(root)
            .map_err(list)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(JOB_DIR_PREFIX))
            .collect();
        names.sort_unstable();
        let mut history = History::default();
        let mut index: HashMap<String, usize> = HashMap::new();
        for name in &names[names.len().saturating_sub(last)..] {
            let dir = root.join(name);
            let Some(job) = read_job(&dir) else {
                history.unreadable.push(dir);
                continue;
            };
            history.jobs.push(job.job_id);
            for (test, status, duration, flaky) in job.tests.0 {
                if !keep(&test) {
                    continue;
                }
                let at = *index.entry(test.clone()).or_insert_with(|| {
                    history.tests.push((test, TestRecord::default()));
                    history.tests.len() - 1
                });
                let record = &mut history.tests[at].1;
                record.statuses.push(status);
                record.durations.push(duration);
                record.flaky += u32::from(flaky);
            }
        }
        Ok(history)
    }

    /// A test's record, by name.
    pub fn test(&self, name: &str) -> Option<&TestRecord> {
        self.tests.iter().find(|(n, _)| n == name).map(|(_, r)| r)
    }
}

/// A job's `results.json`, streamed: its tests kept as (name, status, duration,
/// flaky) only, one read at a time. `None` when it does not read.
fn read_job(dir: &Path) -> Option<ResultsFile<Entries>> {
    let file = std::fs::File::open(JobDir::new(dir).results_json()).ok()?;
    serde_json::from_reader(BufReader::new(file)).ok()
}

/// The tests of one `results.json`, each reduced as it is read.
#[derive(Debug, Default)]
struct Entries(Vec<(String, Status, f64, bool)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Entries, D::Error> {
        d.deserialize_seq(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of test results")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entries, A::Error> {
        let mut entries = Vec::new();
        while let Some(t) = seq.next_element::<TestResult>()? {
            entries.push((t.name, t.status, t.duration_s, t.flaky));
        }
        Ok(Entries(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(statuses: &str, durations: &[f64], flaky: u32) -> TestRecord {
        TestRecord {
            statuses: statuses
                .chars()
                .map(|c| match c {
                    'P' => Status::Pass,
                    'S' => Status::Skip,
                    _ => Status::Fail,
                })
                .collect(),
            durations: durations.to_vec(),
            flaky,
        }
    }

    #[test]
    fn a_test_failing_now_and_then_is_flaky_and_one_that_broke_once_is_not() {
        let now_and_then = record("PPFPPFPS", &[1.0; 8], 0).stats("t");
        let broke = record("PPPPFFFF", &[1.0; 8], 0).stats("t");

        assert_eq!(
            (now_and_then.pass, now_and_then.fail, now_and_then.skip),
            (5, 2, 1)
        );
        assert_eq!(now_and_then.flips, 4);
        assert!(now_and_then.is_flaky);
        assert!((now_and_then.failure_rate - 2.0 / 7.0).abs() < 1e-12);
        assert_eq!(now_and_then.strip, "PPFPPFPS");
        assert_eq!(broke.flips, 1);
        assert!(!broke.is_flaky);
    }

    #[test]
    fn a_retried_pass_counts_as_flaky() {
        let s = record("PPP", &[1.0; 3], 1).stats("t");

        assert!(s.is_flaky);
        assert!((s.flake_rate - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn the_trend_is_the_median_of_the_last_five_against_the_runs_before() {
        let s = record("PPPPPPPP", &[1.0, 9.0, 1.2, 2.0, 2.2, 1.9, 2.1, 50.0], 0).stats("t");

        assert_eq!(s.older_median_s, Some(1.2));
        assert_eq!(s.recent_median_s, Some(2.1));
        assert_eq!(record("P", &[3.0], 0).stats("t").older_median_s, None);
    }
}
