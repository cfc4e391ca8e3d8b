//! Running a planned job: parallel slots, one test process per attempt,
//! timeouts, retries, interrupts, and the event stream.
//!
//! [`run_job`] (`coordinator.rs`) owns the job: its folder, its journal, the
//! schedule and the events; each test runs on a slot thread (`test_run.rs`, a
//! TOML case's attempts and retries in `attempt.rs`), its process started
//! through the [`Launcher`] seam (`launcher.rs`) with the command
//! [`crate::test_process`] makes.

mod attempt;
mod coordinator;
mod journal;
mod launcher;
mod options;
mod test_run;

pub use coordinator::{run_job, run_job_with};
pub use journal::{
    read_journal, recover, JournalEntry, JournalWriter, Recovered, DIED_BEFORE_START,
    DIED_WHILE_RUNNING,
};
pub use launcher::{Launcher, ProcessLauncher, TestProcess};
pub use options::{new_job_id, point_latest, JobOptions, JobReport};

#[cfg(test)]
pub(crate) mod tests;
