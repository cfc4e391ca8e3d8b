//! What one attempt at a test came to ([`Outcome`]), and a test's final entry
//! in `results.json` ([`TestResult`]).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use kennel_layout::TestDir;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::read_document;
use crate::{ResultsError, StartRecord, Status};

/// The outcome of one attempt at one test, as the test process reports it:
/// `result.json` in the test's log folder (written whole, atomically, at the
/// end of the test process), and the failed attempt of a `test_retrying` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Outcome {
    /// Status of the attempt.
    pub status: Status,
    /// One-line reason for anything but PASS (the first line of `detail`).
    pub reason: Option<String>,
    /// Full explanation (may span lines: last console lines, QEMU output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How the attempt's machines started: `accel`, `phases`, `start`
    /// (`warm` or `cold`) and `template`, as keys of this object.
    #[serde(flatten)]
    pub machines: StartRecord,
}

impl Outcome {
    /// Write the outcome into a test's log folder (`result.json`), whole: what
    /// a test process leaves for the runner.
    pub fn write(&self, logdir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        kennel_config::write_atomic(&TestDir::new(logdir).result_json(), &bytes)
    }

    /// The outcome a test process left in `logdir` (`result.json`):
    /// `Ok(None)` when it left none (it died, or was killed).
    pub fn read(logdir: &Path) -> Result<Option<Outcome>, ResultsError> {
        read_document(&TestDir::new(logdir).result_json(), "test outcome")
    }

    /// A passing outcome.
    pub fn pass() -> Outcome {
        Outcome {
            status: Status::Pass,
            reason: None,
            detail: None,
            machines: StartRecord::default(),
        }
    }

    /// An outcome with a reason; the first line becomes `reason`, the whole text `detail`.
    pub fn with(status: Status, text: impl Into<String>) -> Outcome {
        let text: String = text.into();
        let first = text.lines().next().unwrap_or("").trim().to_string();
        let detail = if text.trim() != first {
            Some(text)
        } else {
            None
        };
        Outcome {
            status,
            reason: Some(first),
            detail,
            machines: StartRecord::default(),
        }
    }
}

/// The final result of one test in a job (after retries): an entry of
/// `results.json`'s `tests`, of a `test_finished` event and of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TestResult {
    /// Display name, with the variant.
    pub name: String,
    /// The test file, as given (an executable, a Rust test's binary, a
    /// QEMU functional test's file).
    pub file: PathBuf,
    /// Variant values, by parameter name (empty for a test without variants).
    pub variant: IndexMap<String, serde_json::Value>,
    /// Tags (`key:value` tags as written).
    pub tags: Vec<String>,
    /// Final status.
    pub status: Status,
    /// One-line reason for anything but PASS (`null` for a PASS).
    pub reason: Option<String>,
    /// Passed after failing first.
    pub flaky: bool,
    /// Wall-clock duration of all attempts, in seconds.
    pub duration_s: f64,
    /// Log folder, relative to the job folder.
    pub logdir: PathBuf,
    /// How many attempts ran (1 without retries).
    pub attempts: u32,
    /// Full explanation of the final attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How the final attempt's machines started (see [`Outcome::machines`]):
    /// `accel`, `phases`, `start` and `template` keys.
    #[serde(flatten)]
    pub machines: StartRecord,
    /// When the test started, seconds since the job started.
    pub start_s: f64,
    /// Which worker slot ran it (for the timeline).
    pub slot: usize,
    /// For one test point of a TAP producer: the point's name (the part of `name`
    /// after the producer's file). Its `detail` is then the point's own failure text,
    /// while the log folder is the producer's, shared by all its points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<String>,
}
