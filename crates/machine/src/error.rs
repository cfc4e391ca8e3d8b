use std::path::PathBuf;

use crate::capture::WaitError;

/// Everything that can go wrong while starting, driving or stopping a machine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MachineError {
    /// No QEMU binary could be found for the target.
    #[error("no QEMU binary for {arch}: {detail}")]
    BinaryNotFound {
        /// The target architecture that was looked up.
        arch: String,
        /// Where kennel looked, and how to fix it.
        detail: String,
    },
    /// The architecture's binary on `PATH` is another QEMU than the one the run
    /// names (`--qemu`): one QEMU per run, so the architecture has no binary.
    #[error("no QEMU binary for {arch}: {detail}; --qemu-arch {arch}=PATH uses one on purpose")]
    NotTheSameQemu {
        /// The target architecture that was looked up.
        arch: String,
        /// The binary found on `PATH` and how it differs from the run's QEMU.
        detail: String,
    },
    /// The machine's TPM (swtpm) did not start.
    #[error(transparent)]
    Tpm(#[from] crate::tpm::TpmError),
    /// The private socket directory could not be made.
    #[error("cannot create the private socket directory")]
    SocketDir(#[source] std::io::Error),
    /// QEMU could not be started at all (exec failed).
    #[error("cannot start {binary}")]
    Spawn {
        /// The binary that failed to start.
        binary: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// QEMU exited (or never connected) during launch. The first line of the
    /// message carries the cause: how QEMU ended and its last stderr lines.
    #[error("QEMU failed to launch: {reason}\n  command: {cmdline}\n  exit: {exit}\n  output:\n{output}")]
    LaunchFailed {
        /// What went wrong, how QEMU ended and its last stderr lines (on one
        /// line: `QEMU exited before connecting its monitor (exit code 1):
        /// qemu-system-x86_64: -foo: invalid option`).
        reason: String,
        /// The exact command line.
        cmdline: String,
        /// How QEMU ended, if it did.
        exit: String,
        /// QEMU's last output (stderr and stdout).
        output: String,
    },
    /// A QMP exchange failed.
    #[error(transparent)]
    Qmp(#[from] kennel_qmp::QmpError),
    /// The machine has no QMP monitor (not launched, or launched to exit by itself).
    #[error("machine `{machine}` has no QMP monitor: {why}")]
    NoQmp {
        /// The machine's name.
        machine: String,
        /// Why not.
        why: String,
    },
    /// The machine has no captured console.
    #[error("machine `{machine}` has no console (set `console = true`)")]
    NoConsole {
        /// The machine's name.
        machine: String,
    },
    /// A console or output wait did not succeed.
    #[error(transparent)]
    Wait(#[from] WaitError),
    /// QEMU did not exit in time.
    #[error("QEMU did not exit within {waited:?}")]
    ExitTimeout {
        /// How long kennel waited.
        waited: std::time::Duration,
    },
    /// The machine is not running (never launched, or already exited).
    #[error("machine `{machine}` is not running")]
    NotRunning {
        /// The machine's name.
        machine: String,
    },
    /// A screendump could not be read or written.
    #[error("cannot read the screen")]
    Screen(#[from] kennel_screen::ScreenError),
    /// An I/O error talking to QEMU's process or sockets.
    #[error("I/O error on machine `{machine}`")]
    Io {
        /// The machine's name.
        machine: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
