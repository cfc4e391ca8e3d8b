//! [`AgentError`]: why a host-side agent operation failed.

use std::io;
use std::path::PathBuf;

use crate::protocol::ProtocolError;

/// Why an [`AgentClient`](crate::AgentClient) operation failed.
///
/// After [`Disconnected`](AgentError::Disconnected), [`Protocol`](AgentError::Protocol)
/// and [`Io`](AgentError::Io) the channel is unusable and every later call returns
/// [`Broken`](AgentError::Broken). After [`Timeout`](AgentError::Timeout) and
/// [`Guest`](AgentError::Guest) the channel still works.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// Reading from or writing to the channel failed.
    #[error("agent channel I/O failed while {during}")]
    Io {
        /// What the client was doing, e.g. `sending request 3 (run "true")`.
        during: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The guest side closed the channel: the agent or the guest is gone.
    #[error("the guest agent closed the channel (agent or guest gone) while {during}")]
    Disconnected {
        /// What the client was waiting for, and any partial frame received.
        during: String,
    },
    /// The deadline passed first.
    #[error("timed out waiting for {waiting_for}")]
    Timeout {
        /// What was awaited, how long, and what was last received.
        waiting_for: String,
    },
    /// The guest sent something that is not the protocol.
    #[error("agent protocol error while {during}")]
    Protocol {
        /// What the client was waiting for.
        during: String,
        /// What was received.
        #[source]
        source: ProtocolError,
    },
    /// The agent speaks another protocol version.
    #[error("the guest agent {agent_version} speaks protocol {guest}, this host speaks {host}")]
    ProtocolVersion {
        /// The agent's [`ReadyInfo::protocol`](crate::ReadyInfo::protocol).
        guest: u32,
        /// [`PROTOCOL_VERSION`](crate::protocol::PROTOCOL_VERSION).
        host: u32,
        /// The agent's version.
        agent_version: String,
    },
    /// The guest could not do what was asked (start the command, open a file, ...).
    #[error("the guest agent could not {request}: {message}")]
    Guest {
        /// The request, e.g. `copy /tmp/x out`.
        request: String,
        /// The agent's explanation.
        message: String,
    },
    /// A file on the host could not be read or written.
    #[error("cannot {action} host file {}", path.display())]
    HostFile {
        /// `read` or `write`.
        action: &'static str,
        /// The host file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An argument cannot be sent (an empty argv).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// An earlier error left the channel unusable.
    #[error("the agent channel is unusable after an earlier error: {first}")]
    Broken {
        /// The earlier error, with its causes.
        first: String,
    },
}
