//! kennel's command channel into a guest: the agent that runs inside it, and the
//! host-side client.
//!
//! * [`AgentClient`] (host): waits for the agent's ready message, then runs commands
//!   ([`AgentClient::run`], [`AgentClient::run_argv`]) with stdout, stderr and the
//!   exit code or signal kept apart, copies files in and out, and pings. Every wait
//!   has a deadline; a guest that goes away ends it at once.
//! * [`guest`] (the `kennel-agent` binary): finds its virtio-serial port
//!   ([`protocol::PORT_NAME`]), announces itself and serves requests, one at a time,
//!   with per-command timeouts enforced in the guest.
//! * [`protocol`]: the framing and messages both sides speak, documented there.
//!
//! The agent is built for the guest from this workspace (same architecture as the
//! host) and needs only the C library and `libgcc_s` at run time.
#![deny(missing_docs)]

mod client;
mod error;
mod frame;
#[cfg(test)]
mod fuzz;
pub mod guest;
pub mod protocol;

pub use client::{
    AgentClient, CommandEnd, CommandOutput, DEFAULT_RESPONSE_TIMEOUT, DEFAULT_RUN_GRACE,
};
pub use error::AgentError;
pub use protocol::ReadyInfo;
