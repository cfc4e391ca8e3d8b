//! The results contract: the shape of every document a kennel job writes and a
//! reader reads, as serde types that every writer and reader shares.
//!
//! `docs/results.md` (and the design's `results.md`) name the files and keys;
//! this crate is the full schema, field by field. Nothing here runs a test or
//! touches QEMU: it is the ground floor, used by the runner, the machine core,
//! the reporters, the CLI and tools outside kennel alike.
#![deny(missing_docs)]

mod outcome;
mod start;
mod status;

pub use outcome::{Outcome, TestResult};
pub use start::{StartKind, StartRecord};
pub use status::{Status, Summary};
