//! Why a machine did not start from a template: [`Miss`], and the typed
//! reason a machine boots instead, [`WarmError`].

use std::io;
use std::path::PathBuf;

use kennel_machine::{MachineError, QmpError};

use crate::channel::{ChannelError, CommandStatus};
use crate::cloud::CloudSetupError;
use crate::VmError;

/// Why a machine did not start from a template.
pub(crate) enum Miss {
    /// The template's QEMU did not launch or its guest did not come up: a
    /// boot of the test's own would fail the same way, so this is the
    /// machine's error (the template's boot console is kept in the test's
    /// folder).
    Boot(VmError),
    /// Anything else (no cache, a failed save): the machine boots instead.
    Other(WarmError),
}

impl From<CloudSetupError> for WarmError {
    fn from(e: CloudSetupError) -> WarmError {
        WarmError::Cloud(Box::new(e))
    }
}

impl From<WarmError> for Miss {
    fn from(why: WarmError) -> Miss {
        Miss::Other(why)
    }
}

/// Why a machine could not start warm; it boots instead, and `test.log`
/// says why.
#[derive(Debug, thiserror::Error)]
pub enum WarmError {
    /// kennel has no cache directory.
    #[error("kennel has no cache directory")]
    NoCache,
    /// The QEMU binary was not found.
    #[error(transparent)]
    Binary(Box<MachineError>),
    /// A file the key hashes could not be read.
    #[error("cannot compute the template key")]
    Key(#[source] io::Error),
    /// The template's lock could not be taken.
    #[error("cannot lock template {id}")]
    Lock {
        /// The template's id.
        id: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Another process was still building the template at the deadline.
    #[error("template {0} was still being built at the deadline")]
    StillBuilding(String),
    /// A file or folder of the template could not be made or written.
    #[error("cannot create {}", path.display())]
    Create {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The built template could not be moved into place.
    #[error("cannot move the template into {}", path.display())]
    Move {
        /// Its folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The template's metadata could not be written as JSON.
    #[error(transparent)]
    Meta(serde_json::Error),
    /// A cloud recipe whose pieces were not made.
    #[error("the cloud template was not wired")]
    NotWired,
    /// The machine has no QMP session.
    #[error(transparent)]
    Qmp(Box<MachineError>),
    /// A QMP command of the save or the restore failed.
    #[error("{command}")]
    QmpCommand {
        /// The command.
        command: &'static str,
        /// Why.
        #[source]
        source: Box<QmpError>,
    },
    /// QEMU ended the migration that saves the state (`failed`, `cancelled`).
    #[error("saving the state {outcome}: {why}")]
    SaveFailed {
        /// How the migration ended.
        outcome: String,
        /// QEMU's `error-desc`.
        why: String,
    },
    /// The state was not saved by the deadline.
    #[error("timed out saving the state")]
    SaveTimeout,
    /// The console shell of a guest without an agent did not answer.
    #[error("the console shell did not answer")]
    ConsoleSilent(#[source] Box<ChannelError>),
    /// The console shell's first command failed.
    #[error("the console shell's first command ended with {0}")]
    ConsoleCommand(CommandStatus),
    /// A restored QEMU was still loading the state when its time to answer ran out.
    #[error("the restored machine was still loading its state when its time to answer ran out")]
    StillLoading(#[source] Option<Box<QmpError>>),
    /// A restored QEMU is neither loading nor paused.
    #[error("the restored machine is {0}, not paused")]
    NotPaused(String),
    /// The restore's QEMU did not start.
    #[error(transparent)]
    Launch(Box<MachineError>),
    /// A cloud guest restored without the job's key.
    #[error("a cloud guest needs the job's key")]
    NoJobKey,
    /// An SSH guest is reached with its key, not through the agent.
    #[error("an SSH guest is reached with its key (reconnect_ssh)")]
    SshNotAgent,
    /// QEMU did not connect the agent's socket.
    #[error("the agent's socket was not connected")]
    NoAgentSocket,
    /// The restored guest's agent did not answer.
    #[error(transparent)]
    Agent(Box<kennel_agent::AgentError>),
    /// The host's clock is before 1970.
    #[error(transparent)]
    Clock(std::time::SystemTimeError),
    /// The host's random bytes could not be read.
    #[error("cannot read the host's /dev/urandom")]
    Urandom(#[source] io::Error),
    /// The restored machine has no guest channel.
    #[error("no channel")]
    NoChannel,
    /// The identity refresh through the shell could not run.
    #[error(transparent)]
    Channel(Box<ChannelError>),
    /// The identity refresh through the shell failed.
    #[error("`{command}`: {status} {stderr}")]
    Refresh {
        /// The command line.
        command: String,
        /// How it ended.
        status: CommandStatus,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// The template's key could not be made.
    #[error("cannot make the template's key")]
    MakeKey(#[source] Box<kennel_ssh::SshError>),
    /// The template's key could not be written.
    #[error("cannot write {}", path.display())]
    WriteKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<kennel_ssh::SshError>,
    },
    /// The template's key could not be read, or its (or the restore's)
    /// overlay or seed could not be made.
    #[error(transparent)]
    Cloud(Box<CloudSetupError>),
    /// The template of a cloud recipe is not reached over SSH.
    #[error("the template's guest is not reached over SSH")]
    NotSsh,
    /// A template keeping its memory in a file, for a machine whose memory
    /// cannot be (the key rules this out).
    #[error("the template's memory is in a file, but {0}")]
    RamPlan(String),
    /// The restored cloud guest could not be reached.
    #[error(transparent)]
    Reconnect(Box<VmError>),
}
