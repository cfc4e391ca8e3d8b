//! [`Error`]: what can go wrong in a test, naming what was awaited.

use kennel_machine::{CommandError, MachineError, QmpError, Value};

/// The result of a test and of every fallible call in this crate.
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

/// What a test step failed with: an [`ErrorKind`], boxed so that `Result`s stay
/// small. Displays as its kind; the cause follows in `source()` (the harness prints
/// the whole chain, [`Error::chain`]).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<ErrorKind>);

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error(Box::new(kind))
    }
}

/// Everything a test step can fail with. Each message names the machine and what
/// was awaited; the cause follows in the error's `source()` chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The machine could not be started or its guest did not come up
    /// ([`kennel_vm::VmError`] says which, with the console's last lines).
    #[error("starting machine `{machine}`")]
    Start {
        /// The machine's name.
        machine: String,
        /// Why.
        #[source]
        source: kennel_vm::VmError,
    },
    /// A migration did not complete, or the guest did not answer after it
    /// ([`kennel_vm::MigrateError`]: QEMU's `error-desc` when it failed).
    #[error("migrating `{from}` to `{to}`")]
    Migrate {
        /// The source.
        from: String,
        /// The destination.
        to: String,
        /// Why.
        #[source]
        source: kennel_vm::MigrateError,
    },
    /// A QMP exchange failed (timeout, closed connection, protocol error), or QEMU
    /// refused the command ([`QmpError::Command`] holds its class and desc).
    #[error("QMP `{command}` on `{machine}`")]
    Qmp {
        /// The machine's name.
        machine: String,
        /// The command.
        command: String,
        /// Why.
        #[source]
        source: QmpError,
    },
    /// [`Vm::qmp_err`](crate::Vm::qmp_err) expected an error and QEMU succeeded.
    #[error("QMP `{command}` on `{machine}` was expected to fail, but returned {reply}")]
    UnexpectedSuccess {
        /// The machine's name.
        machine: String,
        /// The command.
        command: String,
        /// What QEMU returned.
        reply: Value,
    },
    /// The machine failed outside a QMP command (console wait, shutdown, ...).
    #[error("{what} on `{machine}`")]
    Machine {
        /// The machine's name.
        machine: String,
        /// What the test was doing or awaiting.
        what: String,
        /// Why.
        #[source]
        source: MachineError,
    },
    /// A command or a copy in the guest could not be carried out (timeout, no
    /// channel, the channel broke), whatever channel carries it.
    #[error("{command} in the guest of `{machine}`")]
    Guest {
        /// The machine's name.
        machine: String,
        /// The command line (`` `uname -r` ``) or the copy.
        command: String,
        /// Why.
        #[source]
        source: kennel_vm::ChannelError,
    },
    /// Keys, text or mouse input could not be sent: a key name QEMU does not
    /// know, a character no US keyboard types, QEMU refused it or did not
    /// take it in time.
    #[error("{what} on `{machine}`")]
    Input {
        /// The machine's name.
        machine: String,
        /// The input (`keys ctrl-alt-f2`, `typing "root\n"`).
        what: String,
        /// Why.
        #[source]
        source: kennel_vm::InputError,
    },
    /// A distribution's cloud image could not be resolved or fetched (one
    /// that is not cached while downloads are off skips the test instead).
    #[error("fetching the disk image of machine `{machine}`")]
    Image {
        /// The machine's name.
        machine: String,
        /// Why.
        #[source]
        source: kennel_vm::AssetProblem,
    },
    /// A screen image could not be read or written (a reference, a screendump).
    #[error("{what}")]
    Screen {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: kennel_screen::ScreenError,
    },
    /// [`Vm::wait_screen`](crate::Vm::wait_screen): no reference matched in time.
    #[error("the screen of `{machine}` did not match {} (best score {score:.3} < {threshold} with region {region} found at [{}, {}]; {kept})", reference.display(), at.0, at.1)]
    ScreenMismatch {
        /// The machine's name.
        machine: String,
        /// The reference that came closest.
        reference: std::path::PathBuf,
        /// Its score.
        score: f64,
        /// The similarity needed.
        threshold: f64,
        /// The region compared.
        region: kennel_screen::Rect,
        /// Where on the screen it was found.
        at: (u32, u32),
        /// The images kept in the log folder (or why not).
        kept: String,
    },
    /// A console pattern is not a regular expression.
    #[error("bad regex {pattern:?}")]
    Regex {
        /// The pattern.
        pattern: String,
        /// Why.
        #[source]
        source: regex::Error,
    },
    /// A guest command exited non-zero where success was expected.
    #[error("`{command}` in the guest of `{machine}` failed ({status}); stderr: {stderr}")]
    CommandFailed {
        /// The machine's name.
        machine: String,
        /// The command line.
        command: String,
        /// How it ended.
        status: String,
        /// What it wrote to stderr.
        stderr: String,
    },
    /// A parameter (`KENNEL_PARAM_<NAME>`) has a value that does not parse.
    #[error("parameter `{name}` = {value:?}: {why}")]
    Param {
        /// The parameter's name.
        name: String,
        /// Its value.
        value: String,
        /// Why it does not parse.
        why: String,
    },
    /// A file-system operation of the test context failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// [`Test::wait_until`](crate::Test::wait_until) reached the test's deadline.
    #[error("timed out (test timeout {timeout:?}) waiting until {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The test's timeout.
        timeout: std::time::Duration,
    },
    /// A network could not be declared or joined (a name declared twice, a
    /// machine joining a network the test did not declare, a socket that
    /// could not be made).
    #[error("networks of the test")]
    Network(#[source] kennel_vm::network::NetworkError),
    /// The test skipped itself ([`Test::skip`](crate::Test::skip)).
    #[error("skipped: {0}")]
    Skip(String),
    /// A failure the test reports itself ([`Error::msg`]).
    #[error("{0}")]
    Message(String),
}

