//! [`AgentClient`]: the host side of the channel.

use std::error::Error as _;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::AgentError;
use crate::frame::excerpt;
use crate::protocol::{
    encode_data, encode_json, AgentMessage, Frame, FrameDecoder, HostMessage, Kind, ReadyInfo,
    DATA_CHUNK, PROTOCOL_VERSION,
};

/// The default for [`AgentClient::set_response_timeout`].
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// The default for [`AgentClient::set_run_grace`].
pub const DEFAULT_RUN_GRACE: Duration = Duration::from_secs(10);

/// Longest command text quoted in errors.
const QUOTE_CHARS: usize = 120;

/// Write buffered frames once this much is pending.
const WRITE_BATCH: usize = 256 * 1024;

/// What a command did in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// Everything it wrote to standard output.
    pub stdout: Vec<u8>,
    /// Everything it wrote to standard error.
    pub stderr: Vec<u8>,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that killed it, when one did (`SIGKILL` after a timeout).
    pub signal: Option<i32>,
    /// From start to exit, measured in the guest.
    pub duration: Duration,
    /// Whether the agent killed it because its timeout passed.
    pub timed_out: bool,
}

impl CommandOutput {
    /// Exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A reply frame for the current request (stale frames already skipped).
enum Reply {
    Data(Kind, Vec<u8>),
    Message(AgentMessage),
}

/// The host end of the command channel to a guest's `kennel-agent`.
///
/// Requests run one at a time (`&mut self`). Every wait is bounded: [`run`]
/// waits for the command's own timeout plus [`set_run_grace`]; the other calls
/// wait at most [`set_response_timeout`] for each frame. A guest that closes the
/// channel ends any wait at once with [`AgentError::Disconnected`].
///
/// # Examples
///
/// ```no_run
/// use std::os::unix::net::UnixListener;
/// use std::time::{Duration, Instant};
/// use kennel_agent::AgentClient;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // QEMU: -chardev socket,id=agent,path=agent.sock
/// //       -device virtio-serial -device virtserialport,chardev=agent,name=org.kennel.agent
/// let listener = UnixListener::bind("agent.sock")?;
/// let (stream, _) = listener.accept()?;
/// let mut agent = AgentClient::connect(stream, Instant::now() + Duration::from_secs(30))?;
/// let out = agent.run("nproc", Duration::from_secs(10))?;
/// assert_eq!(out.stdout, b"4\n");
/// # Ok(())
/// # }
/// ```
///
/// [`run`]: AgentClient::run
/// [`set_run_grace`]: AgentClient::set_run_grace
/// [`set_response_timeout`]: AgentClient::set_response_timeout
#[derive(Debug)]
pub struct AgentClient {
    stream: UnixStream,
    decoder: FrameDecoder,
    ready: ReadyInfo,
    next_id: u32,
    response_timeout: Duration,
    run_grace: Duration,
    last_received: String,
    broken: Option<String>,
}

impl AgentClient {
    /// Wait for the agent's Ready message until `deadline` (the guest is booting
    /// meanwhile), and check its protocol version. Well-formed frames before it
    /// (left over from an earlier connection to the same port) are skipped.
    pub fn connect(stream: UnixStream, deadline: Instant) -> Result<AgentClient, AgentError> {
        let mut client = AgentClient {
            stream,
            decoder: FrameDecoder::new(),
            ready: ReadyInfo {
                protocol: 0,
                version: String::new(),
                kernel_release: String::new(),
                uptime: Duration::ZERO,
                features: Vec::new(),
            },
            next_id: 1,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            run_grace: DEFAULT_RUN_GRACE,
            last_received: "nothing".into(),
            broken: None,
        };
        let started = Instant::now();
        let during = || {
            format!(
                "the agent's ready message ({:.1?} waited)",
                started.elapsed()
            )
        };
        let ready = loop {
            let frame = client.recv(deadline, &during)?;
            if let Frame::Data { .. } = frame {
                // Left over from an earlier host of the same port: skip.
                continue;
            }
            let message =
                frame
                    .parse_json::<AgentMessage>()
                    .map_err(|source| AgentError::Protocol {
                        during: during(),
                        source,
                    })?;
            if let AgentMessage::Ready(ready) = message {
                break ready;
            }
        };
        if ready.protocol != PROTOCOL_VERSION {
            return Err(AgentError::ProtocolVersion {
                guest: ready.protocol,
                host: PROTOCOL_VERSION,
                agent_version: ready.version,
            });
        }
        client.ready = ready;
        Ok(client)
    }

