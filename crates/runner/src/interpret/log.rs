use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// `test.log`: what the interpreter did, with times since the test started.
pub(crate) struct TestLog {
    file: Mutex<Option<File>>,
    start: Instant,
}

impl TestLog {
    pub fn create(path: &Path) -> TestLog {
        TestLog {
            file: Mutex::new(File::create(path).ok()),
            start: Instant::now(),
        }
    }

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
