//! What a job reports while it runs: owned values handed to reporters, one way.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

pub use kennel_results::{Outcome, Status, Summary, TestResult};

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