    /// Take over the channel of an agent that is already serving: the guest
    /// was restored from a saved state whose host went away (a warm start).
    /// `ready` is what the agent said when it first became ready. A ping
    /// (request 1) is answered whether the agent is still in its old session
    /// (it answers at once) or noticed the old host leave and announced itself
    /// again (its new Ready, taken here, comes first). Waits until `deadline`.
    pub fn resume(
        stream: UnixStream,
        ready: ReadyInfo,
        deadline: Instant,
    ) -> Result<AgentClient, AgentError> {
        if ready.protocol != PROTOCOL_VERSION {
            return Err(AgentError::ProtocolVersion {
                guest: ready.protocol,
                host: PROTOCOL_VERSION,
                agent_version: ready.version,
            });
        }
        let mut client = AgentClient {
            stream,
            decoder: FrameDecoder::new(),
            ready,
            next_id: 1,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            run_grace: DEFAULT_RUN_GRACE,
            last_received: "nothing".into(),
            broken: None,
        };
        let id = client.take_id();
        let request = format!("ping (request {id}) after a restore");
        client.send(&encode_json(&HostMessage::Ping { id }), &request)?;
        let during = || format!("the answer to {request}");
        loop {
            let frame = client.recv(deadline, &during)?;
            if let Frame::Data { .. } = frame {
                continue;
            }
            let message =
                frame
                    .parse_json::<AgentMessage>()
                    .map_err(|source| AgentError::Protocol {
                        during: during(),
                        source,
                    })?;
            match message {
                AgentMessage::Ready(again) if again.protocol == PROTOCOL_VERSION => {
                    client.ready = again;
                }
                AgentMessage::Ready(again) => {
                    return Err(AgentError::ProtocolVersion {
                        guest: again.protocol,
                        host: PROTOCOL_VERSION,
                        agent_version: again.version,
                    })
                }
                AgentMessage::Pong { id: answered } if answered == id => return Ok(client),
                _ => {}
            }
        }
    }

    /// Give a restored guest its own identity: set its clock to `unix_time`
    /// (since the Unix epoch) and mix `seed` into its random pool, credited as
    /// entropy and followed by a reseed of the kernel's generator. Needs an
    /// agent that announces [`FEATURE_REFRESH`](crate::protocol::FEATURE_REFRESH).
    pub fn refresh(&mut self, unix_time: Duration, seed: &[u8]) -> Result<(), AgentError> {
        self.checked(|client| {
            let id = client.take_id();
            let request = format!("refresh (request {id})");
            let message = HostMessage::Refresh {
                id,
                unix_time_ns: u64::try_from(unix_time.as_nanos()).unwrap_or(u64::MAX),
                seed: seed.to_vec(),
            };
            client.send(&encode_json(&message), &request)?;
            let deadline = after(client.response_timeout);
            match client.reply(id, deadline, &|| format!("the answer to {request}"))? {
                Reply::Message(AgentMessage::Done { .. }) => Ok(()),
                Reply::Message(AgentMessage::Error { message, .. }) => Err(AgentError::Guest {
                    request: "refresh".into(),
                    message,
                }),
                other => Err(client.unexpected(other, &request)),
            }
        })
    }

    /// What the agent said when it became ready: version, kernel release, uptime.
    pub fn ready_info(&self) -> &ReadyInfo {
        &self.ready
    }

    /// How long to wait for each reply frame of a copy or ping, and for each
    /// write to the channel ([`DEFAULT_RESPONSE_TIMEOUT`]).
    pub fn set_response_timeout(&mut self, timeout: Duration) {
        self.response_timeout = timeout;
    }

    /// How long past a command's own timeout to wait for the agent's report that
    /// it killed the command ([`DEFAULT_RUN_GRACE`]; a slow TCG guest needs a while).
    pub fn set_run_grace(&mut self, grace: Duration) {
        self.run_grace = grace;
    }

    /// Run `command` with `/bin/sh -c` in the guest; stdout and stderr are captured
    /// separately, with the exit code or signal.
    ///
    /// After `timeout` the agent kills the command's process group and the output
    /// says [`timed_out`](CommandOutput::timed_out); that is not an error.
    pub fn run(&mut self, command: &str, timeout: Duration) -> Result<CommandOutput, AgentError> {
        self.run_argv(&["/bin/sh", "-c", command], &[], None, timeout)
    }

