//! Connecting, running commands and copying files.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use russh::client;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect, Sig};
use tokio::sync::oneshot;

use crate::{AttemptError, KeyPair, SshError};

/// Upper bound of one connection attempt (TCP connect, handshake and
/// authentication), so that a port that accepts but never answers (as a
/// QEMU user-network forward does before the guest is up) is retried.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(30);
/// The first attempt gets at least this long even when the deadline is nearer.
const FIRST_ATTEMPT_MIN: Duration = Duration::from_secs(1);
/// Lower bound of the pause between attempts.
const MIN_RETRY_INTERVAL: Duration = Duration::from_millis(10);
/// How long [`Session::close`] and a timed-out [`Session::run`] wait for the
/// server to take their last messages.
const GOODBYE_LIMIT: Duration = Duration::from_secs(2);
/// Keepalives detect a connection whose peer vanished without a reset.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_MAX: usize = 6;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The SSH server's address (for a guest, usually a forwarded host port).
    pub addr: SocketAddr,
    /// The user to log in as.
    pub user: String,
    /// Expected host key, OpenSSH public key text
    /// (`"ssh-ed25519 AAAA... [comment]"`). When `Some`, any other host key is
    /// refused with [`SshError::HostKeyMismatch`], which is not retried. When
    /// `None` any host key is accepted.
    pub host_key: Option<String>,
    /// When to stop retrying.
    pub deadline: Instant,
    /// Pause between attempts, e.g. 250 ms.
    pub retry_interval: Duration,
}

impl ConnectOptions {
    /// Options with no pinned host key, a deadline `timeout` from now and a
    /// 250 ms retry interval.
    pub fn new(addr: SocketAddr, user: impl Into<String>, timeout: Duration) -> ConnectOptions {
        ConnectOptions {
            addr,
            user: user.into(),
            host_key: None,
            deadline: Instant::now() + timeout,
            retry_interval: Duration::from_millis(250),
        }
    }
}

/// What a command did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Everything the command wrote to standard output.
    pub stdout: Vec<u8>,
    /// Everything the command wrote to standard error.
    pub stderr: Vec<u8>,
    /// The exit status, when the command exited normally.
    pub exit_code: Option<i32>,
    /// The signal name without `SIG` (e.g. `"KILL"`), when the command was
    /// killed by a signal.
    pub signal: Option<String>,
    /// Wall-clock time from opening the channel to its close (or the timeout).
    pub duration: Duration,
    /// The timeout passed before the command finished; the output is whatever
    /// had arrived by then.
    pub timed_out: bool,
}

impl CommandOutput {
    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// True when the command exited with status 0 before the timeout.
    pub fn success(&self) -> bool {
        !self.timed_out && self.exit_code == Some(0)
    }

    /// The outcome in words: "exit status 1", "killed by signal KILL",
    /// "timed out after 5s".
    pub fn status_text(&self) -> String {
        if self.timed_out {
            format!("timed out after {:.1?}", self.duration)
        } else if let Some(signal) = &self.signal {
            format!("killed by signal {signal}")
        } else if let Some(code) = self.exit_code {
            format!("exit status {code}")
        } else {
            "no exit status".to_owned()
        }
    }
}

/// Checks the server's host key against the pinned one, remembering what a
/// refused server presented so that [`Session::connect`] can say so.
struct Verifier {
    expected: Option<PublicKey>,
    refused: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        presented: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let Some(expected) = &self.expected else {
            return Ok(true);
        };
        let (accepted, description) = match presented {
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                (key.key_data() == expected.key_data(), describe_key(key))
            }
            PublicKeyOrCertificate::Certificate(cert) => (
                false,
                format!("a {} certificate", cert.algorithm().as_str()),
            ),
        };
        if !accepted {
            *lock(&self.refused) = Some(description);
        }
        Ok(accepted)
    }
}

fn describe_key(key: &PublicKey) -> String {
    format!(
        "{} {}",
        key.algorithm().as_str(),
        key.fingerprint(HashAlg::Sha256)
    )
}

