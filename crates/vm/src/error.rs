//! [`VmError`]: why a machine could not be made ready, each cause typed down
//! to the leaf crate's error. Messages say what was being done and leave the
//! cause to the `source()` chain: a front end reports
//! `kennel_machine::error_chain` of it.

use std::sync::Arc;

use kennel_machine::{MachineError, QmpError};

use crate::cloud::CloudSetupError;
use crate::guest::GuestProblem;

/// Why a machine could not be made ready. Each kind maps to one verdict: see
/// the variants.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// A piece is not installed here (the guest's kernel or busybox, the
    /// foreign-architecture pieces): the test SKIPs with this reason.
    #[error(transparent)]
    Unavailable(GuestProblem),
    /// Building the guest, the overlay or the seed failed (ERROR).
    #[error("machine `{machine}`")]
    Prepare {
        /// The machine's name.
        machine: String,
        /// Why.
        #[source]
        source: PrepareError,
    },
    /// QEMU did not start or did not connect (ERROR).
    #[error("machine `{machine}`")]
    Launch {
        /// The machine's name.
        machine: String,
        /// Why.
        #[source]
        source: MachineError,
    },
    /// kennel could not do its part after the launch (ERROR).
    #[error("machine `{machine}`")]
    Setup {
        /// The machine's name.
        machine: String,
        /// Why.
        #[source]
        source: SetupError,
    },
    /// The guest did not come up by the deadline, or QEMU died first, or its
    /// console showed a failure pattern (FAIL, or INTERRUPTED when the test's
    /// own time ran out). `why` says what was awaited, how QEMU ended and what
    /// the console showed last, on the message's first line.
    #[error("the guest of `{machine}` did not come up: {why}{}", console_tail(.console))]
    NotUp {
        /// The machine's name.
        machine: String,
        /// What was awaited and what happened.
        why: String,
        /// The console's last lines (empty when `why` already holds them).
        console: String,
    },
}

/// Why a machine's files could not be made before its launch.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// `channel = "agent"` on a machine whose guest has no agent.
    #[error(
        "`channel = \"agent\"` needs the built-in guest (`guest = \"busybox\"`) on an \
         architecture with the agent"
    )]
    AgentWithoutGuest,
    /// The built-in guest could not be built.
    #[error("building the guest failed")]
    Guest(#[source] GuestProblem),
    /// The image's path could not be made absolute.
    #[error("the image's path")]
    ImagePath(#[source] std::io::Error),
    /// The job's key, the overlay or the cloud-init seed could not be made.
    #[error(transparent)]
    Cloud(Box<CloudSetupError>),
    /// The wrapper does not read as a command line.
    #[error("the wrapper {0:?} is not a valid shell command line")]
    Wrapper(String),
    /// No UEFI firmware for the machine, or its variables could not be copied.
    #[error(transparent)]
    Firmware(Box<kennel_machine::firmware::FirmwareError>),
    /// No port could be found for the gdbstub.
    #[error("no free port for the gdbstub")]
    GdbPort(#[source] std::io::Error),
}

/// Why kennel could not do its part after the launch.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The machine's console is not captured.
    #[error(transparent)]
    Console(Box<MachineError>),
    /// QEMU did not connect the agent's socket.
    #[error("the agent's socket was not connected")]
    NoAgentSocket,
    /// A cloud machine without its seed.
    #[error("the machine has no cloud-init seed")]
    NoSeed,
    /// The phone-home server did not start.
    #[error(transparent)]
    PhoneHome(Arc<kennel_cloud::CloudError>),
    /// No QMP session to ask for the forwarded SSH port.
    #[error("no QMP to ask for the SSH port")]
    NoQmp(#[source] Box<MachineError>),
    /// `info usernet` failed.
    #[error("`info usernet`")]
    Usernet(#[source] Box<QmpError>),
    /// `info usernet` shows no forward to port 22 (its output).
    #[error("`info usernet` shows no forward to the guest's port 22:\n{0}")]
    NoSshForward(String),
    /// A restored guest's SSH did not take the template's key.
    #[error("SSH on 127.0.0.1:{port} with the template's key")]
    TemplateSsh {
        /// The forwarded port.
        port: u16,
        /// Why.
        #[source]
        source: Box<kennel_ssh::SshError>,
    },
    /// The job's key could not be added to the guest's `authorized_keys`.
    #[error("authorizing the job's key")]
    AuthorizeKey(#[source] Box<kennel_ssh::SshError>),
    /// The command adding the job's key failed.
    #[error("authorizing the job's key: {status} {stderr}")]
    AuthorizeKeyRefused {
        /// How it ended.
        status: String,
        /// Its stderr, trimmed.
        stderr: String,
    },
}

fn console_tail(console: &str) -> String {
    if console.is_empty() {
        String::new()
    } else {
        format!("\nlast console lines:\n{console}")
    }
}
