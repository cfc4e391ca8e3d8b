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

mod asset;
mod channel;
pub mod cloud;
mod console_shell;
mod debug;
mod desc;
mod error;
mod firmware;
pub mod guest;
mod input;
mod log;
pub mod migrate;
pub mod network;
mod pause;
mod start;
mod vm;
pub mod warm;

pub use asset::{
    cloud_image_asset, process_asset_policy, resolve_asset, resolve_cloud_asset, AssetProblem,
    CloudAssetError, NotCachedCause,
};
pub use channel::{signal_name, ChannelError, ChannelKind, CommandResult, CommandStatus};
pub use cloud::GUEST_USER;
pub use debug::{tell, Artifacts, GdbStub, ARTIFACT_LIMIT};
pub use desc::{BuiltinGuest, Deadlines, MachineDesc, Workspace};
pub use error::{PrepareError, SetupError, VmError};
pub use input::{InputError, KEY_HOLD};
pub use kennel_results::{StartKind, StartRecord};
pub use kennel_spec::keys;
pub use log::TestLog;
pub use migrate::{MigrateError, Migrated, Migration, Transport};
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