    /// Run `argv` (`argv[0]` looked up in the guest's `PATH`) with `env` added to the
    /// agent's environment and `stdin` as standard input (`/dev/null` when `None`).
    pub fn run_argv(
        &mut self,
        argv: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<CommandOutput, AgentError> {
        if argv.is_empty() {
            return Err(AgentError::InvalidRequest("empty argv".into()));
        }
        self.checked(|client| client.run_inner(argv, env, stdin, timeout))
    }

    /// Copy a host file of any size to `guest_path` (created or truncated; its
    /// directory must exist) with permission bits `mode` (e.g. `0o755`).
    pub fn copy_in(
        &mut self,
        host_path: &Path,
        guest_path: &str,
        mode: u32,
    ) -> Result<(), AgentError> {
        self.checked(|client| client.copy_in_inner(host_path, guest_path, mode))
    }

    /// Copy the guest file `guest_path` to `host_path` (created or truncated);
    /// returns its size. A failed copy leaves no host file behind.
    pub fn copy_out(&mut self, guest_path: &str, host_path: &Path) -> Result<u64, AgentError> {
        self.checked(|client| client.copy_out_inner(guest_path, host_path))
    }

    /// A round trip to the agent; it answers at once, also while a command runs.
    pub fn ping(&mut self) -> Result<Duration, AgentError> {
        self.checked(|client| {
            let started = Instant::now();
            let id = client.take_id();
            let request = format!("ping (request {id})");
            client.send(&encode_json(&HostMessage::Ping { id }), &request)?;
            let deadline = after(client.response_timeout);
            match client.reply(id, deadline, &|| format!("the answer to {request}"))? {
                Reply::Message(AgentMessage::Pong { .. }) => Ok(started.elapsed()),
                other => Err(client.unexpected(other, &request)),
            }
        })
    }

    fn run_inner(
        &mut self,
        argv: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<CommandOutput, AgentError> {
        let id = self.take_id();
        let quoted = quote(&argv.join(" "));
        let request = format!("request {id} (run `{quoted}`)");
        let message = HostMessage::Run {
            id,
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            stdin: stdin.is_some(),
        };
        let mut out = encode_json(&message);
        if let Some(stdin) = stdin {
            for chunk in stdin.chunks(DATA_CHUNK) {
                out.extend(encode_data(Kind::Stdin, id, chunk));
                if out.len() >= WRITE_BATCH {
                    self.send(&out, &request)?;
                    out.clear();
                }
            }
            out.extend(encode_data(Kind::Stdin, id, &[]));
        }
        self.send(&out, &request)?;

        let deadline = after(timeout.saturating_add(self.run_grace));
        let grace = self.run_grace;
        let waiting_for =
            || format!("the result of {request} (timeout {timeout:?} + grace {grace:?})");
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        loop {
            let reply = match self.reply(id, deadline, &waiting_for) {
                Err(e @ AgentError::Timeout { .. }) => {
                    // Best effort: the agent kills the command; its late report is
                    // skipped as stale by the next request.
                    let _ = self.send(&encode_json(&HostMessage::Cancel { id }), &request);
                    return Err(e);
                }
                other => other?,
            };
            match reply {
                Reply::Data(Kind::Stdout, bytes) => stdout.extend_from_slice(&bytes),
                Reply::Data(Kind::Stderr, bytes) => stderr.extend_from_slice(&bytes),
                Reply::Message(AgentMessage::Exit {
                    exit_code,
                    signal,
                    duration_us,
                    timed_out,
                    ..
                }) => {
                    return Ok(CommandOutput {
                        stdout,
                        stderr,
                        exit_code,
                        signal,
                        duration: Duration::from_micros(duration_us),
                        timed_out,
                    })
                }
                Reply::Message(AgentMessage::Error { message, .. }) => {
                    return Err(AgentError::Guest {
                        request: format!("run `{quoted}`"),
                        message,
                    })
                }
                other => return Err(self.unexpected(other, &request)),
            }
        }
    }

    fn copy_in_inner(
        &mut self,
        host_path: &Path,
        guest_path: &str,
        mode: u32,
    ) -> Result<(), AgentError> {
        let host_error = |source| AgentError::HostFile {
            action: "read",
            path: host_path.to_owned(),
            source,
        };
        let mut file = File::open(host_path).map_err(host_error)?;
        let id = self.take_id();
        let request = format!(
            "request {id} (copy {} in to {guest_path})",
            host_path.display()
        );
        let mut out = encode_json(&HostMessage::CopyIn {
            id,
            path: guest_path.to_owned(),
            mode,
        });
        let mut chunk = vec![0; DATA_CHUNK];
        let mut read_error = None;
        loop {
            let n = match file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // End the stream cleanly so the channel stays in step.
                    read_error = Some(e);
                    break;
                }
            };
            out.extend(encode_data(Kind::File, id, &chunk[..n]));
            if out.len() >= WRITE_BATCH {
                self.send(&out, &request)?;
                out.clear();
            }
        }
        out.extend(encode_data(Kind::File, id, &[]));
        self.send(&out, &request)?;

        let deadline = after(self.response_timeout);
        let reply = self.reply(id, deadline, &|| format!("the result of {request}"))?;
        if let Some(e) = read_error {
            return Err(host_error(e));
        }
        match reply {
            Reply::Message(AgentMessage::Done { .. }) => Ok(()),
            Reply::Message(AgentMessage::Error { message, .. }) => Err(AgentError::Guest {
                request: format!("copy {} in to {guest_path}", host_path.display()),
                message,
            }),
            other => Err(self.unexpected(other, &request)),
        }
    }

