//! Running one command over a session's channel, and what it gives back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::client;
use russh::{ChannelMsg, Sig};

use kennel_config::text::HeadTail;
#[cfg(doc)]
use kennel_config::text::KEPT_OUTPUT;

use crate::connect::Verifier;
use crate::SshError;

/// How long [`Session::close`](crate::Session::close) and a timed-out
/// [`Session::run`](crate::Session::run) wait for the server to take their
/// last messages.
pub(crate) const GOODBYE_LIMIT: Duration = Duration::from_secs(2);

/// What a command did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// What the command wrote to standard output: all of it, or (from
    /// [`Session::run`](crate::Session::run)) its first and last
    /// [`KEPT_OUTPUT`]` / 2` bytes around a line saying how much was left out.
    pub stdout: Vec<u8>,
    /// What the command wrote to standard error, kept like `stdout`.
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

/// Everything collected from one command's channel.
struct Collected {
    stdout: HeadTail,
    stderr: HeadTail,
    exit_code: Option<i32>,
    signal: Option<String>,
}

pub(crate) async fn run_command(
    handle: &mut client::Handle<Verifier>,
    addr: SocketAddr,
    command: &str,
    stdin: &[u8],
    timeout: Duration,
    keep: usize,
) -> Result<CommandOutput, SshError> {
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut collected = Collected {
        stdout: HeadTail::with_limit(keep),
        stderr: HeadTail::with_limit(keep),
        exit_code: None,
        signal: None,
    };
    let finish = |collected: Collected, timed_out: bool| CommandOutput {
        stdout: collected.stdout.into_bytes(),
        stderr: collected.stderr.into_bytes(),
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
            ChannelMsg::Data { data } => collected.stdout.push(&data),
            ChannelMsg::ExtendedData { data, ext: 1 } => collected.stderr.push(&data),
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

pub(crate) fn check_copy(
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

/// Quotes `path` for a POSIX shell ([`kennel_config::text::shell_quote`]),
/// with a `./` prefix when it starts with `-` so that commands do not
/// take it for an option.
pub(crate) fn shell_quote_path(path: &str) -> String {
    if path.starts_with('-') {
        kennel_config::text::shell_quote(&format!("./{path}"))
    } else {
        kennel_config::text::shell_quote(path)
    }
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
}
