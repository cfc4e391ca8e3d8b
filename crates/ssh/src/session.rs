//! [`Session`]: an authenticated connection, and the calls on it (run a
//! command, copy a file in or out, close).

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

#[cfg(doc)]
use kennel_config::text::HeadTail;
use kennel_config::text::KEPT_OUTPUT;
use russh::keys::PublicKey;
use russh::{client, Disconnect};

use crate::connect::{
    attempt, client_config, AttemptOutcome, Verifier, ATTEMPT_LIMIT, FIRST_ATTEMPT_MIN,
    MIN_RETRY_INTERVAL,
};
use crate::driver::{lock, Driver};
use crate::exec::{check_copy, run_command, shell_quote_path, GOODBYE_LIMIT};
use crate::{CommandOutput, ConnectOptions, KeyPair, SshError};

/// The connection state that calls share (serialized by a mutex).
struct Connection {
    handle: client::Handle<Verifier>,
    /// Set once the connection is known to be gone.
    lost: bool,
}

/// An authenticated SSH connection.
///
/// All methods block the calling thread; they must not be called from within
/// an async runtime. Calls from several threads are serialized.
pub struct Session {
    addr: SocketAddr,
    user: String,
    connection: Mutex<Connection>,
    // Declared last so that it is dropped last: it stops the I/O thread.
    driver: Driver,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Connects and authenticates with `key`.
    ///
    /// Retries refused or reset connections, handshake failures, attempts
    /// that hang, and authentication rejection (cloud-init may write
    /// `authorized_keys` late) every `retry_interval` until the deadline; at
    /// least one attempt is always made. The final error,
    /// [`SshError::Connect`], names the address, the number of attempts and
    /// (as its source) the last failure. A host key other than the pinned one
    /// fails at once with [`SshError::HostKeyMismatch`].
    pub fn connect(opts: &ConnectOptions, key: &KeyPair) -> Result<Session, SshError> {
        let expected = match &opts.host_key {
            Some(text) => Some(PublicKey::from_openssh(text.trim()).map_err(|e| {
                SshError::InvalidHostKey {
                    text: text.clone(),
                    source: Box::new(e),
                }
            })?),
            None => None,
        };
        let config = Arc::new(client_config(expected.as_ref()));
        let driver = Driver::start()?;
        let private = key.private();
        let retry_interval = opts.retry_interval.max(MIN_RETRY_INTERVAL);
        let start = Instant::now();
        let mut attempts: u32 = 0;
        loop {
            attempts += 1;
            let mut budget = opts
                .deadline
                .saturating_duration_since(Instant::now())
                .min(ATTEMPT_LIMIT);
            if attempts == 1 {
                budget = budget.max(FIRST_ATTEMPT_MIN);
            }
            let outcome = driver.block_on(attempt(
                Arc::clone(&config),
                opts,
                Arc::clone(&private),
                expected.clone(),
                budget,
            ));
            let last = match outcome {
                Ok(handle) => {
                    return Ok(Session {
                        addr: opts.addr,
                        user: opts.user.clone(),
                        connection: Mutex::new(Connection {
                            handle,
                            lost: false,
                        }),
                        driver,
                    })
                }
                Err(AttemptOutcome::Fatal(err)) => return Err(err),
                Err(AttemptOutcome::Retry(err)) => err,
            };
            if Instant::now() + retry_interval >= opts.deadline {
                return Err(SshError::Connect {
                    addr: opts.addr,
                    user: opts.user.clone(),
                    attempts,
                    elapsed: start.elapsed(),
                    last,
                });
            }
            std::thread::sleep(retry_interval);
        }
    }

    /// The server address this session is connected to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs `command` (a shell command line, interpreted by the user's login
    /// shell on the server) through an exec request, feeds it `stdin` and then
    /// end-of-file, and collects standard output and standard error separately
    /// together with the exit status or the name of the signal that killed it.
    ///
    /// When `timeout` passes first, the result is `Ok` with `timed_out` set
    /// and whatever output had arrived; the command is sent a KILL signal
    /// request and the channel is closed. OpenSSH honours signal requests
    /// only for non-root users, so a timed-out command of root may keep
    /// running on the guest until it writes to its closed output.
    ///
    /// A connection that goes away meanwhile gives
    /// [`SshError::ConnectionLost`]; afterwards every call fails with
    /// [`SshError::SessionLost`].
    ///
    /// Each output stream is kept in bounded memory: its first and last
    /// [`KEPT_OUTPUT`]` / 2` bytes (kennel-config's [`HeadTail`]).
    pub fn run(
        &self,
        command: &str,
        stdin: &[u8],
        timeout: Duration,
    ) -> Result<CommandOutput, SshError> {
        self.run_keeping(command, stdin, timeout, KEPT_OUTPUT)
    }

    /// [`run`](Session::run), keeping at most `keep` bytes of each output stream.
    fn run_keeping(
        &self,
        command: &str,
        stdin: &[u8],
        timeout: Duration,
        keep: usize,
    ) -> Result<CommandOutput, SshError> {
        let mut connection = lock(&self.connection);
        if connection.lost || connection.handle.is_closed() {
            connection.lost = true;
            return Err(SshError::SessionLost { addr: self.addr });
        }
        let result = self.driver.block_on(run_command(
            &mut connection.handle,
            self.addr,
            command,
            stdin,
            timeout,
            keep,
        ));
        if matches!(result, Err(SshError::ConnectionLost { .. })) {
            connection.lost = true;
        }
        result
    }

    /// Writes `data` to the guest file `guest_path` and sets its permission
    /// bits to `mode` (only the low 12 bits are used).
    ///
    /// Runs `cat > PATH && chmod MODE PATH` with `data` on standard input and
    /// the path single-quoted. A file that does not exist yet is created
    /// under umask 077, so it is never readable by others before the chmod.
    /// A non-zero exit is [`SshError::GuestCommand`] with the command's
    /// standard error; a timeout is [`SshError::GuestTimeout`].
    pub fn copy_in(
        &self,
        data: &[u8],
        guest_path: &str,
        mode: u32,
        timeout: Duration,
    ) -> Result<(), SshError> {
        let path = shell_quote_path(guest_path);
        let command = format!(
            "umask 077 && cat > {path} && chmod {:o} {path}",
            mode & 0o7777
        );
        let output = self.run(&command, data, timeout)?;
        check_copy("copy in", guest_path, &output, timeout)?;
        Ok(())
    }

    /// Reads the guest file `guest_path` (via `cat`). A non-zero exit is
    /// [`SshError::GuestCommand`] with the command's standard error; a
    /// timeout is [`SshError::GuestTimeout`].
    pub fn copy_out(&self, guest_path: &str, timeout: Duration) -> Result<Vec<u8>, SshError> {
        let command = format!("cat {}", shell_quote_path(guest_path));
        let output = self.run_keeping(&command, &[], timeout, usize::MAX)?;
        check_copy("copy out", guest_path, &output, timeout)?;
        Ok(output.stdout)
    }

    /// Disconnects politely (waiting at most a couple of seconds for the
    /// server) and stops the session's I/O thread.
    pub fn close(self) {
        let Session {
            connection, driver, ..
        } = self;
        let connection = connection
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if !connection.lost && !connection.handle.is_closed() {
            driver.block_on(async {
                let _ = tokio::time::timeout(
                    GOODBYE_LIMIT,
                    connection
                        .handle
                        .disconnect(Disconnect::ByApplication, "", "en"),
                )
                .await;
            });
        }
        drop(connection);
        drop(driver);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Session>();
        check::<KeyPair>();
        check::<SshError>();
    }
}
