//! How a job runs ([`JobOptions`]), what it produced ([`JobReport`]), and its id.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use indexmap::IndexMap;
use kennel_config::TestSettings;
use kennel_layout::ResultsRoot;
use kennel_spec::Value;

use crate::event::Summary;

/// How a job runs.
#[derive(Debug, Clone)]
pub struct JobOptions {
    /// Parallel slots.
    pub jobs: usize,
    /// `-p` parameters.
    pub overrides: IndexMap<String, Value>,
    /// Multiplies every test's timeout (see [`JobOptions::test_timeout`]).
    pub timeout_factor: f64,
    /// Where job folders go.
    pub results_dir: PathBuf,
    /// `--qemu`.
    pub qemu: Option<PathBuf>,
    /// `--retries`: overrides the tests' own `retries`.
    pub retries: Option<u32>,
    /// Stop starting tests after the first failure.
    pub fail_fast: bool,
    /// The `kennel` executable that runs `__run-test` (a TOML case's test process).
    pub exe: PathBuf,
    /// The job's id (see [`new_job_id`]).
    pub job_id: String,
    /// Stop the whole job after this long (running tests end INTERRUPTED).
    pub job_timeout: Option<Duration>,
    /// Memory the tests' machines may use at once, in MiB (default: what the machine has available).
    pub memory_mib: Option<u64>,
    /// What every test process is told: assets, debugging, warm starts, the
    /// image mirror ([`crate::test_process`]).
    pub settings: TestSettings,
    /// How the job was run, in the caller's words (`results.json`'s `options`): kept
    /// in the journal so that the results can be rebuilt from it.
    pub record: Option<kennel_results::RunOptions>,
}

/// What a finished job produced. The results themselves are in the job's journal
/// (see [`recover`](super::recover)) and were handed out as
/// [`EventKind::TestFinished`](crate::EventKind::TestFinished) events.
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

/// `latest` -> the job folder, replaced atomically (new link, then rename).
pub fn point_latest(results_dir: &Path, job_dir: &Path) {
    ResultsRoot::new(results_dir).point_latest(job_dir);
}
