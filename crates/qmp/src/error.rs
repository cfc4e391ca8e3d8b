//! The error types: [`QmpError`] for the connection, [`CommandError`] for QEMU's refusals.

use std::fmt;

use serde_json::Value;

/// A command error reply from QEMU: `{"error": {"class": ..., "desc": ...}}`.
///
/// Displayed as `<class>: <desc>`, e.g.
/// `GenericError: The command is permitted only before the machine has been created`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// The error class, e.g. `GenericError` or `CommandNotFound`.
    pub class: String,
    /// QEMU's human-readable description.
    pub desc: String,
}

impl CommandError {
    /// Read the `error` member of a reply; `None` when it lacks a string `class` or `desc`.
    pub(crate) fn from_reply(error: &Value) -> Option<CommandError> {
        Some(CommandError {
            class: error.get("class")?.as_str()?.to_owned(),
            desc: error.get("desc")?.as_str()?.to_owned(),
        })
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class, self.desc)
    }
}

impl std::error::Error for CommandError {}

/// Why a QMP operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QmpError {
    /// Reading from or writing to the QMP socket failed.
    #[error("QMP socket I/O failed")]
    Io(#[source] std::io::Error),
    /// QEMU closed the connection (end of file), or it was closed locally with [`Qmp::close`].
    ///
    /// [`Qmp::close`]: crate::Qmp::close
    #[error("QMP connection closed (QEMU closed it or it exited)")]
    Closed,
    /// QEMU sent something that is not QMP: a line that is not JSON, a JSON value that
    /// is not an object, a truncated line at end of file, or a missing or invalid greeting.
    #[error("QMP protocol error: {detail}")]
    Protocol {
        /// What was wrong, with (the start of) the offending data.
        detail: String,
    },
    /// QEMU sent a line longer than the configured limit ([`Options::max_line`]).
    ///
    /// [`Options::max_line`]: crate::Options::max_line
    #[error("QMP line longer than {limit} bytes")]
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The deadline passed first.
    #[error("timed out waiting for {waiting_for}")]
    Timeout {
        /// What was awaited, e.g. `reply to query-status`, plus what was last received.
        waiting_for: String,
    },
    /// QEMU answered the command with an error (only from [`Qmp::execute`] and helpers
    /// built on it; [`Qmp::execute_raw`] returns it as a value).
    ///
    /// [`Qmp::execute`]: crate::Qmp::execute
    /// [`Qmp::execute_raw`]: crate::Qmp::execute_raw
    #[error("QEMU refused the command")]
    Command(#[source] CommandError),
}
