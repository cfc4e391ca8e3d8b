//! [`QemuTreeError`]: why a QEMU tree test cannot run, or fetch its assets.

/// Why a QEMU tree test cannot run here, or its assets could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QemuTreeError {
    /// A user-mode test whose `qemu-<arch>` the run's QEMU does not have.
    #[error("{mode} test")]
    UserMode {
        /// `linuxuser` or `bsduser`.
        mode: &'static str,
        /// Why there is no `qemu-<arch>`.
        #[source]
        source: kennel_machine::MachineError,
    },
    /// No QEMU binary for the test's architecture.
    #[error(transparent)]
    NoQemu(#[from] kennel_machine::MachineError),
    /// The precache run's scratch folder.
    #[error("cannot make a scratch folder")]
    Scratch(#[source] std::io::Error),
    /// The interpreter did not start.
    #[error("cannot start python3")]
    Python(#[source] std::io::Error),
    /// The precache run failed.
    #[error("precache exited with {status}: {tail}")]
    Precache {
        /// How it ended.
        status: std::process::ExitStatus,
        /// The last lines of its stderr.
        tail: String,
    },
}
