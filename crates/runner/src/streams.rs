//! A producer's two output streams, read together: stdout through the TAP reader,
//! stderr attributed to the test points by arrival order.
//!
//! The rule: what the producer wrote on stderr after point N-1's line and before
//! point N's line belongs to point N. That is where Python's unittest with pycotap
//! (`LogMode.LogToError`, as QEMU's `tests/functional` use it) puts a test's own
//! output and a failing test's traceback: it writes them to stderr, then prints
//! `not ok N ...` on stdout.
//!
//! Both pipes are watched with one `poll(2)`. Whenever stdout has data, kennel
//! reads it and then reads all that stderr holds at that moment; since stdout's
//! lines were written before kennel read them, any stderr written before them is in
//! by then. So a point's text is never missing what was written before its line
//! (unless several `not ok` lines come in one read, below).
//!
//! Stderr read while stdout held unread data (right after a read of stdout, or when
//! data arrived on stdout during the read of stderr) may have been written before or
//! after that data: the order of two pipes is unknown. When that data completes a
//! `not ok` point, that stderr is the point's: pycotap writes a traceback just before
//! the line, so that is where it belongs (the first lines of the next test's output,
//! written in the same instant, can land there too). When it completes only other
//! points, that stderr is also kept for the next point, so that a test's output
//! written just after the previous `ok` line is not lost. Stderr read while stdout
//! stayed empty goes to the next point.
//!
//! When one read of stdout brings several points (a program faster than kennel
//! reads), the stderr before it goes to the first `not ok` among them (else the
//! first), and each point after that one gets the stderr read right after.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::Instant;

use crate::tap::{Point, PointStatus, TapReader};

/// At most this much stderr is kept per point (the end, where a traceback's
/// exception is); the whole stream is in `stderr.log`.
pub(crate) const STDERR_PER_POINT: usize = 32 * 1024;

/// One complete test point, as handed out.
#[derive(Debug, Clone)]
pub(crate) struct Arrived {
    /// Seconds since the producer started, when its line was read.
    pub at_s: f64,
    /// The point (with its TAP diagnostics).
    pub point: Point,
    /// What the producer wrote on stderr since the previous point's line.
    pub stderr: String,
}

/// The producer's pipes and where each is logged.
pub(crate) struct Streams {
    /// Its stdout.
    pub stdout: Option<std::process::ChildStdout>,
    /// Its stderr.
    pub stderr: Option<std::process::ChildStderr>,
    /// The stdout log (`test.log` or `stdout.log`).
    pub stdout_log: std::fs::File,
    /// `stderr.log`.
    pub stderr_log: std::fs::File,
}

/// Stderr since the last point, bounded to its last [`STDERR_PER_POINT`] bytes.
#[derive(Default)]
struct Pending {
    text: Vec<u8>,
    cut: bool,
}

impl Pending {
    fn push(&mut self, bytes: &[u8]) {
        self.text.extend_from_slice(bytes);
        if self.text.len() > STDERR_PER_POINT {
            let from = self.text.len() - STDERR_PER_POINT;
            self.text.drain(..from);
            self.cut = true;
        }
    }

    fn take(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.text).trim_end().to_string();
        let out = if self.cut {
            let start = text.find('\n').map_or(0, |i| i + 1);
            format!(
                "(earlier stderr cut; all of it is in stderr.log)\n{}",
                &text[start..]
            )
        } else {
            text
        };
        self.text.clear();
        self.cut = false;
        out
    }
}

/// Copy both streams to their logs until both close, feeding stdout to a
/// [`TapReader`] and sending each point once it is complete: at once for `ok`,
/// `skip` and `todo`; a `not ok` once the next point (or the end) shows its
/// diagnostics are all in. Returns the reader, for the producer's verdict.
pub(crate) fn read_streams(
    mut s: Streams,
    started: Instant,
    points: &std::sync::mpsc::Sender<Arrived>,
) -> TapReader {
    let mut tap = TapReader::default();
    let mut arrived: Vec<(f64, String)> = Vec::new();
    let mut sent = 0;
    let mut send_complete = |tap: &TapReader, arrived: &[(f64, String)], all: bool| {
        while sent < tap.points.len() {
            let last = sent + 1 == tap.points.len();
            if last && !all && tap.points[sent].status == PointStatus::NotOk {
                break;
            }
            let (at_s, stderr) = arrived[sent].clone();
            let _ = points.send(Arrived {
                at_s,
                point: tap.points[sent].clone(),
                stderr,
            });
            sent += 1;
        }
    };
    let mut pending = Pending::default();
    let mut out_buf = vec![0u8; 64 * 1024];
    let mut err_buf = vec![0u8; 64 * 1024];
    // Stderr read while stdout had unread data, kept for that data's points.
    let mut unsure: Vec<u8> = Vec::new();
    while s.stdout.is_some() || s.stderr.is_some() {
        let (err_ready, out_ready) = wait_readable(s.stderr.as_ref(), s.stdout.as_ref(), -1);
        // Stdout first: the stderr read after it holds everything written before its lines.
        let mut chunk = 0;
        if let (true, Some(out)) = (out_ready, s.stdout.as_mut()) {
            match read_some(out, &mut out_buf) {
                Some(n) => {
                    let _ = s.stdout_log.write_all(&out_buf[..n]);
                    chunk = n;
                }
                None => s.stdout = None,
            }
        }
        let mut fresh: Vec<u8> = Vec::new();
        if err_ready || chunk > 0 {
            drain_stderr(&mut s, &mut err_buf, &mut |bytes| {
                pending.push(bytes);
                fresh.extend_from_slice(bytes);
            });
        }
        if chunk == 0 {
            // Stdout still empty after this stderr: it was written before stdout's next
            // line. Else its order against the data now there is unknown.
            if wait_readable(None, s.stdout.as_ref(), 0).1 {
                unsure.extend_from_slice(&fresh);
            }
            continue;
        }
        // Stderr read while stdout had data: written before or after that data.
        let together = [std::mem::take(&mut unsure), fresh].concat();
        let new = tap.feed(&out_buf[..chunk]);
        let at = started.elapsed().as_secs_f64();
        let owner = new
            .iter()
            .position(|p| p.status == PointStatus::NotOk)
            .unwrap_or(0);
        let after_owner = String::from_utf8_lossy(&together).trim_end().to_string();
        for i in 0..new.len() {
            let text = match i.cmp(&owner) {
                std::cmp::Ordering::Less => String::new(),
                std::cmp::Ordering::Equal => pending.take(),
                std::cmp::Ordering::Greater => after_owner.clone(),
            };
            arrived.push((at, text));
        }
        let failed = new.iter().any(|p| p.status == PointStatus::NotOk);
        if !new.is_empty() && !failed {
            pending.push(&together);
        }
        send_complete(&tap, &arrived, false);
    }
    for _ in tap.finish() {
        arrived.push((started.elapsed().as_secs_f64(), pending.take()));
    }
    send_complete(&tap, &arrived, true);
    tap
}

