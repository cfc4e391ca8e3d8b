//! The results contract: the shape of every document a kennel job writes and a
//! reader reads, as serde types that every writer and reader shares.
//!
//! The project's results contract (its README and `docs/ARCHITECTURE.md`) names the files and keys;
//! this crate is the full schema, field by field, and [`schemas`] gives it as
//! JSON Schema (committed as `docs/results.schema.json`). The documents:
//! `results.json` ([`ResultsFile`]), a test's `result.json` ([`Outcome`]) and
//! `start.json` ([`StartRecord`]), a line of `journal.jsonl`
//! ([`JournalEntry`]), a line of `kennel run --format json` ([`JsonEvent`]), a
//! row of `kennel list --json` ([`ListRow`]) and `attach.json`
//! ([`AttachRecord`]). Readers say why a document does not read
//! ([`ResultsError`]: the file, line and column, and the cause).
//!
//! Nothing here runs a test or touches QEMU: it is the ground floor, used by
//! the runner, the machine core, the reporters, the CLI and tools outside
//! kennel alike.
#![deny(missing_docs)]

mod attach;
mod error;
mod event;
mod journal;
mod list;
mod options;
mod outcome;
mod results_file;
mod schema;
mod start;
mod status;

pub use attach::{AttachRecord, AttachedMachine};
pub use error::{JsonError, ResultsError};
pub use event::JsonEvent;
pub use journal::JournalEntry;
pub use list::{
    CargoKind, ExecutableKind, ListRow, ListedCargoTest, ListedCase, ListedExecutable,
    ListedQemuTest, QemuFunctionalKind,
};
pub use options::RunOptions;
pub use outcome::{Outcome, TestResult};
pub use results_file::ResultsFile;
pub use schema::schemas;
pub use start::{StartKind, StartRecord};
pub use status::{Status, Summary};
