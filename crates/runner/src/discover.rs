//! Finding test files and expanding them into the cases a job runs: discovery
//! (`find.rs`), the numbered plan (`plan.rs`), and shards of it (`shard.rs`).

mod find;
mod plan;
mod shard;

pub use find::{discover, CaseEntry, Discovery, FoundFile, LoadFailure};
pub(crate) use plan::logdir_for;
pub use plan::{plan, Planned, PlannedTest};
pub use shard::{balance, keep_only, shard, shard_by_time, shard_weights};
