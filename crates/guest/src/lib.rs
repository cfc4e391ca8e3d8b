//! kennel's built-in guest: a kernel already on the machine (or from a
//! Debian package) and an initramfs kennel builds itself.
//!
//! - [`Initramfs`]: a deterministic cpio "newc" archive built in memory, with
//!   [`Initramfs::add_binary`] copying a host ELF binary with its interpreter
//!   and shared libraries, and [`Initramfs::add_modules`] copying kernel
//!   modules resolved by a [`ModuleIndex`].
//! - [`InitScript`]: the busybox `/init` that mounts the basics, loads the
//!   modules, prints [`READY_MARKER`], starts the agent and gives a shell.
//! - [`KernelSource`]: where the kernel comes from; on x86_64 the ELF
//!   `vmlinux` is taken out of the bzImage ([`extract_vmlinux`]) so QEMU
//!   boots it through its PVH entry.
//! - [`console_args`]: the console device and kernel command line per
//!   architecture and machine type.
//! - [`host_pieces`]: the kernel and busybox the guest of this machine's
//!   architecture takes from it, or why each is missing.
//! - [`GuestImage::build`]: all of it from a [`GuestSpec`], cached by content
//!   in a [`GuestCache`].
//!
//! # Examples
//!
//! ```no_run
//! use kennel_guest::{Arch, GuestImage, GuestSpec, KernelSource};
//! let spec = GuestSpec::new(Arch::X86_64, KernelSource::Host, "/bin/busybox");
//! let image = GuestImage::build(&spec)?;
//! println!("qemu-system-x86_64 -machine pc -kernel {} -initrd {} -append '{}'",
//!          image.kernel.display(), image.initrd.display(), image.append);
//! # Ok::<(), kennel_guest::GuestError>(())
//! ```
#![deny(missing_docs)]

mod arch;
mod binaries;
mod bzimage;
mod cache;
mod cpio;
mod deb;
mod elf;
mod error;
mod host;
mod image;
mod init;
mod kernel;
mod modules;

pub use arch::{console_args, Arch};
pub use bzimage::{bzimage_version, extract_vmlinux, has_pvh_note, is_bzimage};
pub use cache::GuestCache;
pub use cpio::{Compression, Initramfs};
pub use deb::extract_deb;
pub use error::{BzImageError, ElfError, GuestError};
pub use host::{host_pieces, HostPieces, MissingPiece, HOST_BOOT, HOST_BUSYBOX};
pub use image::{GuestImage, GuestSpec, BUILDER_VERSION, SCREEN_MODE};
pub use init::{InitScript, AGENT_PATH, IP_PARAM, PROMPT, READY_MARKER, SCREEN_VT};
pub use kernel::{find_newest_kernel, Kernel, KernelSource};
pub use modules::{module_name, read_module, ModuleIndex, ModulePlan, ResolvedModule};
