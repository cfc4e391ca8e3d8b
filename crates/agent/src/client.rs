//! [`AgentClient`]: the host side of the channel.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::AgentError;
use crate::protocol::{
    encode_data, encode_json, AgentMessage, FrameDecoder, HostMessage, Kind, ReadyInfo, DATA_CHUNK,
    PROTOCOL_VERSION,
};

mod wire;

use wire::Reply;

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

/// How a command ended in the guest, its output already handed over as it
/// came ([`AgentClient::run_streamed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandEnd {
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
        let mut client = AgentClient::new(
            stream,
            ReadyInfo {
                protocol: 0,
                version: String::new(),
                kernel_release: String::new(),
                uptime: Duration::ZERO,
                features: Vec::new(),
            },
        );
        let started = Instant::now();
        let during = || {
            format!(
                "the agent's ready message ({:.1?} waited)",
                started.elapsed()
            )
        };
        let ready = loop {
            if let AgentMessage::Ready(ready) = client.next_message(deadline, &during)? {
                break ready;
            }
        };
        client.ready = supported(ready)?;
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
        let mut client = AgentClient::new(stream, supported(ready)?);
        let id = client.take_id();
        let request = format!("ping (request {id}) after a restore");
        client.send(&encode_json(&HostMessage::Ping { id }), &request)?;
        let during = || format!("the answer to {request}");
        loop {
            match client.next_message(deadline, &during)? {
                AgentMessage::Ready(again) => client.ready = supported(again)?,
                AgentMessage::Pong { id: answered } if answered == id => return Ok(client),
                _ => {}
            }
        }
    }

    /// A client on `stream` to an agent that said `ready`, before any request.
    fn new(stream: UnixStream, ready: ReadyInfo) -> AgentClient {
        AgentClient {
            stream,
            decoder: FrameDecoder::new(),
            ready,
            next_id: 1,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            run_grace: DEFAULT_RUN_GRACE,
            last_received: "nothing".into(),
            broken: None,
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
    ///
    /// All the output is held in memory: for a command whose output has no
    /// known bound, use [`run_streamed`](AgentClient::run_streamed).
    pub fn run(&mut self, command: &str, timeout: Duration) -> Result<CommandOutput, AgentError> {
        self.run_argv(&["/bin/sh", "-c", command], &[], None, timeout)
    }

    /// Run `command` with `/bin/sh -c` in the guest, handing each piece of its
    /// output to `on_output` ([`Kind::Stdout`] or [`Kind::Stderr`]) as it
    /// arrives, so that the client holds no more than one frame of it.
    pub fn run_streamed(
        &mut self,
        command: &str,
        timeout: Duration,
        on_output: &mut dyn FnMut(Kind, &[u8]),
    ) -> Result<CommandEnd, AgentError> {
        let argv = ["/bin/sh", "-c", command];
        self.checked(|client| client.run_inner(&argv, &[], None, timeout, on_output))
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
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let end = self.checked(|client| {
            client.run_inner(argv, env, stdin, timeout, &mut |kind, bytes| match kind {
                Kind::Stderr => stderr.extend_from_slice(bytes),
                _ => stdout.extend_from_slice(bytes),
            })
        })?;
        Ok(CommandOutput {
            stdout,
            stderr,
            exit_code: end.exit_code,
            signal: end.signal,
            duration: end.duration,
            timed_out: end.timed_out,
        })
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
        on_output: &mut dyn FnMut(Kind, &[u8]),
    ) -> Result<CommandEnd, AgentError> {
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
                Reply::Data(kind @ (Kind::Stdout | Kind::Stderr), bytes) => on_output(kind, &bytes),
                Reply::Message(AgentMessage::Exit {
                    exit_code,
                    signal,
                    duration_us,
                    timed_out,
                    ..
                }) => {
                    return Ok(CommandEnd {
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
}

/// `ready` when its protocol is this host's, else the version mismatch.
fn supported(ready: ReadyInfo) -> Result<ReadyInfo, AgentError> {
    if ready.protocol == PROTOCOL_VERSION {
        Ok(ready)
    } else {
        Err(AgentError::ProtocolVersion {
            guest: ready.protocol,
            host: PROTOCOL_VERSION,
            agent_version: ready.version,
        })
    }
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
