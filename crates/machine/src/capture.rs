use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use kennel_config::text::BlankLines;
use regex::Regex;

/// How much captured text is kept in memory; older text stays in the log file only.
const MAX_KEPT: usize = 8 << 20;
/// How much text before the match cursor survives trimming, for error context.
const CONTEXT_KEPT: usize = 64 << 10;

/// What a wait looks for.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// Plain text.
    Text(String),
    /// A regular expression (Rust `regex` syntax; build it multi-line).
    Regex(Regex),
}

/// A match: start, end, and capture groups.
type Found = (usize, usize, Vec<(String, String)>);

/// How far before the end of text already searched a regex wait searches
/// again when more text arrives: a match must start within this much of it.
/// (Searching everything since the last match again on every read made a
/// console trickling in small reads cost quadratic time.)
const REGEX_LOOKBACK: usize = 16 << 10;

impl Pattern {
    /// The first match in `hay` that can include text from `from` on (`hay`
    /// before `from` was searched already without a match).
    fn find(&self, hay: &str, from: usize) -> Option<Found> {
        let back = match self {
            Pattern::Text(t) => t.len().saturating_sub(1),
            Pattern::Regex(_) => REGEX_LOOKBACK,
        };
        let mut from = from.min(hay.len()).saturating_sub(back);
        while !hay.is_char_boundary(from) {
            from -= 1;
        }
        match self {
            Pattern::Text(t) => hay[from..]
                .find(t.as_str())
                .map(|s| (from + s, from + s + t.len(), Vec::new())),
            // `captures_at` sees the text before `from`: `^` and `\b` keep their meaning.
            Pattern::Regex(re) => re.captures_at(hay, from).map(|caps| {
                let whole = caps.get(0).map(|m| (m.start(), m.end())).unwrap_or((0, 0));
                let mut groups = Vec::new();
                for (i, name) in re.capture_names().enumerate() {
                    if let Some(m) = caps.get(i) {
                        groups.push((i.to_string(), m.as_str().to_string()));
                        if let Some(name) = name {
                            groups.push((name.to_string(), m.as_str().to_string()));
                        }
                    }
                }
                (whole.0, whole.1, groups)
            }),
        }
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pattern::Text(t) => write!(f, "{t:?}"),
            Pattern::Regex(r) => write!(f, "regex /{}/", r.as_str()),
        }
    }
}

/// A successful wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    /// The matched text.
    pub text: String,
    /// Capture groups by index ("0", "1", ...) and by name.
    pub groups: Vec<(String, String)>,
}

/// Why a wait on captured text ended without a match.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The deadline passed.
    #[error("timed out waiting for {what} on {source_name}; last lines:\n{last}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// "console of main", "output of main", ...
        source_name: String,
        /// The last lines seen.
        last: String,
    },
    /// The stream ended (QEMU exited) before the pattern appeared.
    #[error("{source_name} closed (QEMU exited) before {what} appeared; last lines:\n{last}")]
    Closed {
        /// What was awaited.
        what: String,
        /// Which stream.
        source_name: String,
        /// The last lines seen.
        last: String,
    },
    /// A failure pattern appeared.
    #[error("failure pattern {pattern:?} appeared on {source_name}; last lines:\n{last}")]
    FailPattern {
        /// The pattern that appeared.
        pattern: String,
        /// Which stream.
        source_name: String,
        /// The last lines seen.
        last: String,
    },
}

#[derive(Default)]
struct State {
    /// Kept text, `\r\n` folded to `\n`.
    text: String,
    /// Absolute offset of `text[0]` (bytes dropped from the front).
    dropped: usize,
    /// Absolute offset after the previous match.
    cursor: usize,
    /// Absolute offset up to which failure patterns were checked.
    fail_checked: usize,
    closed: bool,
    failed: Option<String>,
    pending_cr: bool,
    pending_utf8: Vec<u8>,
}

/// Text captured from a stream (a console, QEMU's stdout or stderr) that tests wait on.
///
/// A reader thread feeds it with [`Capture::push`]; waits block until the text
/// appears, a failure pattern appears, the stream closes, or the deadline passes.
#[derive(Clone)]
pub struct Capture {
    name: Arc<str>,
    inner: Arc<(Mutex<State>, Condvar)>,
    fail_patterns: Arc<Vec<String>>,
}

