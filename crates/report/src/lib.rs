//! Consumers of a job's [`RunEvent`]s: what people and CI read.
//!
//! Reporters only consume events; none reaches back into the runner.
//! [`Terminal`] prints a line per finished test and a summary; [`JsonEvents`]
//! prints one JSON object per event; [`ResultsDir`] writes the job folder's
//! `job.log`, `results.json`, `junit.xml`, `results.tap` and `report.html`.
//! [`merge`] joins shard job folders into one; [`summary_text`] is
//! `kennel report`'s view of a finished job; [`load_results`] reads a job's
//! `results.json`, rebuilding it from the journal first where the runner died.
//! The documents themselves are `kennel_results`' types: this crate writes
//! and reads them, it does not define them.
#![deny(missing_docs)]

mod error;
#[cfg(test)]
mod fuzz;
mod history;
mod html;
mod json_events;
mod junit;
mod live;
mod merge;
mod results_dir;
mod stream;
mod summary;
mod tap;
mod terminal;

pub use error::ReportError;
pub use history::{History, TestRecord, TestStats};
pub use json_events::JsonEvents;
pub use live::LiveTerminal;
pub use merge::merge;
pub use results_dir::{load_results, rebuild, ResultsDir};
pub use summary::summary_text;
pub use terminal::Terminal;

use kennel_runner::RunEvent;

/// Something that consumes a job's events.
pub trait Reporter {
    /// Handle one event.
    fn report(&mut self, event: &RunEvent);
}

/// Format seconds for people: `0.041s`, `12.3s`, `2m05s`.
pub fn human_secs(s: f64) -> String {
    if s < 1.0 {
        format!("{s:.3}s")
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    }
}
