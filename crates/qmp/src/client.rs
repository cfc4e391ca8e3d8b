//! The [`Qmp`] client: handshake, commands, events.

use std::fmt;
use std::io::{self, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Map, Value};

use crate::error::{CommandError, QmpError};
use crate::matching::matches;
use crate::reader;
use crate::state::{Closure, Shared, State};
use crate::transcript::{Direction, Transcript};

/// The default limit on the length of one line from QEMU: 64 MiB.
pub const DEFAULT_MAX_LINE: usize = 64 << 20;

/// Connection options for [`Qmp::handshake_with`].
///
/// # Examples
///
/// ```
/// let options = kennel_qmp::Options::default().with_max_line(1 << 20);
/// assert_eq!(options.max_line, 1 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The longest line accepted from QEMU, in bytes, line ending excluded. A longer
    /// line ends the connection with [`QmpError::LineTooLong`]; the reader never
    /// buffers more than this. Default: [`DEFAULT_MAX_LINE`].
    pub max_line: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_line: DEFAULT_MAX_LINE,
        }
    }
}

impl Options {
    /// Set [`Options::max_line`].
    #[must_use]
    pub fn with_max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes;
        self
    }
}

/// A blocking QMP client for one QEMU monitor connection.
///
/// Every method takes `&self` and the type is `Send + Sync`, so threads can share
/// it (e.g. in an `Arc`): one may wait for an event while another runs commands.
/// Each call takes a deadline; none blocks past it, and once the connection is
/// closed every waiting and later call fails promptly.
///
/// A reader thread owns the read half of the socket: it routes replies to the
/// callers waiting for them, queues events for [`Qmp::wait_event`], and logs
/// everything to the [`Transcript`]. Dropping the `Qmp` shuts the socket down,
/// which ends that thread.
///
/// # Examples
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use std::time::{Duration, Instant};
///
/// use kennel_qmp::{Qmp, Transcript};
/// use serde_json::json;
///
/// # fn fake_qemu(stream: UnixStream) -> std::io::Result<()> {
/// #     use std::io::{BufRead, BufReader, Write};
/// #     let mut out = stream.try_clone()?;
/// #     writeln!(out, r#"{{"QMP": {{"version": {{"qemu": {{"micro": 0, "minor": 2, "major": 7}}, "package": ""}}, "capabilities": []}}}}"#)?;
/// #     let mut lines = BufReader::new(stream).lines();
/// #     let mut next_id = || -> std::io::Result<serde_json::Value> {
/// #         let line = lines.next().unwrap_or(Ok(String::new()))?;
/// #         Ok(serde_json::from_str::<serde_json::Value>(&line)?["id"].clone())
/// #     };
/// #     writeln!(out, "{}", json!({"return": {}, "id": next_id()?}))?;
/// #     let id = next_id()?;
/// #     writeln!(out, "{}", json!({"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}))?;
/// #     writeln!(out, "{}", json!({"return": {}, "id": id}))?;
/// #     let id = next_id()?;
/// #     writeln!(out, "{}", json!({"error": {"class": "GenericError", "desc": "The command is permitted only before the machine has been created"}, "id": id}))?;
/// #     Ok(())
/// # }
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (stream, qemu_side) = UnixStream::pair()?;
/// # std::thread::spawn(move || fake_qemu(qemu_side));
/// // `stream` is connected to QEMU's QMP socket.
/// let deadline = Instant::now() + Duration::from_secs(10);
/// let qmp = Qmp::handshake(stream, Transcript::discard(), deadline)?;
/// assert_eq!(qmp.version(), Some((7, 2, 0)));
///
/// qmp.execute("stop", None, deadline)?;
/// let stop = qmp.wait_event("STOP", None, deadline)?;
/// assert_eq!(stop["event"], "STOP");
///
/// // QEMU's refusals are values when asked for with `execute_raw`.
/// let refused = qmp.execute_raw("set-numa-node", Some(&json!({"type": "node"})), deadline)?;
/// assert_eq!(refused.unwrap_err().class, "GenericError");
/// # Ok(())
/// # }
/// ```
pub struct Qmp {
    shared: Arc<Shared>,
    /// The write half; the lock keeps each message whole.
    writer: Mutex<UnixStream>,
    /// Another handle on the socket, to shut it down without waiting for a writer.
    control: UnixStream,
    greeting: Value,
    next_id: AtomicU64,
    transcript: Transcript,
}

impl Qmp {
    /// Wrap a connected stream: read the greeting, send `qmp_capabilities`, wait for
    /// its reply. `deadline` bounds the whole handshake.
    ///
    /// Spawns the reader thread, which owns a clone of `stream` and ends at end of
    /// file or on error. On failure the socket is shut down.
    pub fn handshake(
        stream: UnixStream,
        transcript: Transcript,
        deadline: Instant,
    ) -> Result<Qmp, QmpError> {
        Qmp::handshake_with(stream, transcript, deadline, Options::default())
    }

