//! A test's status and a job's counts by status.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A test's outcome, as in `results.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
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

/// Counts by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
