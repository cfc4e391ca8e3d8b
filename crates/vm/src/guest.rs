//! The built-in guest (`guest = "busybox"`): which kernel, busybox and agent go
//! in, and what QEMU needs to boot it with the command channel.

use std::path::{Path, PathBuf};

use kennel_config::text::shell_word;
use kennel_guest::{Arch, GuestImage, GuestSpec, KernelSource};
use kennel_machine::{DisplayDevice, MachineConfig};

/// Name of the virtio-serial port the agent listens on.
pub const AGENT_PORT: &str = "org.kennel.agent";
/// Id of the chardev socket the agent port is wired to.
pub const AGENT_SOCKET: &str = "agent";

/// A guest built for one machine.
pub struct BuiltGuest {
    /// The kernel and initramfs.
    pub image: GuestImage,
    /// The agent is in the image: wire its port and wait for it.
    pub agent: bool,
    /// Why there is no agent, for the log.
    pub note: Option<String>,
}

/// Why no guest could be built: a piece that is not installed here (SKIP,
/// [`GuestProblem::is_missing`]), or a build that failed (ERROR).
#[derive(Debug, thiserror::Error)]
pub enum GuestProblem {
    /// There is no built-in guest for the architecture (missing).
    #[error("the built-in guest exists for x86_64, aarch64 and ppc64, not {0}")]
    NoGuestFor(String),
    /// The host has no busybox (missing).
    #[error("no /bin/busybox for the built-in guest (apt-get install busybox-static)")]
    NoBusybox,
    /// The foreign architecture's pieces are not installed (missing).
    #[error("no {} guest kernel and busybox ({})", .0.name(), foreign_fix(*.0))]
    NoForeignPieces(Arch),
    /// No kernel to build the guest around (missing).
    #[error(transparent)]
    NoKernel(kennel_guest::GuestError),
    /// A machine with `tpm` and no swtpm (missing).
    #[error(
        "no swtpm for `tpm` (apt-get install {})",
        kennel_machine::tpm::SWTPM_PACKAGES
    )]
    NoSwtpm,
    /// Building failed (ERROR).
    #[error(transparent)]
    Failed(kennel_guest::GuestError),
}

impl GuestProblem {
    /// A piece is not installed here: the test SKIPs.
    pub fn is_missing(&self) -> bool {
        !matches!(self, GuestProblem::Failed(_))
    }
}

/// Where the guest pieces of a foreign architecture are: `$KENNEL_GUEST_DIR/<arch>`,
/// else `build/guest/<arch>` in the working directory or one of its parents, or in
/// the source tree that holds this program (`target/.../kennel`, or a test binary
/// in `target/debug/deps`).
pub fn foreign_tree(arch: Arch) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(d) = config().and_then(|c| c.guest_dir.as_ref()) {
        candidates.push(d.join(arch.name()));
    }
    let tree = |root: &Path| root.join("build/guest").join(arch.name());
    if let Ok(cwd) = std::env::current_dir() {
        candidates.extend(cwd.ancestors().map(tree));
    }
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).map(tree));
    }
    candidates
        .into_iter()
        .find(|d| d.join("vmlinuz").exists() && d.join("busybox").exists())
}

/// How to get the guest pieces of foreign architecture `arch`: the script of
/// the source tree kennel was built from, with its absolute path when that tree
/// is still there (an install from a checkout), and `KENNEL_GUEST_DIR` pointed
/// at what it fetched, so that a project outside the tree finds them.
pub fn foreign_fix(arch: Arch) -> String {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = source.join("scripts/fetch-foreign-guests.sh");
    match (source.canonicalize(), script.is_file()) {
        (Ok(tree), true) => {
            let out = tree.join("build/guest");
            format!(
                "fetch them as root with `{} {}`, then `export KENNEL_GUEST_DIR={}`",
                shell_word(
                    &tree
                        .join("scripts/fetch-foreign-guests.sh")
                        .to_string_lossy()
                ),
                arch.name(),
                shell_word(&out.to_string_lossy()),
            )
        }
        _ => format!(
            "run kennel's scripts/fetch-foreign-guests.sh {} as root with OUT=DIR, then \
             `export KENNEL_GUEST_DIR=DIR`",
            arch.name()
        ),
    }
}

/// The process's configuration; a broken one was reported by the front end.
fn config() -> Option<&'static kennel_config::Config> {
    kennel_config::Config::get().ok()
}

