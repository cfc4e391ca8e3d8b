//! Discover, schedule and execute kennel tests.
//!
//! A job goes: [`discover`] the test files under the given paths, expand them into
//! cases (variants), select them (tags), then [`run_job`] runs each case in its own
//! child process (`kennel __run-test`, see [`child`]) with a timeout, and streams
//! [`RunEvent`]s to the caller's reporter. Inside the child, the
//! [`interpret`] module runs the declarative steps against real QEMU.
#![deny(missing_docs)]

pub mod cargo;
pub mod child;
pub mod cloud;
mod discover;
mod error;
mod event;
pub mod executable;
pub mod interpret;
mod job;
pub mod schedule;
pub use kennel_layout::slug;
pub mod tap;

pub use discover::{discover, plan, shard, Discovery, LoadFailure, Planned, PlannedTest};
pub use error::RunnerError;
pub use event::{EventKind, Outcome, RunEvent, Status, Summary, TestResult};
pub use job::{new_job_id, point_latest, run_job, JobOptions, JobReport};

/// An error and its causes on one line: `cannot read x: permission denied`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}
