//! Guest architectures and what differs between them: the console, the ELF
//! machine, the library directories.

use std::fmt;
use std::path::PathBuf;

use crate::GuestError;

/// A guest architecture, by QEMU's `qemu-system-*` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// `qemu-system-x86_64` (`pc`, `q35`).
    X86_64,
    /// `qemu-system-aarch64` (`virt`).
    Aarch64,
    /// `qemu-system-ppc64` (`pseries`), little-endian (Debian's `ppc64el`).
    Ppc64,
}

impl Arch {
    /// Every architecture kennel builds guests for.
    pub const ALL: [Arch; 3] = [Arch::X86_64, Arch::Aarch64, Arch::Ppc64];

    /// The QEMU name: `x86_64`, `aarch64`, `ppc64` (as in `qemu-system-<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Ppc64 => "ppc64",
        }
    }

    /// Parses a QEMU architecture name (`x86_64`, `aarch64`, `ppc64`); Debian's
    /// names (`amd64`, `arm64`, `ppc64el`) are accepted too.
    pub fn from_name(name: &str) -> Option<Arch> {
        match name {
            "x86_64" | "amd64" => Some(Arch::X86_64),
            "aarch64" | "arm64" => Some(Arch::Aarch64),
            "ppc64" | "ppc64le" | "ppc64el" => Some(Arch::Ppc64),
            _ => None,
        }
    }

    /// The architecture of the machine kennel runs on, when it is one of [`Arch::ALL`].
    pub fn host() -> Option<Arch> {
        Arch::from_name(std::env::consts::ARCH)
    }

    /// Debian's name for the architecture (`amd64`, `arm64`, `ppc64el`).
    pub fn debian_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
            Arch::Ppc64 => "ppc64el",
        }
    }

    /// The machine type kennel uses when a test names none.
    pub fn default_machine(self) -> &'static str {
        match self {
            Arch::X86_64 => "pc",
            Arch::Aarch64 => "virt",
            Arch::Ppc64 => "pseries",
        }
    }

    /// The multiarch tuple of the architecture's libraries (`x86_64-linux-gnu`, ...).
    pub fn multiarch(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-linux-gnu",
            Arch::Aarch64 => "aarch64-linux-gnu",
            Arch::Ppc64 => "powerpc64le-linux-gnu",
        }
    }

    /// The default library directories for the architecture's binaries, in the
    /// order the dynamic loader searches them.
    pub fn library_dirs(self) -> Vec<PathBuf> {
        let m = self.multiarch();
        let mut dirs = vec![
            PathBuf::from(format!("/lib/{m}")),
            PathBuf::from(format!("/usr/lib/{m}")),
        ];
        if self == Arch::X86_64 || self == Arch::Ppc64 {
            dirs.push(PathBuf::from("/lib64"));
            dirs.push(PathBuf::from("/usr/lib64"));
        }
        dirs.push(PathBuf::from("/lib"));
        dirs.push(PathBuf::from("/usr/lib"));
        dirs
    }

    /// The ELF `e_machine` of the architecture's binaries.
    pub(crate) fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => 62,   // EM_X86_64
            Arch::Aarch64 => 183, // EM_AARCH64
            Arch::Ppc64 => 21,    // EM_PPC64
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The console device the guest's kernel writes to on `machine`, and the
/// kernel command line kennel's guest boots with there.
///
/// The command line names the console, asks for `quiet` unless `quiet` is
/// false (then the kernel's messages show), makes a panic end the machine at
/// once (`panic=-1`; QEMU runs with `-no-reboot`), and runs `/init` from the
/// initramfs (`rdinit=/init`). On x86_64 it also skips the kernel's check that
/// the IO-APIC's timer ticks in time (`no_timer_check`): a TCG guest on a busy
/// host can miss it and panic with "IO-APIC + timer doesn't work", which is the
/// host's load, not the guest's fault. `machine` may be versioned (`pc-q35-7.2`).
///
/// | arch | machine | console |
/// |---|---|---|
/// | x86_64 | `pc`, `q35`, `microvm`, any | `ttyS0` |
/// | aarch64 | `virt`, `sbsa-ref` | `ttyAMA0` |
/// | ppc64 | `pseries`, `powernv` | `hvc0` |
///
/// # Examples
///
/// ```
/// use kennel_guest::{console_args, Arch};
/// let (console, append) = console_args(Arch::Aarch64, "virt", true)?;
/// assert_eq!(console, "ttyAMA0");
/// assert_eq!(append, "console=ttyAMA0 quiet panic=-1 rdinit=/init");
/// # Ok::<(), kennel_guest::GuestError>(())
/// ```
pub fn console_args(
    arch: Arch,
    machine: &str,
    quiet: bool,
) -> Result<(&'static str, String), GuestError> {
    let family = |prefix: &str| machine == prefix || machine.starts_with(&format!("{prefix}-"));
    let console = match arch {
        Arch::X86_64 => "ttyS0",
        Arch::Aarch64 if family("virt") || family("sbsa-ref") => "ttyAMA0",
        Arch::Ppc64 if family("pseries") || family("powernv") => "hvc0",
        _ => {
            return Err(GuestError::UnsupportedMachine {
                arch,
                machine: machine.to_owned(),
            });
        }
    };
    let mut append = format!("console={console}");
    if quiet {
        append.push_str(" quiet");
    }
    if arch == Arch::X86_64 {
        append.push_str(" no_timer_check");
    }
    append.push_str(" panic=-1 rdinit=/init");
    Ok((console, append))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_architecture_gets_its_console() {
        let got: Vec<_> = [
            (Arch::X86_64, "pc"),
            (Arch::X86_64, "q35"),
            (Arch::Aarch64, "virt-7.2"),
            (Arch::Ppc64, "pseries"),
        ]
        .into_iter()
        .map(|(a, m)| console_args(a, m, true).expect("a known machine").0)
        .collect();
        assert_eq!(got, ["ttyS0", "ttyS0", "ttyAMA0", "hvc0"]);
    }

    #[test]
    fn not_quiet_leaves_quiet_out() {
        let (_, append) = console_args(Arch::X86_64, "q35", false).expect("a known machine");
        assert_eq!(append, "console=ttyS0 no_timer_check panic=-1 rdinit=/init");
    }

    #[test]
    fn an_unknown_machine_is_refused() {
        let err = console_args(Arch::Aarch64, "raspi3b", true).expect_err("no console known");
        assert_eq!(
            err.to_string(),
            "no known console for machine type \"raspi3b\" on aarch64"
        );
    }
}
