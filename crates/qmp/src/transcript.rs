//! The QMP transcript: every message in and out, one timestamped line each.

use std::collections::VecDeque;
use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::timestamp::format_utc;

/// How many lines [`Transcript::last_lines`] can return.
const KEPT_LINES: usize = 200;

/// Longest line kept in memory for [`Transcript::last_lines`]; longer lines are
/// cut (the sink always gets the whole line).
const KEPT_LINE_BYTES: usize = 4096;

/// Direction of a logged message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Sent to QEMU (`>>`).
    Sent,
    /// Received from QEMU (`<<`).
    Received,
}

impl Direction {
    fn arrow(self) -> &'static str {
        match self {
            Direction::Sent => ">>",
            Direction::Received => "<<",
        }
    }
}

/// Where QMP traffic is logged.
///
/// Every message in and out becomes one line:
/// `<UTC timestamp> [<machine>] <dir> <compact JSON>`, where `<dir>` is `>>` for
/// sent and `<<` for received, and the `[<machine>] ` prefix appears only when a
/// machine name was given. For example:
///
/// ```text
/// 2024-05-01T12:34:56.789Z [web] >> {"execute":"query-status","id":"kennel-1"}
/// ```
///
/// Data that is not JSON is logged as (lossily decoded) text. Write errors on the
/// sink are ignored: the transcript never fails a QMP call. The most recent lines
/// are also kept in memory for error messages ([`Transcript::last_lines`]).
///
/// Cloning yields a handle to the same sink.
///
/// # Examples
///
/// ```
/// use kennel_qmp::Transcript;
///
/// let log = Transcript::new(Box::new(std::io::sink()), Some("web".into()));
/// assert!(log.last_lines(10).is_empty());
/// ```
#[derive(Clone)]
pub struct Transcript {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    sink: Box<dyn Write + Send>,
    prefix: String,
    recent: VecDeque<String>,
}

impl Transcript {
    /// A transcript writing to `sink`, prefixing lines with `[machine] ` when given.
    pub fn new(sink: Box<dyn Write + Send>, machine: Option<String>) -> Transcript {
        let prefix = machine.map(|name| format!("[{name}] ")).unwrap_or_default();
        Transcript {
            inner: Arc::new(Mutex::new(Inner {
                sink,
                prefix,
                recent: VecDeque::new(),
            })),
        }
    }

    /// A transcript that writes nowhere (it still remembers the last lines).
    pub fn discard() -> Transcript {
        Transcript::new(Box::new(std::io::sink()), None)
    }

    /// The last `n` lines (fewer if fewer were logged; at most 200), oldest first,
    /// without trailing newlines. Lines longer than 4 KiB are cut and end in `…`.
    pub fn last_lines(&self, n: usize) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let skip = inner.recent.len().saturating_sub(n);
        inner.recent.iter().skip(skip).cloned().collect()
    }

    /// Log one message. `message` must not contain newlines (compact JSON never does).
    pub(crate) fn record(&self, direction: Direction, message: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let line = format!(
            "{} {}{} {}",
            format_utc(SystemTime::now()),
            inner.prefix,
            direction.arrow(),
            message
        );
        // Ignored on purpose: a broken log must not fail the QMP call.
        let _ = writeln!(inner.sink, "{line}").and_then(|()| inner.sink.flush());
        if inner.recent.len() == KEPT_LINES {
            inner.recent.pop_front();
        }
        inner.recent.push_back(truncate(line, KEPT_LINE_BYTES));
    }
}

impl fmt::Debug for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transcript").finish_non_exhaustive()
    }
}

/// Cut `text` to at most `max` bytes (on a character boundary), marking the cut with `…`.
pub(crate) fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink whose contents the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).extend(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::other("disk full"))
        }
    }

    fn contents(sink: &Shared) -> String {
        String::from_utf8_lossy(&sink.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    #[test]
    fn lines_carry_timestamp_machine_and_direction() {
        let sink = Shared::default();
        let log = Transcript::new(Box::new(sink.clone()), Some("web".into()));

        log.record(Direction::Sent, r#"{"execute":"stop"}"#);
        log.record(Direction::Received, r#"{"return":{}}"#);

        let text = contents(&sink);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let (stamp, rest) = lines[0].split_once(' ').unwrap_or_default();
        assert_eq!(stamp.len(), "2024-05-01T12:34:56.789Z".len(), "{stamp}");
        assert!(stamp.ends_with('Z'), "{stamp}");
        assert_eq!(rest, r#"[web] >> {"execute":"stop"}"#);
        assert!(
            lines[1].ends_with(r#" [web] << {"return":{}}"#),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn no_prefix_without_machine_name() {
        let sink = Shared::default();
        let log = Transcript::new(Box::new(sink.clone()), None);

        log.record(Direction::Received, "{}");

        assert!(
            contents(&sink).ends_with("Z << {}\n"),
            "{}",
            contents(&sink)
        );
    }

    #[test]
    fn clones_share_the_sink() {
        let sink = Shared::default();
        let log = Transcript::new(Box::new(sink.clone()), None);

        log.clone().record(Direction::Sent, "1");
        log.record(Direction::Sent, "2");

        assert_eq!(contents(&sink).lines().count(), 2);
        assert_eq!(log.last_lines(5).len(), 2);
    }

    #[test]
    fn last_lines_returns_the_newest_oldest_first() {
        let log = Transcript::discard();
        for i in 0..300 {
            log.record(Direction::Sent, &i.to_string());
        }

        let last = log.last_lines(2);

        assert!(last[0].ends_with(">> 298"), "{last:?}");
        assert!(last[1].ends_with(">> 299"), "{last:?}");
        assert_eq!(log.last_lines(1000).len(), KEPT_LINES);
    }

    #[test]
    fn write_errors_are_ignored() {
        let log = Transcript::new(Box::new(Broken), None);

        log.record(Direction::Sent, "{}");

        assert_eq!(log.last_lines(1).len(), 1);
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo".into(), 2), "h…");
        assert_eq!(truncate("abc".into(), 3), "abc");
    }
}