    /// [`Qmp::handshake`] with non-default [`Options`].
    pub fn handshake_with(
        stream: UnixStream,
        transcript: Transcript,
        deadline: Instant,
        options: Options,
    ) -> Result<Qmp, QmpError> {
        let control = stream.try_clone().map_err(QmpError::Io)?;
        let shared = Arc::new(Shared::default());
        let greeting = start_reader(&stream, &transcript, &shared, &options)
            .and_then(|()| wait_for_greeting(&shared, deadline));
        let greeting = match greeting {
            Ok(greeting) => greeting,
            Err(e) => {
                // Ends the reader thread, if it started.
                let _ = control.shutdown(Shutdown::Both);
                return Err(e);
            }
        };
        let qmp = Qmp {
            shared,
            control,
            writer: Mutex::new(stream),
            greeting,
            next_id: AtomicU64::new(0),
            transcript,
        };
        // On error, dropping `qmp` shuts the socket down.
        qmp.execute("qmp_capabilities", None, deadline)?;
        Ok(qmp)
    }

    /// The greeting's `QMP` object, e.g. `{"version": {...}, "capabilities": [...]}`.
    pub fn greeting(&self) -> &Value {
        &self.greeting
    }

    /// QEMU's version from the greeting as (major, minor, micro).
    pub fn version(&self) -> Option<(u64, u64, u64)> {
        let qemu = self.greeting.get("version")?.get("qemu")?;
        let number = |key: &str| qemu.get(key).and_then(Value::as_u64);
        Some((number("major")?, number("minor")?, number("micro")?))
    }

    /// The transcript this connection logs to.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Execute `command` with a fresh id (`kennel-<n>`), with `args` as its
    /// `"arguments"` (none when `None`).
    ///
    /// Returns `Ok(Ok(return value))`, or `Ok(Err(CommandError))` when QEMU answered
    /// with an error; `Err` on timeout, protocol error, or closed connection. A reply
    /// arriving after the deadline is dropped.
    pub fn execute_raw(
        &self,
        command: &str,
        args: Option<&Value>,
        deadline: Instant,
    ) -> Result<Result<Value, CommandError>, QmpError> {
        let id = format!(
            "kennel-{}",
            self.next_id.fetch_add(1, Ordering::Relaxed) + 1
        );
        let _pending = PendingReply::register(&self.shared, &id)?;
        self.send(command, args, &id, deadline)?;
        let (state, reply) = self.shared.wait_until(deadline, |state| {
            if let Some(Some(_)) = state.pending.get(&id) {
                return state.pending.remove(&id).flatten().map(Ok);
            }
            state.closed.as_ref().map(|closure| Err(closure.to_error()))
        });
        match reply {
            Some(reply) => parse_reply(reply?),
            None => Err(QmpError::Timeout {
                waiting_for: describe(&format!("reply to {command}"), &state),
            }),
        }
    }

    /// Like [`Qmp::execute_raw`], but an error reply from QEMU becomes [`QmpError::Command`].
    pub fn execute(
        &self,
        command: &str,
        args: Option<&Value>,
        deadline: Instant,
    ) -> Result<Value, QmpError> {
        self.execute_raw(command, args, deadline)?
            .map_err(QmpError::Command)
    }

    /// Run an HMP command through `human-monitor-command` and return its output
    /// as QEMU sent it (often ending in `\r\n`; empty for silent commands).
    pub fn hmp(&self, command_line: &str, deadline: Instant) -> Result<String, QmpError> {
        let args = Value::Object(Map::from_iter([(
            "command-line".to_owned(),
            Value::String(command_line.to_owned()),
        )]));
        match self.execute("human-monitor-command", Some(&args), deadline)? {
            Value::String(output) => Ok(output),
            other => Err(QmpError::Protocol {
                detail: format!("human-monitor-command returned a non-string: {other}"),
            }),
        }
    }

    /// Wait for an event named `name` whose whole event object (including `data`
    /// and `timestamp`) matches `pattern` in the sense of [`matches()`].
    ///
    /// Looks among the events received since the handshake and not yet consumed,
    /// then at those arriving before `deadline`. The first match in arrival order is
    /// removed from the queue and returned whole. Events already queued are still
    /// found after the connection closed.
    pub fn wait_event(
        &self,
        name: &str,
        pattern: Option<&Value>,
        deadline: Instant,
    ) -> Result<Value, QmpError> {
        let wanted = |event: &Value| {
            event.get("event").and_then(Value::as_str) == Some(name)
                && pattern.is_none_or(|pattern| matches(pattern, event))
        };
        let (state, event) = self.shared.wait_until(deadline, |state| {
            if let Some(index) = state.events.iter().position(wanted) {
                return state.events.remove(index).map(Ok);
            }
            state.closed.as_ref().map(|closure| Err(closure.to_error()))
        });
        match event {
            Some(event) => event,
            None => {
                let mut what = format!("event {name}");
                if let Some(pattern) = pattern {
                    what.push_str(&format!(" matching {pattern}"));
                }
                let queued: Vec<&str> = state
                    .events
                    .iter()
                    .filter_map(|event| event.get("event").and_then(Value::as_str))
                    .collect();
                if !queued.is_empty() {
                    what.push_str(&format!(" (unconsumed events: {})", queued.join(", ")));
                }
                Err(QmpError::Timeout {
                    waiting_for: describe(&what, &state),
                })
            }
        }
    }

