//! Discover, schedule and execute kennel tests.
//!
//! A job goes: [`discover`] the test files under the given paths, expand them into
//! cases (variants), select them (tags), then [`run_job`] runs each case in its own
//! child process (`kennel __run-test`, in the kennel-interp crate) with a timeout, and streams
//! [`RunEvent`]s to the caller's reporter. How an attempt is started is the
//! [`Launcher`] seam: [`run_job_with`] takes another one (and its own interrupt
//! flag), which is how the job's scheduling, retries and stops are unit-tested.
//! Every kind of test process (a TOML case's, a Rust test's, an executable's, a
//! QEMU tree test's) is started as [`test_process::test_command`] says: the one
//! way the job's settings reach a test process.
#![deny(missing_docs)]

pub mod cargo;
mod discover;
mod error;
mod event;
pub mod executable;
#[cfg(test)]
mod fuzz;
mod job;
mod own_logs;
mod point_text;
pub mod qemu_tree;
pub mod schedule;
mod streams;
pub use kennel_layout::slug;
pub mod tap;
pub mod test_process;

pub use discover::{
    balance, discover, keep_only, plan, shard, shard_by_time, shard_weights, CaseEntry, Discovery,
    FoundFile, LoadFailure, Planned, PlannedTest,
};
pub use error::RunnerError;
pub use event::{EventKind, Outcome, RunEvent, Status, Summary, TestResult};
pub use job::{
    new_job_id, point_latest, read_journal, recover, run_job, run_job_with, JobOptions, JobReport,
    JournalEntry, JournalWriter, Launcher, ProcessLauncher, Recovered, TestProcess,
    DIED_BEFORE_START, DIED_WHILE_RUNNING,
};
pub use point_text::{failure_line, unittest_argument, unittest_id, NotReplayable};
pub use test_process::{test_command, TestCommand, TestKind};

pub use kennel_results::{StartKind, StartRecord};

pub use kennel_machine::error_chain;
