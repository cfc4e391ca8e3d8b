//! The declarative step interpreter: runs one test case inside the test process.

mod case;
mod checks;
mod console_shell;
mod guest;
mod log;
mod machines;
mod requires;
mod steps;
mod vars;

pub use case::{run_case, AssetPolicy, CaseRun};
pub use requires::QemuInfo;
