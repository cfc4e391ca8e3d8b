//! What a job reports while it runs: owned values handed to reporters, one way.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use kennel_spec::Value;
use kennel_vm::StartRecord;

/// A test's outcome, as in `results.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Every step passed.
    Pass,
    /// A step failed or did not pass in time.
    Fail,
    /// The test could not run as written (QEMU failed to launch, went away, ...).
    Error,
    /// A requirement is not met.
    Skip,
    /// The test's own timeout ran out, or the job was interrupted.
    Interrupted,
}

impl Status {
    /// Upper-case name, as in results files.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
            Status::Skip => "SKIP",
            Status::Interrupted => "INTERRUPTED",
        }
    }

    /// PASS and SKIP do not fail a job.
    pub fn is_ok(self) -> bool {
        matches!(self, Status::Pass | Status::Skip)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one attempt at one test, as the test process reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// The final result of one test in a job (after retries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// Display name, with the variant.
    pub name: String,
    /// The test file, as given.
    pub file: PathBuf,
    /// Variant values.
    pub variant: IndexMap<String, Value>,
    /// Tags.
    pub tags: Vec<String>,
    /// Final status.
    pub status: Status,
    /// One-line reason for anything but PASS.
    pub reason: Option<String>,
    /// Passed after failing first.
    pub flaky: bool,
    /// Wall-clock duration of all attempts, in seconds.
    pub duration_s: f64,
    /// Log folder, relative to the job folder.
    pub logdir: PathBuf,
    /// How many attempts ran.
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

/// Counts by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// All tests.
    pub total: usize,
    /// PASS.
    pub pass: usize,
    /// FAIL.
    pub fail: usize,
    /// ERROR.
    pub error: usize,
    /// SKIP.
    pub skip: usize,
    /// INTERRUPTED.
    pub interrupted: usize,
}

impl Summary {
    /// Count one status.
    pub fn add(&mut self, status: Status) {
        self.total += 1;
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Error => self.error += 1,
            Status::Skip => self.skip += 1,
            Status::Interrupted => self.interrupted += 1,
        }
    }

    /// True when no test failed, errored or was interrupted.
    pub fn ok(&self) -> bool {
        self.fail + self.error + self.interrupted == 0
    }
}

/// One thing that happened in a job.
#[derive(Debug, Clone)]
pub struct RunEvent {
    /// When it happened.
    pub timestamp: SystemTime,
    /// Time since the job started.
    pub elapsed: Duration,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of [`RunEvent`].
#[derive(Debug, Clone)]
pub enum EventKind {
    /// The job begins.
    JobStarted {
        /// Job id (`20261125T031500-3f9a2c1d`).
        job_id: String,
        /// The job folder.
        job_dir: PathBuf,
        /// How many tests will run.
        total: usize,
        /// Parallel slots.
        jobs: usize,
    },
    /// A test (attempt) starts.
    TestStarted {
        /// Index in the job.
        index: usize,
        /// Display name.
        name: String,
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// An attempt failed and the test will run again.
    TestRetrying {
        /// Index in the job.
        index: usize,
        /// Display name.
        name: String,
        /// The failed attempt's outcome.
        outcome: Outcome,
    },
    /// A test is done (all attempts).
    TestFinished {
        /// Index in the job.
        index: usize,
        /// The result.
        result: TestResult,
    },
    /// A note for the job log (accelerator fallbacks, interrupts, ...).
    Note {
        /// The text.
        text: String,
    },
    /// The job is done.
    JobFinished {
        /// Counts.
        summary: Summary,
        /// The user interrupted the job.
        interrupted: bool,
    },
}