/// Locks a mutex, ignoring poisoning: the data behind our mutexes stays
/// consistent even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A current-thread tokio runtime driven by its own thread, so that the
/// connection is serviced (keepalives, window updates) between calls too.
/// Callers block on futures through the runtime's handle.
struct Driver {
    handle: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Driver {
    fn start() -> Result<Driver, SshError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(SshError::Runtime)?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("kennel-ssh-io".to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    // Either a stop message or the sender being dropped.
                    let _ = stopped.await;
                });
                // Dropping the runtime here (not in an async context) ends
                // the connection task and closes its socket.
                drop(runtime);
            })
            .map_err(SshError::Runtime)?;
        Ok(Driver {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

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

/// Outcome of one attempt: retry, or give up at once.
enum AttemptOutcome {
    Retry(AttemptError),
    Fatal(SshError),
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
    pub fn run(
        &self,
        command: &str,
        stdin: &[u8],
        timeout: Duration,
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
        let output = self.run(&command, &[], timeout)?;
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

fn client_config(expected: Option<&PublicKey>) -> client::Config {
    let mut preferred = russh::Preferred::default();
    if let Some(expected) = expected {
        // Ask for the pinned key's algorithm first, so that a server with
        // several host keys presents the one we can compare.
        let want = std::mem::discriminant(&expected.algorithm());
        let mut keys = preferred.key.to_vec();
        keys.sort_by_key(|alg| std::mem::discriminant(alg) != want);
        preferred.key = Cow::Owned(keys);
    }
    client::Config {
        preferred,
        keepalive_interval: Some(KEEPALIVE_INTERVAL),
        keepalive_max: KEEPALIVE_MAX,
        nodelay: true,
        ..Default::default()
    }
}

async fn attempt(
    config: Arc<client::Config>,
    opts: &ConnectOptions,
    key: Arc<PrivateKey>,
    expected: Option<PublicKey>,
    budget: Duration,
) -> Result<client::Handle<Verifier>, AttemptOutcome> {
    let refused = Arc::new(Mutex::new(None));
    let verifier = Verifier {
        refused: Arc::clone(&refused),
        expected: expected.clone(),
    };
    let steps = async {
        let tcp = tokio::net::TcpStream::connect(opts.addr)
            .await
            .map_err(AttemptError::Tcp)?;
        let _ = tcp.set_nodelay(true);
        let mut handle = client::connect_stream(config, tcp, verifier)
            .await
            .map_err(|e| AttemptError::Handshake(Box::new(e)))?;
        let auth = handle
            .authenticate_publickey(opts.user.clone(), PrivateKeyWithHashAlg::new(key, None))
            .await
            .map_err(|e| AttemptError::Auth(Box::new(e)))?;
        if !auth.success() {
            return Err(AttemptError::AuthRejected {
                user: opts.user.clone(),
            });
        }
        Ok(handle)
    };
    let result = match tokio::time::timeout(budget, steps).await {
        Ok(result) => result,
        Err(_) => Err(AttemptError::Timeout(budget)),
    };
    result.map_err(|err| match (lock(&refused).take(), expected) {
        (Some(presented), Some(expected)) => AttemptOutcome::Fatal(SshError::HostKeyMismatch {
            addr: opts.addr,
            expected: describe_key(&expected),
            presented,
        }),
        _ => AttemptOutcome::Retry(err),
    })
}

/// Everything collected from one command's channel.
#[derive(Default)]
struct Collected {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    exit_code: Option<i32>,
    signal: Option<String>,
}

async fn run_command(
    handle: &mut client::Handle<Verifier>,
    addr: SocketAddr,
    command: &str,
    stdin: &[u8],
    timeout: Duration,
) -> Result<CommandOutput, SshError> {
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut collected = Collected::default();
    let finish = |collected: Collected, timed_out: bool| CommandOutput {
        stdout: collected.stdout,
        stderr: collected.stderr,
        exit_code: collected.exit_code,
        signal: collected.signal,
        duration: start.elapsed(),
        timed_out,
    };

    let channel = match tokio::time::timeout_at(deadline, handle.channel_open_session()).await {
        Err(_) => return Ok(finish(collected, true)),
        Ok(Ok(channel)) => channel,
        Ok(Err(err)) => {
            return Err(protocol_error(handle, addr, command, "channel open", err).await)
        }
    };
    let (mut reader, writer) = channel.split();
    match tokio::time::timeout_at(deadline, writer.exec(true, command)).await {
        Err(_) => return Ok(finish(collected, true)),
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            return Err(protocol_error(handle, addr, command, "exec request", err).await)
        }
    }

    // Standard input goes in its own task so that output keeps being read
    // while the server's window is full. Its errors are ignored: a command
    // may well exit without reading all of its input.
    let writer = Arc::new(writer);
    let feeder = {
        let writer = Arc::clone(&writer);
        let data = stdin.to_vec();
        tokio::spawn(async move {
            if !data.is_empty() {
                let _ = writer.data_bytes(data).await;
            }
            let _ = writer.eof().await;
        })
    };

    let mut timed_out = false;
    let mut refused = false;
    loop {
        let msg = match tokio::time::timeout_at(deadline, reader.wait()).await {
            Err(_) => {
                timed_out = true;
                break;
            }
            Ok(None) => break,
            Ok(Some(msg)) => msg,
        };
        match msg {
            ChannelMsg::Data { data } => collected.stdout.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, ext: 1 } => collected.stderr.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => {
                collected.exit_code = Some(i32::try_from(exit_status).unwrap_or(i32::MAX));
            }
            ChannelMsg::ExitSignal { signal_name, .. } => {
                collected.signal = Some(signal_text(&signal_name));
            }
            ChannelMsg::Failure => {
                // The only request we sent with want_reply is exec.
                refused = true;
                break;
            }
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    feeder.abort();

    if timed_out || refused {
        let _ = tokio::time::timeout(GOODBYE_LIMIT, async {
            if timed_out {
                let _ = writer.signal(Sig::KILL).await;
            }
            let _ = writer.close().await;
        })
        .await;
    }
    if refused {
        return Err(SshError::ExecRefused {
            command: command.to_owned(),
        });
    }
    if timed_out {
        return Ok(finish(collected, true));
    }
    if collected.exit_code.is_none() && collected.signal.is_none() {
        if handle.is_closed() {
            return Err(SshError::ConnectionLost {
                addr,
                command: command.to_owned(),
                cause: disconnect_cause(handle).await,
            });
        }
        return Err(SshError::NoExitStatus {
            command: command.to_owned(),
        });
    }
    Ok(finish(collected, false))
}

/// Maps a failed protocol step to an error, telling a lost connection apart.
async fn protocol_error(
    handle: &mut client::Handle<Verifier>,
    addr: SocketAddr,
    command: &str,
    action: &'static str,
    err: russh::Error,
) -> SshError {
    if handle.is_closed() {
        let cause = disconnect_cause(handle)
            .await
            .or_else(|| Some(Box::new(err)));
        SshError::ConnectionLost {
            addr,
            command: command.to_owned(),
            cause,
        }
    } else {
        SshError::Protocol {
            action,
            command: command.to_owned(),
            source: Box::new(err),
        }
    }
}

/// Why the connection task ended, if it says. Must be called at most once
/// per handle (the handle is marked lost afterwards).
async fn disconnect_cause(handle: &mut client::Handle<Verifier>) -> Option<crate::BoxError> {
    match tokio::time::timeout(GOODBYE_LIMIT, &mut *handle).await {
        Ok(Err(err)) => Some(Box::new(err)),
        Ok(Ok(())) | Err(_) => None,
    }
}

fn signal_text(sig: &Sig) -> String {
    let name = match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(name) => name.as_str(),
    };
    name.to_owned()
}

fn check_copy(
    op: &'static str,
    path: &str,
    output: &CommandOutput,
    timeout: Duration,
) -> Result<(), SshError> {
    if output.timed_out {
        return Err(SshError::GuestTimeout {
            op,
            path: path.to_owned(),
            timeout,
        });
    }
    if !output.success() {
        return Err(SshError::GuestCommand {
            op,
            path: path.to_owned(),
            status: output.status_text(),
            stderr: output.stderr_text().trim().to_owned(),
        });
    }
    Ok(())
}

/// Quotes `path` for a POSIX shell: single quotes, with `'` written as
/// `'\''`, and a `./` prefix when it starts with `-` so that commands do not
/// take it for an option.
pub(crate) fn shell_quote_path(path: &str) -> String {
    let mut quoted = String::with_capacity(path.len() + 4);
    quoted.push('\'');
    if path.starts_with('-') {
        quoted.push_str("./");
    }
    for c in path.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote_path("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote_path("it's"), "'it'\\''s'");
        assert_eq!(shell_quote_path("-rf"), "'./-rf'");
        assert_eq!(shell_quote_path("$(x)`y`"), "'$(x)`y`'");
    }

    #[test]
    fn status_text() {
        let mut out = CommandOutput {
            exit_code: Some(3),
            ..Default::default()
        };
        assert_eq!(out.status_text(), "exit status 3");
        assert!(!out.success());
        out.exit_code = Some(0);
        assert!(out.success());
        out.timed_out = true;
        assert!(!out.success());
        out.timed_out = false;
        out.exit_code = None;
        out.signal = Some("KILL".into());
        assert_eq!(out.status_text(), "killed by signal KILL");
    }

    #[test]
    fn session_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Session>();
        check::<KeyPair>();
        check::<SshError>();
    }
}
