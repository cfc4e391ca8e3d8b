//! [`JsonEvent`]: one line of `kennel run --format json`.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Status, Summary, TestResult};

/// One line of `kennel run --format json` on stdout: one JSON object per
/// event of the job, as it happens; `event` says which, and every event has
/// `elapsed_s`, the seconds since the job started.
///
/// # Examples
///
/// ```
/// use kennel_results::JsonEvent;
///
/// let line = r#"{"event":"note","elapsed_s":0.5,"text":"scheduling 3 tests on 2 slots"}"#;
/// let event: JsonEvent = serde_json::from_str(line).unwrap();
/// assert_eq!(serde_json::to_string(&event).unwrap(), line);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JsonEvent {
    /// The job begins.
    JobStarted {
        /// Seconds since the job started.
        elapsed_s: f64,
        /// Job id (`20261125T031500-3f9a2c1d`).
        job_id: String,
        /// The job folder.
        job_dir: PathBuf,
        /// How many tests will run.
        total: usize,
        /// Tests run at once (slots).
        jobs: usize,
    },
    /// An attempt at a test starts.
    TestStarted {
        /// Seconds since the job started.
        elapsed_s: f64,
        /// Index of the test in the job, from 0.
        index: usize,
        /// Display name.
        name: String,
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// An attempt failed and the test will run again.
    TestRetrying {
        /// Seconds since the job started.
        elapsed_s: f64,
        /// Index of the test in the job, from 0.
        index: usize,
        /// Display name.
        name: String,
        /// The failed attempt's status.
        status: Status,
        /// The failed attempt's one-line reason.
        reason: Option<String>,
    },
    /// A test has its result (after all its attempts; a TAP producer has
    /// one per test point, as each point's line arrives).
    TestFinished {
        /// Seconds since the job started.
        elapsed_s: f64,
        /// Index of the test in the job, from 0.
        index: usize,
        /// The result, as in `results.json`.
        result: Box<TestResult>,
    },
    /// A note on the job (scheduling, accelerator fallbacks, interrupts),
    /// as `job.log` has it.
    Note {
        /// Seconds since the job started.
        elapsed_s: f64,
        /// The text.
        text: String,
    },
    /// The job is done.
    JobFinished {
        /// Seconds since the job started.
        elapsed_s: f64,
        /// Counts by final status.
        summary: Summary,
        /// The user interrupted the job.
        interrupted: bool,
    },
}
