//! The declarative front end: runs one TOML test case inside its test process
//! (`kennel __run-test`), turning steps into calls on the machine core
//! (`kennel-vm`). The runner starts the process and reads its `result.json`;
//! it interprets nothing itself.
#![deny(missing_docs)]

mod case;
mod checks;
mod machines;
mod process;
mod requires;
mod steps;
mod vars;

pub use case::{run_case, skip_reason, CaseRun};
pub use kennel_config::AssetPolicy;
pub use process::run_test_process;
pub use requires::QemuInfo;
