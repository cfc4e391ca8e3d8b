//! The pieces the built-in guest takes from this machine when it is built
//! for the machine's own architecture: the newest readable kernel in
//! [`HOST_BOOT`] and the static busybox at [`HOST_BUSYBOX`]. `kennel doctor`
//! asks [`host_pieces`] rather than searching by rules of its own.

use std::path::{Path, PathBuf};

use crate::kernel::find_newest_kernel;
use crate::Arch;

/// The folder whose newest readable `vmlinuz-*` is the host guest's kernel
/// ([`crate::KernelSource::Host`]).
pub const HOST_BOOT: &str = "/boot";

/// The busybox the host guest is built with: a static one (Debian's
/// `busybox-static`), since the initramfs has no libraries for it.
pub const HOST_BUSYBOX: &str = "/bin/busybox";

/// What the built-in guest of one architecture would take from this machine.
#[derive(Debug)]
pub struct HostPieces {
    /// The kernel image, or why there is none.
    pub kernel: Result<PathBuf, MissingPiece>,
    /// The busybox binary, or why there is none.
    pub busybox: Result<PathBuf, MissingPiece>,
}

/// Why this machine has no piece for the built-in guest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MissingPiece {
    /// The guest is for another architecture than this machine's: its pieces
    /// come from `build/guest/<arch>` (`scripts/fetch-foreign-guests.sh`), not
    /// from this machine.
    #[error("the {arch} guest's pieces do not come from this machine (it is not {arch})")]
    ForeignArch {
        /// The guest's architecture.
        arch: Arch,
    },
    /// No readable `vmlinuz-*` in the boot folder.
    #[error("no readable {}/vmlinuz-*", boot.display())]
    Kernel {
        /// The folder searched.
        boot: PathBuf,
    },
    /// No busybox where the guest takes it from.
    #[error("no {}", path.display())]
    Busybox {
        /// Where busybox should be.
        path: PathBuf,
    },
}

impl MissingPiece {
    /// The Debian package that provides the piece, when installing one does.
    pub fn debian_package(&self) -> Option<String> {
        match self {
            MissingPiece::ForeignArch { .. } => None,
            MissingPiece::Kernel { .. } => {
                let arch = Arch::host().map_or("amd64", Arch::debian_name);
                Some(format!("linux-image-{arch}"))
            }
            MissingPiece::Busybox { .. } => Some("busybox-static".to_owned()),
        }
    }
}

/// Which kernel and busybox the built-in guest for `arch` would be built
/// from, when it is built from this machine's own pieces (the host's
/// architecture, no kernel named by the test), or why each is missing.
pub fn host_pieces(arch: Arch) -> HostPieces {
    if Arch::host() != Some(arch) {
        return HostPieces {
            kernel: Err(MissingPiece::ForeignArch { arch }),
            busybox: Err(MissingPiece::ForeignArch { arch }),
        };
    }
    pieces_in(Path::new(HOST_BOOT), Path::new(HOST_BUSYBOX))
}

/// The pieces under the given boot folder and busybox path.
fn pieces_in(boot: &Path, busybox: &Path) -> HostPieces {
    let kernel = find_newest_kernel(boot).map_err(|_| MissingPiece::Kernel {
        boot: boot.to_owned(),
    });
    let busybox = if busybox.exists() {
        Ok(busybox.to_owned())
    } else {
        Err(MissingPiece::Busybox {
            path: busybox.to_owned(),
        })
    };
    HostPieces { kernel, busybox }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_kernel_and_the_busybox_are_chosen() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [
            "vmlinuz-6.1.0-9-amd64",
            "vmlinuz-6.1.0-10-amd64",
            "config-6.1.0-11-amd64",
        ] {
            std::fs::write(dir.path().join(name), b"k").expect("write");
        }
        let busybox = dir.path().join("busybox");
        std::fs::write(&busybox, b"b").expect("write");
        let pieces = pieces_in(dir.path(), &busybox);
        assert_eq!(pieces.kernel, Ok(dir.path().join("vmlinuz-6.1.0-10-amd64")));
        assert_eq!(pieces.busybox, Ok(busybox));
    }

    #[test]
    fn missing_pieces_say_what_is_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let busybox = dir.path().join("busybox");
        let pieces = pieces_in(dir.path(), &busybox);
        let kernel = pieces.kernel.expect_err("no kernel");
        assert_eq!(
            kernel.to_string(),
            format!("no readable {}/vmlinuz-*", dir.path().display())
        );
        assert!(kernel
            .debian_package()
            .is_some_and(|p| p.starts_with("linux-image-")));
        let busybox = pieces.busybox.expect_err("no busybox");
        assert_eq!(busybox.debian_package().as_deref(), Some("busybox-static"));
    }

    #[test]
    fn a_foreign_architecture_takes_nothing_from_this_machine() {
        let foreign = [Arch::X86_64, Arch::Aarch64, Arch::Ppc64]
            .into_iter()
            .find(|a| Arch::host() != Some(*a))
            .expect("a foreign architecture");
        let pieces = host_pieces(foreign);
        assert_eq!(
            pieces.kernel,
            Err(MissingPiece::ForeignArch { arch: foreign })
        );
        assert_eq!(
            pieces.busybox,
            Err(MissingPiece::ForeignArch { arch: foreign })
        );
    }
}
