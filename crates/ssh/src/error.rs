//! The error types of this crate.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A boxed cause from a lower layer (the SSH protocol library, key encoding).
///
/// Boxed so that this crate's public API does not name the types of the SSH
/// library it is built on.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in this crate.
///
/// Messages say what was being done; the underlying cause, when there is one,
/// is the [`source`](std::error::Error::source) and is not repeated in the
/// message. Print the whole chain to see both.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SshError {
    /// The operating system did not provide randomness for a new key.
    #[error("could not get randomness for a new SSH key")]
    Randomness(#[source] getrandom::Error),

    /// A key could not be encoded (should not happen for ed25519 keys).
    #[error("could not encode the SSH key")]
    KeyEncoding(#[source] BoxError),

    /// The private key file could not be created or written.
    #[error("could not write private key file {}", path.display())]
    WriteKey {
        /// The file that was being written.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },

    /// The private key file could not be read.
    #[error("could not read private key file {}", path.display())]
    ReadKey {
        /// The file that was being read.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },

    /// The private key file is not an OpenSSH private key this crate can use.
    #[error("{} is not a usable OpenSSH private key", path.display())]
    ParseKey {
        /// The file that was parsed.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: BoxError,
    },

    /// The private key file is protected by a passphrase, which is not supported.
    #[error("private key file {} is passphrase-protected", path.display())]
    EncryptedKey {
        /// The offending file.
        path: PathBuf,
    },

    /// [`ConnectOptions::host_key`](crate::ConnectOptions::host_key) is not an
    /// OpenSSH public key line.
    #[error("expected host key {text:?} is not an OpenSSH public key")]
    InvalidHostKey {
        /// The text as given.
        text: String,
        /// What the parser said.
        #[source]
        source: BoxError,
    },

    /// The thread that drives the session's I/O could not be started.
    #[error("could not start the SSH I/O thread")]
    Runtime(#[source] std::io::Error),

    /// The server presented a host key other than the pinned one. Never retried.
    #[error(
        "host key of {addr} does not match: expected {expected}, server presented {presented}"
    )]
    HostKeyMismatch {
        /// The server's address.
        addr: SocketAddr,
        /// Algorithm and SHA256 fingerprint of the pinned key.
        expected: String,
        /// Algorithm and SHA256 fingerprint of the key the server presented.
        presented: String,
    },

    /// No session could be set up before the deadline; the source is the
    /// failure of the last attempt.
    #[error("no SSH session to {user}@{addr} after {attempts} attempt(s) in {elapsed:.1?}")]
    Connect {
        /// The server's address.
        addr: SocketAddr,
        /// The user name that was tried.
        user: String,
        /// How many attempts were made.
        attempts: u32,
        /// Time from the first attempt until giving up.
        elapsed: Duration,
        /// Why the last attempt failed.
        #[source]
        last: AttemptError,
    },

    /// An SSH protocol step failed on an otherwise live connection.
    #[error("SSH {action} failed while running {command:?}")]
    Protocol {
        /// What was being done, e.g. "channel open".
        action: &'static str,
        /// The command line involved.
        command: String,
        /// The protocol library's error.
        #[source]
        source: BoxError,
    },

    /// The server refused the exec request.
    #[error("server refused to run {command:?}")]
    ExecRefused {
        /// The command line that was refused.
        command: String,
    },

    /// The connection went away while a command was running (or starting).
    #[error("SSH connection to {addr} lost while running {command:?}")]
    ConnectionLost {
        /// The server's address.
        addr: SocketAddr,
        /// The command that was running.
        command: String,
        /// Why the connection ended, when the protocol library knows.
        #[source]
        cause: Option<BoxError>,
    },

    /// The session had already lost its connection before this call.
    #[error("SSH session to {addr} was already lost")]
    SessionLost {
        /// The server's address.
        addr: SocketAddr,
    },

    /// The server closed the command's channel without reporting an exit
    /// status or signal.
    #[error("channel closed without an exit status while running {command:?}")]
    NoExitStatus {
        /// The command that was running.
        command: String,
    },

    /// A file copy command on the guest failed.
    #[error("{op} of guest file {path:?} failed ({status}); stderr: {stderr:?}")]
    GuestCommand {
        /// "copy in" or "copy out".
        op: &'static str,
        /// The guest path.
        path: String,
        /// The exit status or signal, in words.
        status: String,
        /// The command's standard error, lossily decoded and trimmed.
        stderr: String,
    },

    /// A file copy command on the guest did not finish in time.
    #[error("{op} of guest file {path:?} did not finish within {timeout:?}")]
    GuestTimeout {
        /// "copy in" or "copy out".
        op: &'static str,
        /// The guest path.
        path: String,
        /// The timeout that passed.
        timeout: Duration,
    },
}

/// Why one connection attempt failed (the source of [`SshError::Connect`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttemptError {
    /// The TCP connection could not be made (refused, reset, unreachable...).
    #[error("TCP connect failed")]
    Tcp(#[source] std::io::Error),

    /// The TCP connection was made but the SSH handshake failed (for example
    /// the server closed it before or during key exchange).
    #[error("SSH handshake failed")]
    Handshake(#[source] BoxError),

    /// The authentication exchange itself failed.
    #[error("SSH authentication exchange failed")]
    Auth(#[source] BoxError),

    /// The server rejected the key (for example because authorized_keys is not
    /// written yet).
    #[error("public key authentication as {user:?} was rejected")]
    AuthRejected {
        /// The user name that was tried.
        user: String,
    },

    /// The attempt did not complete within its time budget.
    #[error("attempt did not complete within {0:.1?}")]
    Timeout(Duration),
}
