//! `test.log`: what a test did, one stamped line at a time, shared by the
//! test's front end (steps or Rust calls) and the machine core.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A test's `test.log`: lines stamped with the seconds since the test started.
/// Cheap to clone; clones write to the same file. Writing never fails a test:
/// a log that cannot be written is silently dropped.
#[derive(Clone)]
pub struct TestLog {
    file: Arc<Mutex<Option<File>>>,
    start: Instant,
}

impl TestLog {
    /// Create (truncate) the log at `path`; a log that cannot be created discards.
    pub fn create(path: &Path) -> TestLog {
        TestLog {
            file: Arc::new(Mutex::new(File::create(path).ok())),
            start: Instant::now(),
        }
    }

    /// A log that writes nowhere.
    pub fn discard() -> TestLog {
        TestLog {
            file: Arc::new(Mutex::new(None)),
            start: Instant::now(),
        }
    }

    /// Write `text` (one or more lines), stamped `[    1.234s]`.
    pub fn line(&self, text: &str) {
        let t = self.start.elapsed().as_secs_f64();
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = f.as_mut() {
            for (i, l) in text.lines().enumerate() {
                let _ = if i == 0 {
                    writeln!(f, "[{t:9.3}s] {l}")
                } else {
                    writeln!(f, "             {l}")
                };
            }
        }
    }
}
