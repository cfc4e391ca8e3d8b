//! A small blocking client for the QEMU Machine Protocol (QMP).
//!
//! kennel speaks QMP over the monitor socket of every QEMU it launches. This crate
//! knows nothing about launching QEMU: hand it a connected [`UnixStream`] and it
//! performs the handshake ([`Qmp::handshake`]), then lets any number of threads run
//! commands ([`Qmp::execute`], [`Qmp::hmp`]) and wait for events
//! ([`Qmp::wait_event`]), each bounded by a deadline.
//!
//! * QEMU's error replies are values ([`CommandError`]) when asked for with
//!   [`Qmp::execute_raw`], so tests can assert on them.
//! * Every message in and out is logged to a [`Transcript`].
//! * [`matches()`] implements kennel's recursive subset match, used for event
//!   patterns and by the step interpreter.
//!
//! No async runtime: one reader thread per connection routes replies to the
//! waiting callers and queues events.
//!
//! [`UnixStream`]: std::os::unix::net::UnixStream
#![deny(missing_docs)]

mod client;
mod error;
#[cfg(test)]
mod fuzz;
mod line;
mod matching;
mod reader;
mod state;
mod timestamp;
mod transcript;

pub use client::{Options, Qmp, DEFAULT_MAX_LINE};
pub use error::{CommandError, QmpError};
pub use matching::matches;
pub use serde_json::Value;
pub use transcript::Transcript;