/// Read what stderr holds now (up to 1 MiB, so that a chatty producer cannot hold
/// stdout back), logging it and handing it to `take`.
fn drain_stderr(s: &mut Streams, buf: &mut [u8], take: &mut dyn FnMut(&[u8])) {
    for _ in 0..16 {
        let Some(err) = s.stderr.as_mut() else {
            return;
        };
        if !wait_readable(Some(err), None, 0).0 {
            return;
        }
        match read_some(err, buf) {
            Some(n) => {
                let _ = s.stderr_log.write_all(&buf[..n]);
                take(&buf[..n]);
            }
            None => {
                s.stderr = None;
                return;
            }
        }
    }
}

/// Read what is there: `None` at the end of the stream (or on an error).
fn read_some(r: &mut impl Read, buf: &mut [u8]) -> Option<usize> {
    loop {
        match r.read(buf) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// Wait up to `timeout_ms` (-1: for ever) until stderr or stdout can be read (or
/// has closed): (stderr, stdout).
fn wait_readable(
    err: Option<&std::process::ChildStderr>,
    out: Option<&std::process::ChildStdout>,
    timeout_ms: i32,
) -> (bool, bool) {
    let fd = |f: Option<i32>| libc::pollfd {
        fd: f.unwrap_or(-1),
        events: libc::POLLIN,
        revents: 0,
    };
    let mut fds = [
        fd(err.map(|e| e.as_raw_fd())),
        fd(out.map(|o| o.as_raw_fd())),
    ];
    loop {
        // SAFETY: `fds` is a valid array of two pollfd for the call's duration;
        // a negative fd is ignored by poll(2).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n >= 0 {
            break;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            // Cannot wait: try what is open; a blocking read still makes progress.
            return (err.is_some() && timeout_ms != 0, out.is_some());
        }
    }
    let ready = |p: &libc::pollfd| p.fd >= 0 && p.revents != 0;
    (ready(&fds[0]), ready(&fds[1]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// Run `sh -c script` through [`read_streams`]: the points and their stderr.
    fn points_of(script: &str) -> Vec<Arrived> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new("sh")
            .args(["-c", script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sh");
        let log = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log");
        let streams = Streams {
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            stdout_log: log("test.log"),
            stderr_log: log("stderr.log"),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        read_streams(streams, Instant::now(), &tx);
        let _ = child.wait();
        drop(tx);
        rx.iter().collect()
    }

    #[test]
    fn stderr_written_before_a_not_ok_line_is_that_points() {
        let points = points_of(
            "echo 1..3; echo 'ok 1 - one'; echo 'trace of 2' >&2; echo 'not ok 2 - two'; echo 'output of 3' >&2; echo 'ok 3 - three'",
        );

        assert_eq!(points.len(), 3);
        assert!(points[1].stderr.contains("trace of 2"), "{points:?}");
    }

    #[test]
    fn a_slow_tests_stderr_is_its_points_alone() {
        let points = points_of(
            "echo 'ok 1 - one'; sleep 0.1; echo 'trace of 2' >&2; sleep 0.1; echo 'not ok 2 - two'",
        );

        assert_eq!(points[1].stderr, "trace of 2");
    }

    #[test]
    fn a_long_stderr_keeps_its_end() {
        let points = points_of(
            "i=0; while [ $i -lt 3000 ]; do echo \"line $i of the test's chatter\" >&2; i=$((i+1)); done; echo 'not ok 1 - chatty'",
        );

        let text = &points[0].stderr;
        assert!(text.starts_with("(earlier stderr cut"), "{}", &text[..80]);
        assert!(text.ends_with("line 2999 of the test's chatter"));
    }
}