    fn copy_out_inner(&mut self, guest_path: &str, host_path: &Path) -> Result<u64, AgentError> {
        let id = self.take_id();
        let request = format!(
            "request {id} (copy {guest_path} out to {})",
            host_path.display()
        );
        self.send(
            &encode_json(&HostMessage::CopyOut {
                id,
                path: guest_path.to_owned(),
            }),
            &request,
        )?;
        let mut file: Option<File> = None;
        let mut written = 0u64;
        let result = loop {
            let deadline = after(self.response_timeout);
            let reply = match self.reply(id, deadline, &|| {
                format!("the data of {request} ({written} bytes so far)")
            }) {
                Ok(reply) => reply,
                Err(e) => break Err(e),
            };
            match reply {
                Reply::Data(Kind::File, bytes) => {
                    let write = match &mut file {
                        Some(f) => f.write_all(&bytes),
                        None => File::create(host_path).and_then(|mut f| {
                            let w = f.write_all(&bytes);
                            file = Some(f);
                            w
                        }),
                    };
                    if let Err(source) = write {
                        break Err(AgentError::HostFile {
                            action: "write",
                            path: host_path.to_owned(),
                            source,
                        });
                    }
                    written += bytes.len() as u64;
                }
                Reply::Message(AgentMessage::Done { bytes, .. }) if bytes == written => {
                    let file = match file.take() {
                        Some(f) => Ok(f),
                        None => File::create(host_path),
                    };
                    break file
                        .and_then(|f| f.sync_all())
                        .map(|()| written)
                        .map_err(|source| AgentError::HostFile {
                            action: "write",
                            path: host_path.to_owned(),
                            source,
                        });
                }
                Reply::Message(AgentMessage::Error { message, .. }) => {
                    break Err(AgentError::Guest {
                        request: format!("copy {guest_path} out"),
                        message,
                    })
                }
                other => break Err(self.unexpected(other, &request)),
            }
        };
        if result.is_err() && file.is_some() {
            drop(file);
            let _ = std::fs::remove_file(host_path);
        }
        result
    }

    /// Run `op` unless the channel is broken; mark it broken on errors that leave
    /// the stream out of step.
    fn checked<T>(
        &mut self,
        op: impl FnOnce(&mut AgentClient) -> Result<T, AgentError>,
    ) -> Result<T, AgentError> {
        if let Some(first) = &self.broken {
            return Err(AgentError::Broken {
                first: first.clone(),
            });
        }
        let result = op(self);
        if let Err(
            e @ (AgentError::Io { .. }
            | AgentError::Disconnected { .. }
            | AgentError::Protocol { .. }),
        ) = &result
        {
            self.broken.get_or_insert_with(|| chain(e));
        }
        result
    }

