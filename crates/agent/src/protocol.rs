//! The wire protocol between the host ([`AgentClient`]) and the guest agent.
//!
//! One byte stream (a virtio-serial port in the guest, a UNIX socket on the host
//! where QEMU's `-chardev socket` connects) carries frames in both directions.
//!
//! # Frames
//!
//! ```text
//! +------------------------+----------+-------------------------+
//! | length: u32 big-endian | kind: u8 | payload: `length` bytes |
//! +------------------------+----------+-------------------------+
//! ```
//!
//! `length` counts the payload only (not the 5 header bytes) and is at most
//! [`MAX_PAYLOAD`] (1 MiB); a bigger frame is a protocol error and ends the
//! session, as does an unknown kind. The kinds ([`Kind`]) are ASCII letters so a
//! hex dump reads:
//!
//! | kind | byte | payload |
//! |---|---|---|
//! | [`Kind::Json`] | `J` | one JSON object, UTF-8, with a `"type"` member: a [`HostMessage`] or an [`AgentMessage`] |
//! | [`Kind::Stdin`] | `I` | host → guest: request id (u32 BE), then raw bytes for the command's standard input |
//! | [`Kind::Stdout`] | `O` | guest → host: request id (u32 BE), then raw bytes the command wrote to standard output |
//! | [`Kind::Stderr`] | `E` | guest → host: request id (u32 BE), then raw bytes the command wrote to standard error |
//! | [`Kind::File`] | `F` | either way: request id (u32 BE), then raw file contents |
//!
//! Data is never JSON-escaped: output and file contents travel as raw bytes in
//! data frames of up to [`DATA_CHUNK`] bytes. A host → guest stream (stdin, a
//! file copied in) ends with an *empty* data frame (the id alone).
//!
//! # Session
//!
//! 1. The agent opens its port and sends [`AgentMessage::Ready`] with id 0
//!    (protocol version [`PROTOCOL_VERSION`], agent version, kernel release,
//!    uptime). On a virtio-serial port the write waits until the host side is
//!    connected.
//! 2. The host sends requests, each with a fresh id (1, 2, ...), one at a time.
//!    Every reply frame carries the id of its request; a host that gave up on a
//!    request skips later frames with older ids.
//!
//! | request | what follows from the host | reply from the guest |
//! |---|---|---|
//! | [`HostMessage::Run`] | if `stdin`: `I` frames, then an empty `I` frame | `O`/`E` frames as the command writes, then [`AgentMessage::Exit`] (or [`AgentMessage::Error`] when it cannot start) |
//! | [`HostMessage::CopyIn`] | `F` frames, then an empty `F` frame | [`AgentMessage::Done`] or [`AgentMessage::Error`] |
//! | [`HostMessage::CopyOut`] | nothing | `F` frames, then [`AgentMessage::Done`] (or [`AgentMessage::Error`] at any point) |
//! | [`HostMessage::Ping`] | nothing | [`AgentMessage::Pong`] |
//! | [`HostMessage::Cancel`] | nothing | (the running command is killed and ends with its `Exit`) |
//! | [`HostMessage::Refresh`] | nothing | [`AgentMessage::Done`] (`bytes`: the seed's length) or [`AgentMessage::Error`] |
//!
//! `Refresh` is sent only to an agent whose Ready lists [`FEATURE_REFRESH`] in
//! `features` (an older agent has no `features` and does not know it).
//!
//! The guest reads everything a request brings (its stdin, a file's contents)
//! before it replies, so neither side can block the other by not reading.
//! While a command runs the agent keeps reading the channel: it answers `Ping`
//! and obeys `Cancel`; any other request then gets an `Error` ("busy").
//!
//! # Commands
//!
//! `argv[0]` is looked up in `PATH` (`/usr/sbin:/usr/bin:/sbin:/bin` when the
//! agent has none). The command runs in its own process group with the agent's
//! environment plus `env`, standard input from the `I` frames or `/dev/null`.
//! When `timeout_ms` passes, or on `Cancel`, the agent kills the whole process
//! group with `SIGKILL` and reports `timed_out`. After the command exits the agent
//! waits at most [`PIPE_GRACE`] for its output pipes to close (a background
//! process may hold them) and then stops reading them.
//!
//! # Example
//!
//! The bytes of a ping request with id 7:
//!
//! ```
//! use kennel_agent::protocol::{encode_json, HostMessage};
//!
//! let frame = encode_json(&HostMessage::Ping { id: 7 });
//! assert_eq!(&frame[..5], b"\0\0\0\x16J");
//! assert_eq!(&frame[5..], br#"{"type":"ping","id":7}"#);
//! ```
//!
//! [`AgentClient`]: crate::AgentClient

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::frame::{encode_data, encode_json, Frame, FrameDecoder, Kind, ProtocolError};

/// The protocol version the agent announces in [`ReadyInfo::protocol`]; the host
/// refuses any other.
pub const PROTOCOL_VERSION: u32 = 1;

/// The feature an agent lists in [`ReadyInfo::features`] when it serves
/// [`HostMessage::Refresh`].
pub const FEATURE_REFRESH: &str = "refresh";

/// The largest payload a frame may carry, in bytes.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// The most raw bytes either side puts in one data frame.
pub const DATA_CHUNK: usize = 64 * 1024;

/// The name of the virtio-serial port the agent looks for
/// (`-device virtserialport,name=org.kennel.agent`).
pub const PORT_NAME: &str = "org.kennel.agent";

/// How long the agent keeps reading a command's output pipes after it exited.
pub const PIPE_GRACE: Duration = Duration::from_millis(100);

