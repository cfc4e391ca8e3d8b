use std::io::Write;
use std::sync::{Arc, Mutex};

/// A shared log file that several machines (and threads) append to.
///
/// With a prefix, every line written through this handle starts with it, so that
/// one `console.log` can hold the consoles of several machines.
#[derive(Clone)]
pub struct LogSink {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    prefix: Option<Arc<str>>,
    at_line_start: Arc<Mutex<bool>>,
}

impl LogSink {
    /// A sink writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> LogSink {
        LogSink {
            out: Arc::new(Mutex::new(out)),
            prefix: None,
            at_line_start: Arc::new(Mutex::new(true)),
        }
    }

    /// A sink that drops everything.
    pub fn discard() -> LogSink {
        LogSink::new(Box::new(std::io::sink()))
    }

    /// The same destination, with each line prefixed by `prefix`.
    pub fn with_prefix(&self, prefix: impl Into<String>) -> LogSink {
        LogSink {
            out: Arc::clone(&self.out),
            prefix: Some(Arc::from(prefix.into())),
            at_line_start: Arc::new(Mutex::new(true)),
        }
    }

    /// Append bytes. Write errors are ignored: a full disk must not fail a test step.
    pub fn write(&self, bytes: &[u8]) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let Some(prefix) = &self.prefix else {
            let _ = out.write_all(bytes);
            let _ = out.flush();
            return;
        };
        let mut start = self.at_line_start.lock().unwrap_or_else(|e| e.into_inner());
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            if *start {
                let _ = out.write_all(prefix.as_bytes());
            }
            let _ = out.write_all(piece);
            *start = piece.ends_with(b"\n");
        }
        let _ = out.flush();
    }
}

/// A sink is also an `io::Write` (for the QMP transcript); writes never fail.
impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LogSink::write(self, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn prefixes_each_line_across_writes() {
        let buf = Shared::default();
        let sink = LogSink::new(Box::new(buf.clone()));
        let a = sink.with_prefix("[src] ");
        a.write(b"one\ntw");
        a.write(b"o\nthree");
        let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
        assert_eq!(text, "[src] one\n[src] two\n[src] three");
    }
}
