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

pub use case::{run_case, skip_reason, AssetPolicy, CaseRun, SCRATCH_NOTE};
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

/// Wire a built-in guest `image` (from [`build_guest`]) into `config` as
/// `guest = "busybox"` machines get it: kernel, initrd, command line, serial
/// console, `-no-reboot`, and with `agent` the agent's virtio-serial port on the
/// chardev socket [`GUEST_AGENT_SOCKET`] (take it with `Machine::take_socket`).
pub fn apply_guest(
    config: &mut kennel_machine::MachineConfig,
    image: &kennel_guest::GuestImage,
    agent: bool,
) {
    guest::apply(config, image, agent);
}

/// The id of the chardev socket the guest agent's port is wired to.
pub const GUEST_AGENT_SOCKET: &str = guest::AGENT_SOCKET;
