use std::io::Write;

use kennel_results::JsonEvent;
use kennel_runner::{EventKind, RunEvent};

use crate::Reporter;

/// `--format json`: one JSON object per event, one per line ([`JsonEvent`]).
pub struct JsonEvents<W: Write> {
    out: W,
}

impl<W: Write> JsonEvents<W> {
    /// Print to `out`.
    pub fn new(out: W) -> JsonEvents<W> {
        JsonEvents { out }
    }
}

/// The line `--format json` prints for `event`.
fn json_event(event: &RunEvent) -> JsonEvent {
    let elapsed_s = event.elapsed.as_secs_f64();
    match &event.kind {
        EventKind::JobStarted {
            job_id,
            job_dir,
            total,
            jobs,
        } => JsonEvent::JobStarted {
            elapsed_s,
            job_id: job_id.clone(),
            job_dir: job_dir.clone(),
            total: *total,
            jobs: *jobs,
        },
        EventKind::TestStarted {
            index,
            name,
            attempt,
        } => JsonEvent::TestStarted {
            elapsed_s,
            index: *index,
            name: name.clone(),
            attempt: *attempt,
        },
        EventKind::TestRetrying {
            index,
            name,
            outcome,
        } => JsonEvent::TestRetrying {
            elapsed_s,
            index: *index,
            name: name.clone(),
            status: outcome.status,
            reason: outcome.reason.clone(),
        },
        EventKind::TestFinished { index, result } => JsonEvent::TestFinished {
            elapsed_s,
            index: *index,
            result: Box::new(result.clone()),
        },
        EventKind::Note { text } => JsonEvent::Note {
            elapsed_s,
            text: text.clone(),
        },
        EventKind::JobFinished {
            summary,
            interrupted,
        } => JsonEvent::JobFinished {
            elapsed_s,
            summary: *summary,
            interrupted: *interrupted,
        },
    }
}

impl<W: Write> Reporter for JsonEvents<W> {
    fn report(&mut self, event: &RunEvent) {
        // Each line is written whole; a closed stdout is not the job's failure.
        match serde_json::to_vec(&json_event(event)) {
            Ok(mut line) => {
                line.push(b'\n');
                let _ = self.out.write_all(&line);
            }
            Err(e) => eprintln!("kennel: an event cannot be written as JSON: {e}"),
        }
        let _ = self.out.flush();
    }
}