/// The agent binary to put in host-architecture guests: `$KENNEL_AGENT`, or
/// `kennel-agent` beside this kennel binary.
pub fn agent_binary() -> Option<PathBuf> {
    if let Some(p) = config().and_then(|c| c.agent.clone()) {
        return Some(p);
    }
    let exe = std::env::current_exe().ok()?;
    let candidate = exe.with_file_name("kennel-agent");
    if candidate.is_file() {
        return Some(candidate);
    }
    // A cargo test binary (`target/debug/deps/NAME-HASH`): the agent is one folder up.
    let dir = exe.parent()?;
    let up = dir.parent()?.join("kennel-agent");
    (dir.file_name()? == "deps" && up.is_file()).then_some(up)
}

/// Build (or find in the cache) the built-in guest for `arch`, with `kernel`
/// when the test names one (a file, or a Debian `linux-image-*.deb`). With a
/// `display`, the guest's console is on the screen too and a shell runs
/// there ([`screen_modules`] drive it). Under `uefi`, the x86 kernel is the
/// bzImage as shipped (the firmware's loader runs its EFI stub), not the
/// ELF `vmlinux` of a PVH boot. `nic_modules` drive the machine's
/// NICs on the test's networks ([`crate::network::guest_module`]).
pub fn build(
    arch_name: &str,
    kernel: Option<&Path>,
    display: Option<DisplayDevice>,
    uefi: bool,
    nic_modules: &[&str],
) -> Result<BuiltGuest, GuestProblem> {
    let arch =
        Arch::from_name(arch_name).ok_or_else(|| GuestProblem::NoGuestFor(arch_name.to_owned()))?;
    let host = Arch::host() == Some(arch);
    let mut spec = match (kernel, host) {
        (Some(k), _) => {
            let source = if is_deb(k) {
                KernelSource::Deb(k.to_path_buf())
            } else {
                KernelSource::Path(k.to_path_buf())
            };
            let busybox = if host {
                PathBuf::from(kennel_guest::HOST_BUSYBOX)
            } else {
                foreign_tree(arch)
                    .map(|d| d.join("busybox"))
                    .ok_or(GuestProblem::NoForeignPieces(arch))?
            };
            GuestSpec::new(arch, source, busybox)
        }
        (None, true) => GuestSpec::new(arch, KernelSource::Host, kennel_guest::HOST_BUSYBOX),
        (None, false) => {
            let tree = foreign_tree(arch).ok_or(GuestProblem::NoForeignPieces(arch))?;
            GuestSpec::from_debian_tree(arch, &tree)
        }
    };
    if host && !Path::new(kennel_guest::HOST_BUSYBOX).exists() {
        return Err(GuestProblem::NoBusybox);
    }
    let mut note = None;
    let agent = if host {
        match agent_binary() {
            Some(a) => {
                spec.agent = Some(a);
                spec.modules = vec!["virtio_pci".into(), "virtio_console".into()];
                true
            }
            None => {
                note = Some("no kennel-agent beside kennel (or $KENNEL_AGENT): commands go through the console".into());
                false
            }
        }
    } else {
        note = Some(format!(
            "no agent for {} guests (no Rust target for it here): commands go through the console",
            arch.name()
        ));
        false
    };
    spec.prefer_pvh = !uefi;
    if !nic_modules.is_empty() {
        if !spec.modules.iter().any(|m| m == "virtio_pci") {
            spec.modules.push("virtio_pci".into());
        }
        spec.modules
            .extend(nic_modules.iter().map(|m| m.to_string()));
    }
    if let Some(display) = display {
        spec.screen = true;
        spec.modules
            .extend(screen_modules(display).iter().map(|m| m.to_string()));
    }
    match GuestImage::build(&spec) {
        Ok(image) => Ok(BuiltGuest { image, agent, note }),
        Err(e @ kennel_guest::GuestError::NoKernel { .. }) => Err(GuestProblem::NoKernel(e)),
        Err(e) => Err(GuestProblem::Failed(e)),
    }
}

/// The kernel modules that drive `display`'s device with a framebuffer
/// console (the x86 guest boots through PVH, where the kernel's VGA text
/// console has no mode to start from): DRM drivers, whose framebuffer
/// emulation `fbcon` takes over. `ramfb` has no Linux driver: its screen
/// stays blank under the built-in guest.
pub fn screen_modules(display: DisplayDevice) -> &'static [&'static str] {
    match display {
        DisplayDevice::Std | DisplayDevice::Bochs => &["bochs"],
        DisplayDevice::Virtio => &["virtio_pci", "virtio_gpu"],
        DisplayDevice::Cirrus => &["cirrus"],
        DisplayDevice::Ramfb => &[],
    }
}

/// QEMU arguments for the agent's virtio-serial port.
pub fn agent_args() -> Vec<String> {
    vec![
        "-device".into(),
        "virtio-serial-pci,id=kennel-vser".into(),
        "-device".into(),
        format!("virtserialport,bus=kennel-vser.0,chardev={AGENT_SOCKET},name={AGENT_PORT}"),
    ]
}

