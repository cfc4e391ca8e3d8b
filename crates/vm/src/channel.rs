//! One guest channel interface with three implementations: the kennel agent
//! (virtio-serial), a shell on the serial console, and SSH into a cloud-init
//! guest. Every command, whatever carried it, ends as one [`CommandResult`].

use std::path::Path;
use std::time::Instant;

use kennel_agent::protocol::Kind;
use kennel_agent::{AgentClient, AgentError};
use kennel_config::text::HeadTail;
use kennel_machine::{Machine, WaitError};
use kennel_ssh::Session;

/// Which channel carries commands into a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// The kennel agent of the built-in guest, on a virtio-serial port.
    Agent,
    /// A shell on the first serial console, with framed output.
    Console,
    /// SSH as the cloud-init user, with the job's key.
    Ssh,
}

impl ChannelKind {
    /// The name a test file uses (`channel = "agent"`).
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Agent => "agent",
            ChannelKind::Console => "console",
            ChannelKind::Ssh => "ssh",
        }
    }

    /// From a test file's `channel = "..."`.
    pub fn from_name(name: &str) -> Option<ChannelKind> {
        match name {
            "agent" => Some(ChannelKind::Agent),
            "console" => Some(ChannelKind::Console),
            "ssh" => Some(ChannelKind::Ssh),
            _ => None,
        }
    }
}

impl std::fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a guest command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandStatus {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it; its name without `SIG` (`"KILL"`), or `signal N`
    /// for a number without a name.
    Signaled(String),
}

impl std::fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandStatus::Exited(code) => write!(f, "exit code {code}"),
            CommandStatus::Signaled(name) => write!(f, "killed by signal {name}"),
        }
    }
}

/// What a guest command printed and how it ended.
///
/// Output of any size is held in bounded memory: each stream keeps its first
/// and last [`KEPT_OUTPUT`](kennel_config::text::KEPT_OUTPUT)` / 2` bytes
/// around a line saying how many bytes were left out
/// ([`HeadTail`](kennel_config::text::HeadTail)); checks on the output see
/// what was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandResult {
    /// Its standard output, as text (invalid UTF-8 replaced).
    pub stdout: String,
    /// Its standard error, as text.
    pub stderr: String,
    /// How it ended.
    pub status: CommandStatus,
}

impl CommandResult {
    /// It exited with code 0.
    pub fn success(&self) -> bool {
        self.status == CommandStatus::Exited(0)
    }

    /// Its exit code; `None` when a signal killed it.
    pub fn exit_code(&self) -> Option<i32> {
        match self.status {
            CommandStatus::Exited(code) => Some(code),
            CommandStatus::Signaled(_) => None,
        }
    }

    /// The name of the signal that killed it (`"KILL"`), if one did.
    pub fn signal(&self) -> Option<&str> {
        match &self.status {
            CommandStatus::Exited(_) => None,
            CommandStatus::Signaled(name) => Some(name),
        }
    }
}

/// Why a guest command gave no [`CommandResult`].
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The deadline passed first: a step's time limit (FAIL) or the test's.
    #[error("timed out waiting for {waiting_for}")]
    Timeout {
        /// What was awaited (for a console command, with the console's last lines).
        waiting_for: String,
    },
    /// The console showed one of the machine's failure patterns (a kernel panic).
    #[error("{0}")]
    ConsoleFailure(String),
    /// The machine has no such channel (`channel = "agent"` without an agent,
    /// a copy over the console).
    #[error("machine `{machine}` has no {what}")]
    Unavailable {
        /// The machine's name.
        machine: String,
        /// What is missing, in words.
        what: String,
    },
    /// The channel broke: QEMU died, the connection closed, a protocol error.
    #[error("{channel}: {why}")]
    Failed {
        /// The channel.
        channel: ChannelKind,
        /// Why, with QEMU's exit when it is gone.
        why: String,
    },
}

impl ChannelError {
    /// A failed console wait.
    pub(crate) fn from_wait(e: WaitError, m: &mut Machine) -> ChannelError {
        match e {
            WaitError::Timeout {
                what,
                last,
                source_name,
            } => ChannelError::Timeout {
                waiting_for: format!("{what} on {source_name}; last lines:\n{last}"),
            },
            WaitError::FailPattern { .. } => ChannelError::ConsoleFailure(e.to_string()),
            WaitError::Closed { .. } => ChannelError::Failed {
                channel: ChannelKind::Console,
                why: format!("{e}\n{}", m.exited_description()),
            },
            other => ChannelError::Failed {
                channel: ChannelKind::Console,
                why: other.to_string(),
            },
        }
    }
}

/// A live channel into one guest.
pub(crate) enum Channel {
    Agent(AgentClient),
    Console { commands: u64 },
    Ssh(Session),
}

impl Channel {
    pub(crate) fn kind(&self) -> ChannelKind {
        match self {
            Channel::Agent(_) => ChannelKind::Agent,
            Channel::Console { .. } => ChannelKind::Console,
            Channel::Ssh(_) => ChannelKind::Ssh,
        }
    }

