//! A producer's two output streams, read together: stdout through the TAP reader,
//! stderr attributed to the test points by arrival order.
//!
//! The rule: what the producer wrote on stderr after point N-1's line and before
//! point N's line belongs to point N. That is where Python's unittest with pycotap
//! (`LogMode.LogToError`, as QEMU's `tests/functional` use it) puts a test's own
//! output and a failing test's traceback: it writes them to stderr, then prints
//! `not ok N ...` on stdout.
//!
//! Both pipes are watched with one `poll(2)`; when both have data, stderr is read
//! first, then stdout. Stderr read while stdout had nothing was written before the
//! next stdout line, and goes to the next point. Stderr read while stdout also had
//! data may have been written before or after that data (the order of two pipes is
//! unknown), so when that stdout data completes point N, that stderr goes to N and
//! to N+1 as well: a point's text is never missing what was written before its line,
//! and may carry the first lines of the next test's output. A producer that writes
//! faster than kennel reads can have several points' lines arrive in one read of
//! stdout; the stderr read before it then goes to the first `not ok` of them (else
//! to the first), the one whose text is shown.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::Instant;

use crate::tap::{Point, PointStatus, TapReader};

/// At most this much stderr is kept per point (the end, where a traceback's
/// exception is); the whole stream is in `stderr.log`.
const STDERR_PER_POINT: usize = 32 * 1024;

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
    let mut buf = vec![0u8; 64 * 1024];
    // Stderr read while stdout had data too: its order against that data is unknown.
    let mut together: Vec<u8> = Vec::new();
    while s.stdout.is_some() || s.stderr.is_some() {
        let (err_ready, out_ready) = wait_readable(s.stderr.as_ref(), s.stdout.as_ref());
        together.clear();
        if let (true, Some(err)) = (err_ready, s.stderr.as_mut()) {
            match read_some(err, &mut buf) {
                Some(n) => {
                    let _ = s.stderr_log.write_all(&buf[..n]);
                    pending.push(&buf[..n]);
                    if out_ready {
                        together.extend_from_slice(&buf[..n]);
                    }
                }
                None => s.stderr = None,
            }
        }
        if let (true, Some(out)) = (out_ready, s.stdout.as_mut()) {
            match read_some(out, &mut buf) {
                Some(n) => {
                    let _ = s.stdout_log.write_all(&buf[..n]);
                    let new = tap.feed(&buf[..n]);
                    let at = started.elapsed().as_secs_f64();
                    let owner = new
                        .iter()
                        .position(|p| p.status == PointStatus::NotOk)
                        .unwrap_or(0);
                    for i in 0..new.len() {
                        let text = if i == owner {
                            pending.take()
                        } else {
                            String::new()
                        };
                        arrived.push((at, text));
                    }
                    if !new.is_empty() {
                        pending.push(&together);
                    }
                    send_complete(&tap, &arrived, false);
                }
                None => s.stdout = None,
            }
        }
    }
    for _ in tap.finish() {
        arrived.push((started.elapsed().as_secs_f64(), pending.take()));
    }
    send_complete(&tap, &arrived, true);
    tap
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

/// Block until stderr or stdout can be read (or has closed): (stderr, stdout).
fn wait_readable(
    err: Option<&std::process::ChildStderr>,
    out: Option<&std::process::ChildStdout>,
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
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n >= 0 {
            break;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            // Cannot wait: try both; a blocking read still makes progress.
            return (err.is_some(), out.is_some());
        }
    }
    let ready = |p: &libc::pollfd| p.fd >= 0 && p.revents != 0;
    (ready(&fds[0]), ready(&fds[1]))
}