    /// The events not consumed yet, oldest first.
    pub fn pending_events(&self) -> Vec<Value> {
        self.shared.lock().events.iter().cloned().collect()
    }

    /// True once the connection ended: QEMU closed it, sent something that is not
    /// QMP, or [`Qmp::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed.is_some()
    }

    /// Shut the socket down (both directions), which ends the reader thread. Every
    /// waiting and later call fails with [`QmpError::Closed`]. Idempotent.
    pub fn close(&self) {
        // Fails only when already shut down or the peer is gone: fine either way.
        let _ = self.control.shutdown(Shutdown::Both);
        self.shared.lock().closed.get_or_insert(Closure::Eof);
        self.shared.notify();
    }

    /// Write one command, bounded by `deadline`.
    fn send(
        &self,
        command: &str,
        args: Option<&Value>,
        id: &str,
        deadline: Instant,
    ) -> Result<(), QmpError> {
        let mut message = Map::new();
        message.insert("execute".into(), Value::String(command.into()));
        if let Some(args) = args {
            message.insert("arguments".into(), args.clone());
        }
        message.insert("id".into(), Value::String(id.into()));
        let text = Value::Object(message).to_string();
        let timeout = || QmpError::Timeout {
            waiting_for: format!("QEMU to accept {command} (it is not reading)"),
        };

        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let remaining = deadline
            .checked_duration_since(Instant::now())
            .filter(|remaining| !remaining.is_zero())
            .ok_or_else(timeout)?;
        writer
            .set_write_timeout(Some(remaining))
            .map_err(QmpError::Io)?;
        // Logged before writing so the reply can never precede it in the transcript.
        self.transcript.record(Direction::Sent, &text);
        let mut bytes = text.into_bytes();
        bytes.push(b'\n');
        writer.write_all(&bytes).map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => timeout(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => self
                .shared
                .lock()
                .closed
                .as_ref()
                .map_or(QmpError::Closed, Closure::to_error),
            _ => QmpError::Io(e),
        })
    }
}

impl Drop for Qmp {
    fn drop(&mut self) {
        self.close();
    }
}

impl fmt::Debug for Qmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Qmp")
            .field("version", &self.version())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Registers a command id as awaited; unregisters it when dropped, so a reply
/// arriving later is dropped.
struct PendingReply<'a> {
    shared: &'a Shared,
    id: &'a str,
}

impl<'a> PendingReply<'a> {
    /// Fails when the connection is already closed.
    fn register(shared: &'a Shared, id: &'a str) -> Result<Self, QmpError> {
        let mut state = shared.lock();
        if let Some(closure) = &state.closed {
            return Err(closure.to_error());
        }
        state.pending.insert(id.to_owned(), None);
        Ok(PendingReply { shared, id })
    }
}

impl Drop for PendingReply<'_> {
    fn drop(&mut self) {
        self.shared.lock().pending.remove(self.id);
    }
}

fn start_reader(
    stream: &UnixStream,
    transcript: &Transcript,
    shared: &Arc<Shared>,
    options: &Options,
) -> Result<(), QmpError> {
    let read_half = stream.try_clone().map_err(QmpError::Io)?;
    reader::spawn(
        read_half,
        options.max_line,
        Arc::clone(shared),
        transcript.clone(),
    )
    .map_err(QmpError::Io)
}

fn wait_for_greeting(shared: &Shared, deadline: Instant) -> Result<Value, QmpError> {
    let (state, greeting) = shared.wait_until(deadline, |state| {
        if let Some(greeting) = &state.greeting {
            return Some(Ok(greeting.clone()));
        }
        state.closed.as_ref().map(|closure| Err(closure.to_error()))
    });
    greeting.unwrap_or_else(|| {
        Err(QmpError::Timeout {
            waiting_for: describe("the QMP greeting", &state),
        })
    })
}

/// Turn a reply object into the command's result.
fn parse_reply(mut reply: Map<String, Value>) -> Result<Result<Value, CommandError>, QmpError> {
    if let Some(value) = reply.remove("return") {
        return Ok(Ok(value));
    }
    reply
        .get("error")
        .and_then(CommandError::from_reply)
        .map(Err)
        .ok_or_else(|| QmpError::Protocol {
            detail: format!(
                "error reply without string class and desc: {}",
                Value::Object(reply)
            ),
        })
}

/// `what`, plus the last message received, for timeout errors.
fn describe(what: &str, state: &State) -> String {
    match &state.last_received {
        Some(last) => format!("{what}; last received: {last}"),
        None => format!("{what}; nothing received from QEMU"),
    }
}