/// Wire the built-in guest `image` into `c`: kernel, initrd and command line, the
/// serial console, `-no-reboot`, and (with `agent`) the agent's virtio-serial port
/// on the chardev socket [`AGENT_SOCKET`].
pub fn apply(c: &mut MachineConfig, image: &GuestImage, agent: bool) {
    if c.machine_type.is_none() {
        c.machine_type = Some(image.arch.default_machine().to_string());
    }
    if c.memory.is_none() {
        c.memory = Some("256M".into());
    }
    c.kernel = Some(image.kernel.clone());
    c.initrd = Some(image.initrd.clone());
    c.append = Some(match &c.append {
        Some(extra) => format!("{} {extra}", image.append),
        None => image.append.clone(),
    });
    c.console = true;
    // A guest whose init dies panics (`panic=-1`): end QEMU instead of rebooting.
    // No default devices (NIC, VGA, floppy, parallel port...): the guest gets what
    // it needs spelled out (console, agent port) and nothing a module must provide.
    for flag in ["-no-reboot", "-nodefaults"] {
        if !c.extra_args.iter().any(|a| a == flag) {
            c.extra_args.push(flag.into());
        }
    }
    if !c.extra_args.iter().any(|a| a == "-cpu") {
        c.extra_args.extend(cpu_args(image.arch));
    }
    if agent {
        c.sockets.push(AGENT_SOCKET.into());
        c.extra_args.extend(agent_args());
    }
}

/// A Debian package (an `ar` archive), by name or by content: cached assets have
/// no extension.
fn is_deb(path: &Path) -> bool {
    if path.extension().is_some_and(|e| e == "deb") {
        return true;
    }
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok_and(|()| &magic == b"!<arch>\n")
}

/// The CPU model the guest of `arch` needs where QEMU's default does not boot
/// it (`virt` has no default CPU that runs a 64-bit kernel).
fn cpu_args(arch: Arch) -> Vec<String> {
    match arch {
        Arch::Aarch64 => vec!["-cpu".into(), "cortex-a57".into()],
        _ => Vec::new(),
    }
}

/// The machine of a person's interactive session with the built-in guest
/// `image` (`kennel guest shell`): the guest wired in as for a test ([`apply`],
/// without the agent), its shell on QEMU's standard input and output instead of
/// a console socket (`-serial mon:stdio`, Ctrl-A X ends it), no monitor, `cpus`
/// and `memory` (`-m` syntax). Its command line is
/// [`MachineConfig::command_line`]'s, as for any machine.
pub fn interactive_config(image: &GuestImage, cpus: u64, memory: &str) -> MachineConfig {
    let mut c = MachineConfig::new("shell");
    c.arch = Some(image.arch.name().to_string());
    c.cpus = Some(cpus);
    c.memory = Some(memory.to_string());
    c.qmp = false;
    apply(&mut c, image, false);
    c.console = false;
    c.extra_args.extend(["-serial".into(), "mon:stdio".into()]);
    c
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use kennel_guest::{Arch, GuestImage};

    use super::interactive_config;

    fn aarch64_guest() -> GuestImage {
        GuestImage {
            arch: Arch::Aarch64,
            kernel: "/cache/vmlinuz".into(),
            initrd: "/cache/initramfs.cpio".into(),
            append: "console=ttyAMA0 quiet".into(),
            console: "ttyAMA0".into(),
            kernel_release: String::new(),
            pvh: false,
            from_cache: true,
        }
    }

    #[test]
    fn the_guest_shell_is_on_qemus_terminal_without_monitor_or_sockets() {
        let config = interactive_config(&aarch64_guest(), 2, "512M");

        let command = config.command_line(&kennel_machine::QemuSetup {
            binary: Path::new("/usr/bin/qemu-system-aarch64"),
            install: &kennel_machine::QemuInstall::default(),
            accel: "tcg",
            socket_dir: Path::new(""),
        });

        assert_eq!(
            command.to_string(),
            "/usr/bin/qemu-system-aarch64 -display none -vga none -machine virt -accel tcg \
             -smp 2 -m 512M -kernel /cache/vmlinuz -initrd /cache/initramfs.cpio \
             -append 'console=ttyAMA0 quiet' -no-reboot -nodefaults -cpu cortex-a57 \
             -serial mon:stdio"
        );
        assert_eq!(config.target_arch(), "aarch64");
    }

    #[test]
    fn the_fix_for_missing_foreign_pieces_names_the_script_the_arch_and_the_variable() {
        let fix = super::foreign_fix(Arch::Ppc64);

        assert!(
            fix.contains("scripts/fetch-foreign-guests.sh ppc64"),
            "{fix}"
        );
        assert!(fix.contains("export KENNEL_GUEST_DIR="), "{fix}");
    }
}
