//! [`JournalEntry`]: one line of `journal.jsonl`, the job's journal. The
//! runner appends the lines as the job goes and reads them back (writer,
//! reader and recovery are the runner's); this is their shape.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{RunOptions, TestResult};

/// One line of the journal (`journal.jsonl` in the job folder): what the job
/// planned, started and finished, one JSON object per line, appended as it
/// happens; `kind` says which.
///
/// A job's journal is a `job` line, a `planned` line per test, then
/// `started`, `finished` and `ended` lines as the tests run, and a `done`
/// line when the job ends (none when the runner died).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JournalEntry {
    /// The first line: the job.
    Job {
        /// Job id (`20261125T031500-3f9a2c1d`).
        job_id: String,
        /// When the job started: RFC 3339, UTC, to the second.
        started: String,
        /// How many tests are planned.
        total: usize,
        /// How the job was run, as its caller recorded it (`results.json`'s
        /// `options`); absent when the caller recorded nothing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        options: Option<RunOptions>,
    },
    /// A planned test, as its result reads before it runs.
    Planned {
        /// Index in the job, from 0.
        index: usize,
        /// Name, file, variant, tags and log folder (the status means nothing yet).
        test: TestResult,
    },
    /// An attempt at a test started.
    Started {
        /// Index in the job, from 0.
        index: usize,
    },
    /// A result of a test (an executable has one per TAP point).
    Finished {
        /// Index in the job, from 0.
        index: usize,
        /// The result.
        test: TestResult,
    },
    /// Every result of the test is in the journal.
    Ended {
        /// Index in the job, from 0.
        index: usize,
    },
    /// The last line: the job ended (it was not killed).
    Done {
        /// The user interrupted the job.
        interrupted: bool,
        /// Wall-clock seconds of the job.
        duration_s: f64,
    },
}