impl Error {
    /// A failure with a message of the test's own, e.g.
    /// `return Err(Error::msg(format!("expected {want}, got {got}")))`.
    pub fn msg(text: impl std::fmt::Display) -> Error {
        ErrorKind::Message(text.to_string()).into()
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// The reason, when the test skipped itself ([`Test::skip`](crate::Test::skip)).
    pub fn skip_reason(&self) -> Option<&str> {
        match self.kind() {
            ErrorKind::Skip(why) => Some(why),
            _ => None,
        }
    }

    /// Whether a wait ran out of time: a QMP reply or event, console text, a
    /// guest command, or [`Test::wait_until`](crate::Test::wait_until).
    pub fn is_timeout(&self) -> bool {
        use kennel_machine::WaitError;
        matches!(
            self.kind(),
            ErrorKind::Timeout { .. }
                | ErrorKind::Migrate {
                    source: kennel_vm::MigrateError::Timeout { .. },
                    ..
                }
                | ErrorKind::Qmp {
                    source: QmpError::Timeout { .. },
                    ..
                }
                | ErrorKind::Machine {
                    source: MachineError::Qmp(QmpError::Timeout { .. })
                        | MachineError::Wait(WaitError::Timeout { .. }),
                    ..
                }
                | ErrorKind::Guest {
                    source: kennel_vm::ChannelError::Timeout { .. },
                    ..
                }
        ) || matches!(self.kind(), ErrorKind::Input { source, .. } if source.is_timeout())
    }

    /// QEMU's refusal when this is a QMP command error, with its class and desc.
    pub fn command_error(&self) -> Option<&CommandError> {
        match self.kind() {
            ErrorKind::Qmp {
                source: QmpError::Command(e),
                ..
            } => Some(e),
            _ => None,
        }
    }

    /// The message with its whole `source()` chain, one cause per line.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(&format!("\n  caused by: {c}"));
            cause = c.source();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_the_command_then_qemus_refusal() {
        let e: Error = ErrorKind::Qmp {
            machine: "main".into(),
            command: "set-numa-node".into(),
            source: QmpError::Command(CommandError {
                class: "GenericError".into(),
                desc: "nope".into(),
            }),
        }
        .into();
        assert_eq!(
            e.command_error().map(|c| c.class.as_str()),
            Some("GenericError")
        );
        let chain = e.chain();
        assert!(
            chain.starts_with("QMP `set-numa-node` on `main`"),
            "{chain}"
        );
        assert!(chain.contains("nope"), "{chain}");
    }

    #[test]
    fn skip_is_recognised() {
        let e: Error = ErrorKind::Skip("no KVM".into()).into();
        assert_eq!(e.skip_reason(), Some("no KVM"));
        assert_eq!(Error::msg("x").skip_reason(), None);
    }
}
