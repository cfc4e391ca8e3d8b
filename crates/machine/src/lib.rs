//! One QEMU process, driven the way a functional test needs it.
//!
//! A [`MachineConfig`] describes what to start; [`MachineConfig::command_line`]
//! is the QEMU command it makes, as a value ([`QemuCommand`]: `-display none`, a
//! QMP monitor and an optional serial console on private sockets), without
//! starting anything; [`MachineConfig::launch`] finds the QEMU binary, runs that
//! command with the parent-death signal set, waits for it to connect, and
//! negotiates QMP. The resulting
//! [`Machine`] gives access to QMP, the console (waits for text with a deadline,
//! failure patterns, input), QEMU's own output, and its lifecycle (shutdown, kill,
//! wait for exit). Dropping a [`Machine`] kills QEMU if it is still running.
//!
//! # Examples
//!
//! ```no_run
//! use std::time::{Duration, Instant};
//! use kennel_machine::MachineConfig;
//!
//! let mut config = MachineConfig::new("main");
//! config.machine_type = Some("none".into());
//! config.extra_args = vec!["-nodefaults".into(), "-S".into()];
//! let mut vm = config.launch()?;
//! let deadline = Instant::now() + Duration::from_secs(10);
//! let status = vm.qmp()?.execute("query-status", None, deadline)?;
//! assert_eq!(status["status"], "prelaunch");
//! let exit = vm.shutdown(Duration::from_secs(5))?;
//! assert_eq!(exit.code, Some(0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod accel;
mod binary;
mod capture;
mod command_line;
mod config;
mod display;
mod error;
mod exit;
pub mod firmware;
pub mod fsutil;
#[cfg(test)]
mod fuzz;
mod install;
mod kvm_probe_x86;
mod launch;
mod logsink;
mod machine;
pub mod modules;
pub mod private_dir;
pub mod process;
pub mod same_qemu;
mod screen;
mod sockets;
pub mod tpm;
mod vnc;

pub use accel::{host_arch, probe_kvm, Accel, AccelChoice, KvmProbe};
pub use binary::{
    debian_package, find_qemu, find_qemu_user, ArchBinary, QemuBinary, QEMU_BINARY_ENV,
};
pub use capture::{on_one_line, Capture, Pattern, TextMatch, WaitError};
pub use command_line::{QemuCommand, QemuSetup, ATTACH_HMP, ATTACH_QMP, TABLET_ARGS};
pub use config::MachineConfig;
pub use display::DisplayDevice;
pub use error::MachineError;
pub use exit::ExitInfo;
pub use install::QemuInstall;
pub use kennel_qmp::{CommandError, Qmp, QmpError, Transcript, Value};
pub use kennel_screen::RgbImage;
pub use logsink::LogSink;
pub use machine::Machine;
pub use vnc::VNC_SOCKET;

/// The version in the text of QEMU's `--version`: `QEMU emulator version
/// 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)` is `(7, 2, 19)`; `None` without a
/// version.
///
/// ```
/// use kennel_machine::parse_qemu_version;
/// let debian = "QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)\n";
/// assert_eq!(parse_qemu_version(debian), Some((7, 2, 19)));
/// assert_eq!(
///     parse_qemu_version("QEMU emulator version 10.0.2 (Debian)"),
///     Some((10, 0, 2))
/// );
/// assert_eq!(parse_qemu_version(""), None);
/// ```
pub fn parse_qemu_version(text: &str) -> Option<(u64, u64, u64)> {
    let rest = text.split("version ").nth(1)?;
    let ver: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut it = ver.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    Some((it.next()?, it.next().unwrap_or(0), it.next().unwrap_or(0)))
}

/// An error and its causes on one line: `cannot read x: permission denied`.
/// A cause whose text the message already holds is not repeated.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}