impl Capture {
    /// A new empty capture named `name` (used in messages) that fails on `fail_patterns`.
    pub fn new(name: impl Into<String>, fail_patterns: Vec<String>) -> Capture {
        Capture {
            name: Arc::from(name.into()),
            inner: Arc::new((Mutex::new(State::default()), Condvar::new())),
            fail_patterns: Arc::new(fail_patterns),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Append raw bytes from the stream.
    pub fn push(&self, bytes: &[u8]) {
        let mut st = self.lock();
        let mut data = std::mem::take(&mut st.pending_utf8);
        data.extend_from_slice(bytes);
        let (valid, rest) = split_utf8(&data);
        let mut chunk = String::with_capacity(valid.len() + 1);
        if st.pending_cr {
            st.pending_cr = false;
            if !valid.starts_with('\n') {
                chunk.push('\r');
            }
        }
        chunk.push_str(&valid);
        if chunk.ends_with('\r') {
            chunk.pop();
            st.pending_cr = true;
        }
        let chunk = chunk.replace("\r\n", "\n");
        st.pending_utf8 = rest.to_vec();
        st.text.push_str(&chunk);
        self.check_fail(&mut st);
        trim(&mut st);
        self.inner.1.notify_all();
    }

    /// Mark the stream as ended (EOF).
    pub fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        if st.pending_cr {
            st.pending_cr = false;
            st.text.push('\r');
        }
        self.inner.1.notify_all();
    }

    fn check_fail(&self, st: &mut State) {
        if st.failed.is_some() || self.fail_patterns.is_empty() {
            return;
        }
        let longest = self
            .fail_patterns
            .iter()
            .map(|p| p.len())
            .max()
            .unwrap_or(0);
        let from_abs = st.fail_checked.saturating_sub(longest).max(st.dropped);
        let mut from = from_abs - st.dropped;
        while !st.text.is_char_boundary(from) {
            from -= 1;
        }
        let window = &st.text[from..];
        if let Some(p) = self
            .fail_patterns
            .iter()
            .find(|p| window.contains(p.as_str()))
        {
            st.failed = Some(p.clone());
        }
        st.fail_checked = st.dropped + st.text.len();
    }

    /// The failure pattern seen so far, if any.
    pub fn failed(&self) -> Option<String> {
        self.lock().failed.clone()
    }

    /// True once the stream has ended.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// All kept text (the front may be trimmed for very long streams).
    pub fn text(&self) -> String {
        self.lock().text.clone()
    }

    /// The last `n` lines of kept text.
    pub fn last_lines(&self, n: usize) -> String {
        last_lines(&self.lock().text, n)
    }

    /// Wait until `pattern` appears after the previous match, then move the cursor past it.
    pub fn wait_for(&self, pattern: &Pattern, deadline: Instant) -> Result<TextMatch, WaitError> {
        let mut st = self.lock();
        // Where the text this wait has searched ended (counted from the stream's start).
        let mut searched: usize = 0;
        loop {
            let start = st.cursor.saturating_sub(st.dropped).min(st.text.len());
            let from = searched.saturating_sub(st.dropped + start);
            if let Some((s, e, groups)) = pattern.find(&st.text[start..], from) {
                let text = st.text[start + s..start + e].to_string();
                st.cursor = st.dropped + start + e;
                return Ok(TextMatch { text, groups });
            }
            searched = st.dropped + st.text.len();
            if let Some(p) = st.failed.clone() {
                return Err(WaitError::FailPattern {
                    pattern: p,
                    source_name: self.name.to_string(),
                    last: last_lines(&st.text, 12),
                });
            }
            if st.closed {
                return Err(WaitError::Closed {
                    what: pattern.to_string(),
                    source_name: self.name.to_string(),
                    last: last_lines(&st.text, 12),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(WaitError::Timeout {
                    what: pattern.to_string(),
                    source_name: self.name.to_string(),
                    last: last_lines(&st.text, 12),
                });
            }
            st = self
                .inner
                .1
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Wait until the stream has ended or the deadline passes; true when it ended.
    pub fn wait_closed(&self, deadline: Instant) -> bool {
        let mut st = self.lock();
        while !st.closed {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .inner
                .1
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Move the match cursor to the end of what was captured so far.
    pub fn skip_to_end(&self) {
        let mut st = self.lock();
        st.cursor = st.dropped + st.text.len();
    }
}

fn trim(st: &mut State) {
    if st.text.len() <= MAX_KEPT {
        return;
    }
    let cursor_rel = st.cursor.saturating_sub(st.dropped);
    let mut cut = st.text.len().saturating_sub(MAX_KEPT / 2).min(
        cursor_rel
            .saturating_sub(CONTEXT_KEPT)
            .max(st.text.len() - MAX_KEPT),
    );
    while !st.text.is_char_boundary(cut) {
        cut += 1;
    }
    st.text.drain(..cut);
    st.dropped += cut;
}

/// Split bytes into the longest valid UTF-8 prefix (invalid bytes replaced) and an
/// incomplete trailing sequence to keep for the next chunk.
fn split_utf8(data: &[u8]) -> (String, &[u8]) {
    let mut out = String::new();
    let mut rest = data;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return (out, &[]);
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                match e.error_len() {
                    None => return (out, bad),
                    Some(n) => {
                        out.push('\u{fffd}');
                        rest = &bad[n..];
                    }
                }
            }
        }
    }
}

/// How much of the end of the kept text a message quotes at most: a stream
/// without newlines (a console flooding `\r`) must not make a reason of megabytes.
const QUOTED_TAIL: usize = 4 << 10;

fn last_lines(text: &str, n: usize) -> String {
    let trimmed = kennel_config::text::last_bytes(text.trim_end_matches('\n'), QUOTED_TAIL);
    let mut out = String::new();
    for l in kennel_config::text::last_lines(trimmed, n, BlankLines::Keep) {
        out.push_str("  | ");
        out.push_str(l);
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str("  (nothing)\n");
    }
    out.truncate(out.trim_end().len());
    out
}

/// The last non-empty lines of `text` (at most three) on one line, after
/// `": "`, for the first line of a message; empty when `text` has none.
///
/// # Examples
///
/// ```
/// use kennel_machine::on_one_line;
/// assert_eq!(on_one_line("qemu: -x: invalid option\n\n"), ": qemu: -x: invalid option");
/// assert_eq!(on_one_line("a\nb\nc\nd\n"), ": b / c / d");
/// assert_eq!(on_one_line("\n"), "");
/// ```
pub fn on_one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim().trim_start_matches("| ").trim())
        .filter(|l| !l.is_empty())
        .collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {}", tail.join(" / "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(50)
    }

    #[test]
    fn crlf_is_folded_even_across_chunks() {
        let c = Capture::new("console", vec![]);
        c.push(b"login:\r");
        c.push(b"\nnext\r\n");
        assert_eq!(c.text(), "login:\nnext\n");
    }

    #[test]
    fn utf8_split_across_chunks_is_kept_whole() {
        let c = Capture::new("console", vec![]);
        let bytes = "é".as_bytes();
        c.push(&bytes[..1]);
        c.push(&bytes[1..]);
        assert_eq!(c.text(), "é");
    }

    #[test]
    fn waits_match_after_the_previous_match() {
        let c = Capture::new("console", vec![]);
        c.push(b"one two one");
        c.wait_for(&Pattern::Text("one".into()), soon())
            .expect("first");
        c.wait_for(&Pattern::Text("two".into()), soon())
            .expect("second");
        c.wait_for(&Pattern::Text("one".into()), soon())
            .expect("third");
        let err = c
            .wait_for(&Pattern::Text("two".into()), soon())
            .expect_err("no second two");
        assert!(matches!(err, WaitError::Timeout { .. }), "{err}");
        assert!(err.to_string().contains("| one two one"), "{err}");
    }

    #[test]
    fn regex_groups_are_reported_by_index_and_name() {
        let c = Capture::new("console", vec![]);
        c.push(b"Linux version 6.1.0 (x)\n");
        let re = Regex::new(r"Linux version (?<ver>\S+)").expect("regex");
        let m = c.wait_for(&Pattern::Regex(re), soon()).expect("match");
        assert!(m.groups.contains(&("1".into(), "6.1.0".into())));
        assert!(m.groups.contains(&("ver".into(), "6.1.0".into())));
    }

    #[test]
    fn fail_pattern_split_across_chunks_ends_the_wait() {
        let c = Capture::new("console", vec!["Kernel panic - not syncing".into()]);
        c.push(b"[ 1.0] Kernel pa");
        c.push(b"nic - not syncing: VFS\n");
        let err = c
            .wait_for(
                &Pattern::Text("login".into()),
                Instant::now() + Duration::from_secs(5),
            )
            .expect_err("fails");
        assert!(matches!(err, WaitError::FailPattern { .. }), "{err}");
    }

    #[test]
    fn closed_stream_ends_the_wait_at_once_but_old_text_still_matches() {
        let c = Capture::new("console", vec![]);
        c.push(b"bye\n");
        c.close();
        c.wait_for(&Pattern::Text("bye".into()), soon())
            .expect("old text");
        let start = Instant::now();
        let err = c
            .wait_for(
                &Pattern::Text("never".into()),
                Instant::now() + Duration::from_secs(5),
            )
            .expect_err("closed");
        assert!(matches!(err, WaitError::Closed { .. }));
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_flood_of_carriage_returns_stays_bounded_in_memory_and_in_messages() {
        let c = Capture::new("console", vec![]);
        let flood = b"\rspinning".repeat(1 << 12);
        for _ in 0..(64 << 20) / flood.len() {
            c.push(&flood);
        }

        let err = c
            .wait_for(&Pattern::Text("login:".into()), soon())
            .expect_err("never");

        assert!(c.text().len() <= MAX_KEPT, "{}", c.text().len());
        assert!(
            err.to_string().len() < 2 * QUOTED_TAIL,
            "{}",
            err.to_string().len()
        );
    }

    #[test]
    fn a_writer_thread_wakes_the_waiter() {
        let c = Capture::new("console", vec![]);
        let c2 = c.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            c2.push(b"ready\n");
        });
        c.wait_for(
            &Pattern::Text("ready".into()),
            Instant::now() + Duration::from_secs(5),
        )
        .expect("woken");
        t.join().expect("join");
    }
}
