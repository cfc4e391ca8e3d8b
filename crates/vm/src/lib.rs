//! kennel's machine core: one way from "a machine a test wants" to "a machine a
//! test can talk to", shared by the declarative (TOML) step interpreter and the
//! Rust test API. The front ends describe and then drive; neither launches,
//! waits or picks a channel on its own.
//!
//! ```text
//! MachineDesc ──prepare──▶ Plan ──start──▶ Vm (QEMU + QMP + console) ──ready──▶ Vm with a channel
//! (what the test asked)   (guest built,    launched, then waited on:      agent | console shell | SSH;
//!                          overlay, seed,   agent handshake, console       one CommandResult)
//!                          key, argv)       marker, or phone-home + SSH
//! ```
//!
//! Deadlines are the caller's ([`Deadlines`]); the lifecycle limits that are
//! kennel's own ([`GUEST_BOOT_LIMIT`], [`SHUTDOWN_GRACE`],
//! [`CLOUD_REPORT_RESERVE`]) are here, once.
#![deny(missing_docs)]

mod channel;
pub mod cloud;
mod console_shell;
mod debug;
mod desc;
pub mod guest;
mod log;
mod pause;
mod start;
mod vm;
pub mod warm;

pub use channel::{signal_name, ChannelError, ChannelKind, CommandResult, CommandStatus};
pub use cloud::GUEST_USER;
pub use debug::{tell, Artifacts, GdbStub, ARTIFACT_LIMIT};
pub use desc::{BuiltinGuest, Deadlines, MachineDesc, Workspace};
pub use kennel_results::{StartKind, StartRecord};
pub use log::TestLog;
pub use pause::{how_to_reach, pause_on_failure};
pub use start::{prepare, Plan, CLOUD_REPORT_RESERVE, GUEST_BOOT_LIMIT, SHUTDOWN_GRACE};
pub use vm::Vm;
pub use warm::Start;

/// The debugging settings of this process (`kennel_config::Debug`); the
/// defaults (artifacts on, nothing else) when the configuration does not load
/// (the front ends report that themselves).
pub fn debug_settings() -> kennel_config::Debug {
    kennel_config::Config::get()
        .map(|c| c.debug.clone())
        .unwrap_or(kennel_config::Debug {
            artifacts: true,
            ..kennel_config::Debug::default()
        })
}

use kennel_machine::MachineError;

/// Why a machine could not be made ready. Each kind maps to one verdict: see
/// the variants.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// A piece is not installed here (the guest's kernel or busybox, the
    /// foreign-architecture pieces): the test SKIPs with this reason.
    #[error("{0}")]
    Unavailable(String),
    /// Building the guest, the overlay or the seed failed (ERROR).
    #[error("machine `{machine}`: {why}")]
    Prepare {
        /// The machine's name.
        machine: String,
        /// Why.
        why: String,
    },
    /// QEMU did not start or did not connect (ERROR).
    #[error("machine `{machine}`: {source}")]
    Launch {
        /// The machine's name.
        machine: String,
        /// Why.
        #[source]
        source: MachineError,
    },
    /// kennel could not do its part after the launch (ERROR).
    #[error("machine `{machine}`: {why}")]
    Setup {
        /// The machine's name.
        machine: String,
        /// Why.
        why: String,
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

fn console_tail(console: &str) -> String {
    if console.is_empty() {
        String::new()
    } else {
        format!("\nlast console lines:\n{console}")
    }
}