/// What the agent tells the host when it is ready, the first frame of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyInfo {
    /// The protocol version ([`PROTOCOL_VERSION`] of the agent's build).
    pub protocol: u32,
    /// The agent's version (its crate version).
    pub version: String,
    /// The guest kernel's release, `uname -r` (`/proc/sys/kernel/osrelease`).
    pub kernel_release: String,
    /// The guest's uptime when the agent became ready (`/proc/uptime`): how long
    /// the guest took to boot to its agent. Milliseconds on the wire (`uptime_ms`).
    #[serde(rename = "uptime_ms", with = "duration_ms")]
    pub uptime: Duration,
    /// The requests beyond protocol version 1's first set that the agent
    /// serves ([`FEATURE_REFRESH`]); absent (empty) from older agents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

/// A message from the host to the agent (a [`Kind::Json`] frame).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HostMessage {
    /// Run a command.
    Run {
        /// The request id.
        id: u32,
        /// The program and its arguments; not empty.
        argv: Vec<String>,
        /// Variables added to the agent's environment, in order.
        env: Vec<(String, String)>,
        /// Kill the command's process group after this many milliseconds.
        timeout_ms: u64,
        /// Whether `I` frames (ended by an empty one) follow; otherwise `/dev/null`.
        stdin: bool,
    },
    /// Write a file in the guest from the `F` frames that follow (ended by an empty one).
    CopyIn {
        /// The request id.
        id: u32,
        /// The file to create or truncate in the guest; its directory must exist.
        path: String,
        /// The file's permission bits, e.g. `0o755`.
        mode: u32,
    },
    /// Send a guest file back in `F` frames.
    CopyOut {
        /// The request id.
        id: u32,
        /// The file in the guest.
        path: String,
    },
    /// Answer with [`AgentMessage::Pong`] at once (also while a command runs).
    Ping {
        /// The request id.
        id: u32,
    },
    /// Kill the running command of request `id` (its process group).
    Cancel {
        /// The id of the `Run` request to cancel.
        id: u32,
    },
    /// Give a guest restored from a saved state its own identity: set the
    /// clock and mix `seed` into the kernel's random pool (credited, then the
    /// generator reseeded). Only for agents listing [`FEATURE_REFRESH`].
    Refresh {
        /// The request id.
        id: u32,
        /// The host's time, nanoseconds since the Unix epoch (`CLOCK_REALTIME`).
        unix_time_ns: u64,
        /// Random bytes from the host.
        seed: Vec<u8>,
    },
}

/// A message from the agent to the host (a [`Kind::Json`] frame).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMessage {
    /// The first message of a session (id 0 implied).
    Ready(ReadyInfo),
    /// The command of a `Run` request ended; all its output was sent before.
    Exit {
        /// The request id.
        id: u32,
        /// The exit code when the command exited.
        exit_code: Option<i32>,
        /// The signal number when a signal killed it.
        signal: Option<i32>,
        /// From start to exit, in microseconds, measured in the guest.
        duration_us: u64,
        /// Whether the agent killed it because its timeout passed (or on `Cancel`).
        timed_out: bool,
    },
    /// A copy finished.
    Done {
        /// The request id.
        id: u32,
        /// How many bytes the file had.
        bytes: u64,
    },
    /// The answer to a `Ping`.
    Pong {
        /// The request id.
        id: u32,
    },
    /// The request failed in the guest (cannot start the command, cannot open a file, ...).
    Error {
        /// The request id.
        id: u32,
        /// What went wrong, for people.
        message: String,
    },
}

impl AgentMessage {
    /// The id of the request this message answers (0 for `Ready`).
    pub fn id(&self) -> u32 {
        match self {
            AgentMessage::Ready(_) => 0,
            AgentMessage::Exit { id, .. }
            | AgentMessage::Done { id, .. }
            | AgentMessage::Pong { id }
            | AgentMessage::Error { id, .. } => *id,
        }
    }
}

/// A [`Duration`] as whole milliseconds on the wire.
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_travels_as_a_flat_object_with_milliseconds() {
        let ready = AgentMessage::Ready(ReadyInfo {
            protocol: 1,
            version: "0.1.0".into(),
            kernel_release: "6.1.0-9-amd64".into(),
            uptime: Duration::from_millis(1234),
            features: Vec::new(),
        });

        let json = serde_json::to_string(&ready).expect("serializes");

        assert_eq!(
            json,
            r#"{"type":"ready","protocol":1,"version":"0.1.0","kernel_release":"6.1.0-9-amd64","uptime_ms":1234}"#
        );
        assert_eq!(
            serde_json::from_str::<AgentMessage>(&json).expect("parses"),
            ready
        );
    }

    #[test]
    fn a_ready_without_features_comes_from_an_older_agent() {
        let json = r#"{"type":"ready","protocol":1,"version":"0.1.0","kernel_release":"6.1","uptime_ms":5}"#;

        let Ok(AgentMessage::Ready(ready)) = serde_json::from_str::<AgentMessage>(json) else {
            panic!("an older agent's ready parses");
        };

        assert!(ready.features.is_empty());
    }

    #[test]
    fn run_request_env_travels_as_pairs() {
        let run = HostMessage::Run {
            id: 3,
            argv: vec!["env".into()],
            env: vec![("A".into(), "1".into())],
            timeout_ms: 500,
            stdin: false,
        };

        let json = serde_json::to_string(&run).expect("serializes");

        assert_eq!(
            json,
            r#"{"type":"run","id":3,"argv":["env"],"env":[["A","1"]],"timeout_ms":500,"stdin":false}"#
        );
    }
}
