//! The declarative front end: runs one TOML test case inside its test process
//! (`kennel __run-test`), turning steps into calls on the machine core
//! (`kennel-vm`). The runner starts the process and reads its `result.json`;
//! it interprets nothing itself.
//!
//! A case (`case.rs`) prepares (`setup.rs`), launches its machines
//! (`launch.rs`) through the seam in `running.rs`, then runs its steps
//! (`steps/`: one function per step kind).
#![deny(missing_docs)]

mod case;
mod checks;
mod context;
mod launch;
mod machines;
mod process;
mod requires;
mod running;
mod setup;
mod slots;
mod steps;
mod vars;

pub use case::{run_case, CaseRun};
pub use kennel_config::AssetPolicy;
pub use process::run_test_process;
pub use requires::QemuInfo;
pub use setup::skip_reason;