    /// Run a shell command line in the guest, by `deadline`.
    pub(crate) fn run(
        &mut self,
        machine: &mut Machine,
        command: &str,
        deadline: Instant,
    ) -> Result<CommandResult, ChannelError> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let to_finish = || ChannelError::Timeout {
            waiting_for: format!("`{command}` to finish in the guest"),
        };
        match self {
            Channel::Agent(agent) => {
                let (mut stdout, mut stderr) = (HeadTail::new(), HeadTail::new());
                let ended = agent.run_streamed(command, timeout, &mut |kind, bytes| match kind {
                    Kind::Stderr => stderr.push(bytes),
                    _ => stdout.push(bytes),
                });
                match ended {
                    Ok(end) if end.timed_out => Err(to_finish()),
                    Ok(end) => Ok(CommandResult {
                        stdout: stdout.into_text(),
                        stderr: stderr.into_text(),
                        status: status(end.exit_code, end.signal.map(signal_name)),
                    }),
                    Err(e) => Err(agent_error(e, machine)),
                }
            }
            Channel::Ssh(ssh) => match ssh.run(command, b"", timeout) {
                Ok(out) if out.timed_out => Err(to_finish()),
                Ok(out) => Ok(CommandResult {
                    stdout: out.stdout_text(),
                    stderr: out.stderr_text(),
                    status: status(
                        out.exit_code,
                        out.signal
                            .as_deref()
                            .map(|s| s.trim_start_matches("SIG").to_string()),
                    ),
                }),
                Err(e) => Err(ssh_error(e)),
            },
            Channel::Console { commands } => {
                *commands += 1;
                crate::console_shell::run(machine, command, *commands, deadline)
            }
        }
    }

    /// Copy a host file into the guest (mode 0644).
    pub(crate) fn copy_in(
        &mut self,
        machine: &mut Machine,
        host_path: &Path,
        guest_path: &str,
        deadline: Instant,
    ) -> Result<(), ChannelError> {
        match self {
            Channel::Agent(agent) => agent
                .copy_in(host_path, guest_path, 0o644)
                .map_err(|e| agent_error(e, machine)),
            Channel::Ssh(ssh) => {
                let data = std::fs::read(host_path).map_err(|e| ChannelError::Failed {
                    channel: ChannelKind::Ssh,
                    why: format!("cannot read {}: {e}", host_path.display()),
                })?;
                let timeout = deadline.saturating_duration_since(Instant::now());
                ssh.copy_in(&data, guest_path, 0o644, timeout)
                    .map_err(ssh_error)
            }
            Channel::Console { .. } => Err(no_copy(machine)),
        }
    }

    /// Copy a guest file to the host.
    pub(crate) fn copy_out(
        &mut self,
        machine: &mut Machine,
        guest_path: &str,
        host_path: &Path,
        deadline: Instant,
    ) -> Result<(), ChannelError> {
        match self {
            Channel::Agent(agent) => agent
                .copy_out(guest_path, host_path)
                .map(|_| ())
                .map_err(|e| agent_error(e, machine)),
            Channel::Ssh(ssh) => {
                let timeout = deadline.saturating_duration_since(Instant::now());
                let data = ssh.copy_out(guest_path, timeout).map_err(ssh_error)?;
                std::fs::write(host_path, data).map_err(|e| ChannelError::Failed {
                    channel: ChannelKind::Ssh,
                    why: format!("cannot write {}: {e}", host_path.display()),
                })
            }
            Channel::Console { .. } => Err(no_copy(machine)),
        }
    }
}

fn status(exit_code: Option<i32>, signal: Option<String>) -> CommandStatus {
    match (exit_code, signal) {
        (Some(code), _) => CommandStatus::Exited(code),
        (None, Some(name)) => CommandStatus::Signaled(name),
        (None, None) => CommandStatus::Signaled("unknown".into()),
    }
}

fn agent_error(e: AgentError, machine: &mut Machine) -> ChannelError {
    if let AgentError::Timeout { waiting_for } = e {
        return ChannelError::Timeout { waiting_for };
    }
    let gone = if machine.is_running() {
        String::new()
    } else {
        format!("; {}", machine.exited_description())
    };
    ChannelError::Failed {
        channel: ChannelKind::Agent,
        why: format!("{}{gone}", kennel_machine::error_chain(&e)),
    }
}

fn ssh_error(e: kennel_ssh::SshError) -> ChannelError {
    ChannelError::Failed {
        channel: ChannelKind::Ssh,
        why: kennel_machine::error_chain(&e),
    }
}

fn no_copy(machine: &Machine) -> ChannelError {
    ChannelError::Unavailable {
        machine: machine.name().to_string(),
        what: "channel that copies files (the console shell cannot; the agent and SSH can)".into(),
    }
}

/// The name of signal `number` without `SIG` (`9` → `"KILL"`); `signal N` for
/// one without a name (from kennel's one signal table,
/// [`kennel_machine::process::signal_name`]).
pub fn signal_name(number: i32) -> String {
    match kennel_machine::process::signal_name(number) {
        Some(name) => name.trim_start_matches("SIG").to_string(),
        None => format!("signal {number}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_are_named_without_sig() {
        assert_eq!(signal_name(9), "KILL");
        assert_eq!(signal_name(15), "TERM");
        assert_eq!(signal_name(64), "signal 64");
    }

    #[test]
    fn a_command_killed_by_a_signal_has_no_exit_code() {
        let r = CommandResult {
            stdout: String::new(),
            stderr: String::new(),
            status: status(None, Some("KILL".into())),
        };
        assert_eq!(r.exit_code(), None);
        assert_eq!(r.signal(), Some("KILL"));
        assert!(!r.success());
        assert_eq!(r.status.to_string(), "killed by signal KILL");
    }
}
