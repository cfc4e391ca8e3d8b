//! Running one command: spawn it in its own process group, stream its output,
//! feed its stdin, enforce its timeout, and keep listening to the host meanwhile.
//! One thread, one `poll(2)` loop.

use std::env;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::channel::Channel;
use super::sys;
use crate::protocol::{
    encode_data, encode_json, AgentMessage, Frame, HostMessage, Kind, DATA_CHUNK, PIPE_GRACE,
};

/// `PATH` for commands when the agent has none (init often sets none).
const DEFAULT_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// Longer timeouts are cut to this (an `Instant` cannot hold any `u64` of milliseconds).
const MAX_TIMEOUT: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// How often to check for the child's exit when pidfds are unavailable.
const EXIT_TICK: Duration = Duration::from_millis(5);

/// Whether to go on serving.
pub(crate) enum Flow {
    /// The request is done.
    Continue,
    /// The host went away.
    HostGone,
}

/// A `Run` request with its stdin already received.
pub(crate) struct RunRequest {
    pub(crate) id: u32,
    pub(crate) argv: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    pub(crate) stdin: Option<Vec<u8>>,
}

/// Run the command and report it: `O`/`E` frames, then `Exit` (or `Error`).
pub(crate) fn run(channel: &mut Channel, request: RunRequest) -> io::Result<Flow> {
    let id = request.id;
    let started = Instant::now();
    let mut child = match spawn(&request) {
        Ok(child) => child,
        Err(e) => {
            let program = request.argv.first().map_or("", String::as_str);
            let message = format!("cannot start {program}: {e}");
            channel.send(&encode_json(&AgentMessage::Error { id, message }))?;
            return Ok(Flow::Continue);
        }
    };
    let mut running = Running {
        pid: child.id(),
        pidfd: sys::pidfd_open(child.id()).ok(),
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
        stdin: child.stdin.take(),
        stdin_data: request.stdin.unwrap_or_default(),
        stdin_written: 0,
        timed_out: false,
    };
    if running.stdin_data.is_empty() {
        // Nothing to feed: end of file at once.
        running.stdin = None;
    }
    if let Some(stdin) = &running.stdin {
        sys::set_nonblocking(stdin.as_fd())?;
    }
    let deadline = started
        .checked_add(request.timeout.min(MAX_TIMEOUT))
        .unwrap_or(started);
    let result = running.supervise(channel, &mut child, id, deadline);
    let status = match result {
        Ok(Some(status)) => status,
        Ok(None) => {
            running.kill(&mut child);
            return Ok(Flow::HostGone);
        }
        Err(e) => {
            running.kill(&mut child);
            return Err(e);
        }
    };
    let exit = AgentMessage::Exit {
        id,
        exit_code: status.code(),
        signal: status.signal(),
        duration_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        timed_out: running.timed_out,
    };
    channel.send(&encode_json(&exit))?;
    Ok(Flow::Continue)
}

