//! The declarative step interpreter: runs one test case inside the test process,
//! turning steps into calls on the machine core (`kennel-vm`).

mod case;
mod checks;
mod machines;
mod requires;
mod steps;
mod vars;

pub use case::{run_case, skip_reason, AssetPolicy, CaseRun};
pub use requires::QemuInfo;