    fn take_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Write whole frames; any failure leaves a partial frame, so the channel breaks.
    fn send(&mut self, bytes: &[u8], request: &str) -> Result<(), AgentError> {
        let result = self
            .stream
            .set_write_timeout(Some(self.response_timeout))
            .and_then(|()| self.stream.write_all(bytes));
        let Err(source) = result else {
            return Ok(());
        };
        let error = match source.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => AgentError::Timeout {
                waiting_for: format!(
                    "the guest to accept {request} (a write blocked for {:?})",
                    self.response_timeout
                ),
            },
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => {
                AgentError::Disconnected {
                    during: format!("sending {request}"),
                }
            }
            _ => AgentError::Io {
                during: format!("sending {request}"),
                source,
            },
        };
        self.broken.get_or_insert_with(|| chain(&error));
        Err(error)
    }

    /// The next frame, waiting until `deadline`.
    fn recv(
        &mut self,
        deadline: Instant,
        waiting_for: &dyn Fn() -> String,
    ) -> Result<Frame, AgentError> {
        loop {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => {
                    self.last_received = frame.summary();
                    return Ok(frame);
                }
                Ok(None) => {}
                Err(source) => {
                    return Err(AgentError::Protocol {
                        during: format!("waiting for {}", waiting_for()),
                        source,
                    })
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(AgentError::Timeout {
                    waiting_for: format!(
                        "{}; last received: {}",
                        waiting_for(),
                        self.last_received
                    ),
                });
            }
            let read = self
                .stream
                .set_read_timeout(Some(remaining))
                .and_then(|()| self.decoder.read_from(&mut self.stream));
            match read {
                Ok(0) => {
                    let pending = self.decoder.pending();
                    let partial = if pending.is_empty() {
                        String::new()
                    } else {
                        format!(" (in the middle of a frame: {})", excerpt(pending))
                    };
                    return Err(AgentError::Disconnected {
                        during: format!("waiting for {}{partial}", waiting_for()),
                    });
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                // A guest dying with our request unread resets the connection.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Err(AgentError::Disconnected {
                        during: format!("waiting for {}", waiting_for()),
                    })
                }
                Err(source) => {
                    return Err(AgentError::Io {
                        during: format!("waiting for {}", waiting_for()),
                        source,
                    })
                }
            }
        }
    }

    /// The next frame for request `id`, skipping frames of earlier (abandoned) requests.
    fn reply(
        &mut self,
        id: u32,
        deadline: Instant,
        waiting_for: &dyn Fn() -> String,
    ) -> Result<Reply, AgentError> {
        loop {
            let frame = self.recv(deadline, waiting_for)?;
            let protocol_error = |detail: String| AgentError::Protocol {
                during: format!("waiting for {}", waiting_for()),
                source: crate::protocol::ProtocolError { detail },
            };
            let (frame_id, reply) = match frame {
                Frame::Data { kind, id, bytes } => (id, Reply::Data(kind, bytes)),
                Frame::Json(_) => {
                    let message = frame
                        .parse_json::<AgentMessage>()
                        .map_err(|e| protocol_error(e.detail))?;
                    if let AgentMessage::Ready(_) = message {
                        return Err(protocol_error(format!(
                            "the agent restarted: {}",
                            frame.summary()
                        )));
                    }
                    (message.id(), Reply::Message(message))
                }
            };
            if frame_id == id {
                return Ok(reply);
            }
            if frame_id > id {
                return Err(protocol_error(format!(
                    "a reply for request {frame_id}, which was never sent: {}",
                    self.last_received
                )));
            }
            // A late frame of an abandoned request: skip it.
        }
    }

    fn unexpected(&self, reply: Reply, request: &str) -> AgentError {
        let what = match reply {
            Reply::Data(kind, bytes) => format!("a {:?} data frame ({} bytes)", kind, bytes.len()),
            Reply::Message(message) => format!("{message:?}"),
        };
        AgentError::Protocol {
            during: format!("waiting for the result of {request}"),
            source: crate::protocol::ProtocolError {
                detail: format!("unexpected reply {what}"),
            },
        }
    }
}

/// `error` and its causes on one line.
fn chain(error: &AgentError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn quote(command: &str) -> String {
    if command.chars().count() <= QUOTE_CHARS {
        command.to_owned()
    } else {
        let cut: String = command.chars().take(QUOTE_CHARS).collect();
        format!("{cut}...")
    }
}

/// `Instant::now() + duration`, saturating at a century from now.
fn after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration.min(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}