fn spawn(request: &RunRequest) -> io::Result<Child> {
    let (program, args) = request
        .argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty argv"))?;
    let mut command = Command::new(program);
    if env::var_os("PATH").is_none() {
        command.env("PATH", DEFAULT_PATH);
    }
    command
        .args(args)
        .envs(request.env.iter().map(|(k, v)| (k, v)))
        .stdin(if request.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    command.spawn()
}

/// A spawned command's pipes and state.
struct Running {
    pid: u32,
    pidfd: Option<OwnedFd>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    stdin: Option<ChildStdin>,
    stdin_data: Vec<u8>,
    stdin_written: usize,
    timed_out: bool,
}

impl Running {
    /// Until the command exited and its pipes closed (or [`PIPE_GRACE`] passed):
    /// its exit status, `None` when the host went away.
    fn supervise(
        &mut self,
        channel: &mut Channel,
        child: &mut Child,
        id: u32,
        deadline: Instant,
    ) -> io::Result<Option<ExitStatus>> {
        let mut exited: Option<(ExitStatus, Instant)> = None;
        let mut buf = vec![0; DATA_CHUNK];
        loop {
            let now = Instant::now();
            if exited.is_none() {
                if let Some(status) = child.try_wait()? {
                    exited = Some((status, now));
                    self.stdin = None;
                }
            }
            if let Some((status, at)) = exited {
                let pipes_open = self.stdout.is_some() || self.stderr.is_some();
                if !pipes_open || now >= at + PIPE_GRACE {
                    return Ok(Some(status));
                }
            }
            // Frames read along with the request (or just now) before poll can say so.
            while let Some(frame) = channel.next_buffered()? {
                self.host_frame(frame, id, channel, child)?;
            }
            if !self.timed_out && now >= deadline {
                self.timed_out = true;
                self.kill_group(child);
            }

            let mut wake: Option<Duration> = None;
            let mut wake_at = |at: Instant| {
                let d = at.saturating_duration_since(now);
                wake = Some(wake.map_or(d, |w| w.min(d)));
            };
            if !self.timed_out {
                wake_at(deadline);
            }
            match exited {
                Some((_, at)) => wake_at(at + PIPE_GRACE),
                None if self.pidfd.is_none() => wake_at(now + EXIT_TICK),
                None => {}
            }
            let want_stdin = self.stdin_written < self.stdin_data.len();
            let mut fds = [
                sys::pollfd(Some(channel.fd()), libc::POLLIN),
                sys::pollfd(self.stdout.as_ref().map(AsFd::as_fd), libc::POLLIN),
                sys::pollfd(self.stderr.as_ref().map(AsFd::as_fd), libc::POLLIN),
                sys::pollfd(
                    self.stdin.as_ref().filter(|_| want_stdin).map(AsFd::as_fd),
                    libc::POLLOUT,
                ),
                sys::pollfd(
                    self.pidfd
                        .as_ref()
                        .filter(|_| exited.is_none())
                        .map(AsFd::as_fd),
                    libc::POLLIN,
                ),
            ];
            sys::poll(&mut fds, wake)?;

            if fds[1].revents != 0 {
                forward(&mut self.stdout, Kind::Stdout, id, &mut buf, channel)?;
            }
            if fds[2].revents != 0 {
                forward(&mut self.stderr, Kind::Stderr, id, &mut buf, channel)?;
            }
            if fds[3].revents != 0 {
                self.feed_stdin();
            }
            if fds[0].revents != 0 && !channel.fill()? {
                return Ok(None);
            }
        }
    }

    /// A frame from the host while the command runs.
    fn host_frame(
        &mut self,
        frame: Frame,
        running_id: u32,
        channel: &mut Channel,
        child: &mut Child,
    ) -> io::Result<()> {
        let message = match &frame {
            Frame::Json(_) => frame
                .parse_json::<HostMessage>()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
            // Data of a request refused as busy.
            Frame::Data { .. } => return Ok(()),
        };
        let reply = match message {
            HostMessage::Cancel { id } if id == running_id => {
                if !self.timed_out {
                    self.timed_out = true;
                    self.kill_group(child);
                }
                return Ok(());
            }
            HostMessage::Cancel { .. } => return Ok(()),
            HostMessage::Ping { id } => AgentMessage::Pong { id },
            HostMessage::Run { id, .. }
            | HostMessage::CopyIn { id, .. }
            | HostMessage::CopyOut { id, .. }
            | HostMessage::Refresh { id, .. } => AgentMessage::Error {
                id,
                message: format!("busy: request {running_id} is still running"),
            },
        };
        channel.send(&encode_json(&reply))
    }

    /// Write what the pipe takes now; a child that stopped reading ends its stdin.
    fn feed_stdin(&mut self) {
        let Some(stdin) = &mut self.stdin else {
            return;
        };
        match stdin.write(&self.stdin_data[self.stdin_written..]) {
            Ok(n) => self.stdin_written += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            // EPIPE: the command closed its stdin. Not an error of the agent.
            Err(_) => self.stdin_written = self.stdin_data.len(),
        }
        if self.stdin_written == self.stdin_data.len() {
            self.stdin = None;
        }
    }

    fn kill_group(&mut self, child: &mut Child) {
        sys::kill_process_group(self.pid);
        let _ = child.kill();
    }

    /// Kill and reap (the host went away or the channel failed).
    fn kill(&mut self, child: &mut Child) {
        self.kill_group(child);
        let _ = child.wait();
    }
}

/// Read what a pipe has and send it; at end of file (or a read error) close it.
fn forward<R: Read>(
    pipe: &mut Option<R>,
    kind: Kind,
    id: u32,
    buf: &mut [u8],
    channel: &mut Channel,
) -> io::Result<()> {
    let Some(reader) = pipe else {
        return Ok(());
    };
    match reader.read(buf) {
        Ok(0) => *pipe = None,
        Ok(n) => channel.send(&encode_data(kind, id, &buf[..n]))?,
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
        Err(_) => *pipe = None,
    }
    Ok(())
}
