use std::io::Write;

use kennel_runner::{EventKind, RunEvent};
use serde_json::json;

use crate::Reporter;

/// `--format json`: one JSON object per event, one per line.
pub struct JsonEvents<W: Write> {
    out: W,
}

impl<W: Write> JsonEvents<W> {
    /// Print to `out`.
    pub fn new(out: W) -> JsonEvents<W> {
        JsonEvents { out }
    }
}

/// The JSON form of an event: `{"event": "...", "elapsed_s": ..., ...}`.
pub fn event_json(event: &RunEvent) -> serde_json::Value {
    let elapsed = event.elapsed.as_secs_f64();
    match &event.kind {
        EventKind::JobStarted {
            job_id,
            job_dir,
            total,
            jobs,
        } => json!({
            "event": "job_started", "elapsed_s": elapsed, "job_id": job_id,
            "job_dir": job_dir, "total": total, "jobs": jobs,
        }),
        EventKind::TestStarted {
            index,
            name,
            attempt,
        } => json!({
            "event": "test_started", "elapsed_s": elapsed, "index": index, "name": name, "attempt": attempt,
        }),
        EventKind::TestRetrying {
            index,
            name,
            outcome,
        } => json!({
            "event": "test_retrying", "elapsed_s": elapsed, "index": index, "name": name,
            "status": outcome.status, "reason": outcome.reason,
        }),
        EventKind::TestFinished { index, result } => json!({
            "event": "test_finished", "elapsed_s": elapsed, "index": index, "result": result,
        }),
        EventKind::Note { text } => json!({"event": "note", "elapsed_s": elapsed, "text": text}),
        EventKind::JobFinished {
            summary,
            interrupted,
        } => json!({
            "event": "job_finished", "elapsed_s": elapsed, "summary": summary, "interrupted": interrupted,
        }),
    }
}

impl<W: Write> Reporter for JsonEvents<W> {
    fn report(&mut self, event: &RunEvent) {
        let _ = writeln!(self.out, "{}", event_json(event));
        let _ = self.out.flush();
    }
}
