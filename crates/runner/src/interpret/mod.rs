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

pub use case::{run_case, skip_reason, AssetPolicy, CaseRun};
pub use requires::QemuInfo;

/// Build (or find in the cache) the built-in guest for `arch`, as `guest = "busybox"`
/// tests get it: the image, and whether it holds the agent. For `kennel guest`.
pub fn build_guest(
    arch: &str,
    kernel: Option<&std::path::Path>,
) -> Result<(kennel_guest::GuestImage, bool), String> {
    match guest::prepare(arch, kernel) {
        Ok(g) => Ok((g.image, g.agent)),
        Err(guest::GuestProblem::Missing(why) | guest::GuestProblem::Failed(why)) => Err(why),
    }
}
