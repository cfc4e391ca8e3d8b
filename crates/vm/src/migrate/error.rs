//! [`MigrateError`]: why a migration did not happen, in QEMU's own words
//! where QEMU gave them.

use kennel_machine::{MachineError, QmpError};

/// Why a migration did not complete, or its guest does not answer after it.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The two machines are described differently: nothing was started.
    #[error(
        "machine `{to}` is not described like `{from}`, which migrates into it: {differences}"
    )]
    Different {
        /// The source.
        from: String,
        /// The destination.
        to: String,
        /// Each difference: `memory: "64M" against "128M"`.
        differences: String,
    },
    /// A machine is not in a state to take part.
    #[error("machine `{machine}` cannot take part in the migration: {why}")]
    NotReady {
        /// The machine.
        machine: String,
        /// Why.
        why: String,
    },
    /// No QMP session with a machine.
    #[error("machine `{machine}`: {source}")]
    NoMonitor {
        /// The machine.
        machine: String,
        /// Why.
        #[source]
        source: MachineError,
    },
    /// A QMP exchange failed (QEMU gone, a timeout).
    #[error("machine `{machine}`: QMP `{command}`: {source}")]
    Exchange {
        /// The machine.
        machine: String,
        /// The command.
        command: String,
        /// Why.
        #[source]
        source: QmpError,
    },
    /// QEMU refused a command: its own words.
    #[error("machine `{machine}` refused `{command}`: {desc} ({class})")]
    Refused {
        /// The machine.
        machine: String,
        /// The command and its arguments.
        command: String,
        /// QEMU's error class.
        class: String,
        /// QEMU's error description.
        desc: String,
    },
    /// The migration failed: QEMU's `error-desc`, and the destination's end.
    #[error("the migration from `{from}` to `{to}` failed: {why}")]
    Failed {
        /// The source.
        from: String,
        /// The destination.
        to: String,
        /// QEMU's reason.
        why: String,
    },
    /// The migration did not complete by the deadline; it was cancelled.
    #[error("the migration from `{from}` to `{to}` did not complete by its deadline (last `query-migrate`: {last}); {cancel}")]
    Timeout {
        /// The source.
        from: String,
        /// The destination.
        to: String,
        /// The last `query-migrate` status, summed up.
        last: String,
        /// What the cancel did.
        cancel: String,
    },
    /// A side is not in the state a completed migration leaves it in.
    #[error("after the migration, machine `{machine}` is {status}, not {expected}")]
    Status {
        /// The machine.
        machine: String,
        /// Its `query-status` status.
        status: String,
        /// The status expected.
        expected: &'static str,
    },
    /// The guest's channel did not answer on the destination.
    #[error("machine `{machine}`: the guest's {channel} channel does not answer after the migration: {why}")]
    Channel {
        /// The destination.
        machine: String,
        /// The channel.
        channel: &'static str,
        /// Why.
        why: String,
    },
}

impl MigrateError {
    /// Whether the migration ran out of time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, MigrateError::Timeout { .. })
    }

    /// Whether QEMU (or the guest) failed the migration, rather than the
    /// test asking for one that cannot start.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            MigrateError::Failed { .. }
                | MigrateError::Status { .. }
                | MigrateError::Channel { .. }
                | MigrateError::Timeout { .. }
        )
    }
}
