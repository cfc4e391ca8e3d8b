//! The crate's error type.

use std::path::PathBuf;

use crate::Arch;

/// Everything that can go wrong while building a guest.
///
/// Variants carrying an underlying cause expose it through
/// [`std::error::Error::source`]; their messages do not repeat it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuestError {
    /// A file or directory could not be read, written or created.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done ("read", "create", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A path inside the initramfs is empty, or climbs out of it with `..`.
    #[error("invalid path in the initramfs: {path:?}")]
    BadGuestPath {
        /// The path as given.
        path: String,
    },
    /// A file that should be an ELF binary could not be parsed as one.
    #[error("{} is not a usable ELF file", path.display())]
    BadElf {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        #[source]
        source: ElfError,
    },
    /// An ELF binary is built for another architecture than the guest's.
    #[error("{} is built for {found}, not for the {expected} guest", path.display())]
    WrongArchitecture {
        /// The binary.
        path: PathBuf,
        /// The guest's architecture.
        expected: Arch,
        /// What the binary is built for (an ELF machine name or number).
        found: String,
    },
    /// A shared library a binary needs is nowhere in the search path.
    #[error("{library} (needed by {}) not found in {}", needed_by.display(), join_paths(searched))]
    LibraryNotFound {
        /// The `DT_NEEDED` name.
        library: String,
        /// The binary or library that needs it.
        needed_by: PathBuf,
        /// The directories searched.
        searched: Vec<PathBuf>,
    },
    /// Kernel modules were asked for but there is no modules tree to take them from.
    #[error("no kernel modules tree at {}", root.display())]
    NoModulesTree {
        /// Where the tree was expected.
        root: PathBuf,
    },
    /// Kernel modules that are neither in the modules tree nor built into the kernel.
    #[error("kernel modules not found in {} (nor built in): {}", root.display(), names.join(", "))]
    ModulesNotFound {
        /// The module names.
        names: Vec<String>,
        /// The modules tree searched.
        root: PathBuf,
    },
    /// No kernel could be found.
    #[error("no readable kernel: {looked}")]
    NoKernel {
        /// Where kennel looked, and how to get one.
        looked: String,
    },
    /// A Debian package file is not what it should be.
    #[error("{} is not a usable Debian package: {reason}", path.display())]
    BadDeb {
        /// The package file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// Data could not be decompressed.
    #[error("cannot decompress {what}")]
    Decompress {
        /// What was being decompressed.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A bzImage could not be taken apart.
    #[error("{} is not a usable bzImage", path.display())]
    BadBzImage {
        /// The kernel file.
        path: PathBuf,
        /// What was wrong with it.
        #[source]
        source: BzImageError,
    },
    /// There is no cache directory: none of the variables that name one is set.
    #[error("no cache directory: set KENNEL_CACHE_DIR, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    /// The machine type is not one kennel knows the console of.
    #[error("no known console for machine type {machine:?} on {arch}")]
    UnsupportedMachine {
        /// The guest architecture.
        arch: Arch,
        /// The machine type.
        machine: String,
    },
}

/// Why a file is not a usable ELF file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ElfError {
    /// It does not start with the ELF magic.
    #[error("no ELF magic")]
    NoMagic,
    /// It is too short to hold an ELF header.
    #[error("no ELF header")]
    NoHeader,
    /// Its class is neither 32- nor 64-bit.
    #[error("unknown ELF class")]
    UnknownClass,
    /// Its headers, segments or sections do not parse.
    #[error(transparent)]
    Parse(object::read::Error),
}

/// Why the ELF `vmlinux` could not be taken out of a bzImage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BzImageError {
    /// There is no `HdrS` signature at 0x202.
    #[error("no HdrS signature at 0x202")]
    NotBzImage,
    /// The setup header is cut short.
    #[error("truncated setup header")]
    Truncated,
    /// The boot protocol predates the payload fields.
    #[error("boot protocol {}.{:02} has no payload fields (needs 2.08)", version >> 8, version & 0xff)]
    OldProtocol {
        /// The boot protocol version (`0x0206` is 2.06).
        version: u16,
    },
    /// The payload lies beyond the end of the file.
    #[error("payload lies beyond the end of the file")]
    PayloadBeyondEnd,
    /// The payload is too short to hold its size.
    #[error("payload too short")]
    PayloadTooShort,
    /// The payload is compressed in a way kennel does not read (by name).
    #[error("{0} payloads are not supported")]
    Unsupported(&'static str),
    /// The payload's compression is not recognised.
    #[error("unknown payload compression")]
    UnknownCompression,
    /// The payload does not decompress.
    #[error("payload does not decompress")]
    Decompress(#[source] std::io::Error),
    /// The decompressed payload's size is not the one the header gives.
    #[error("payload decompressed to {found} bytes, the header says {expected}")]
    WrongSize {
        /// The decompressed size.
        found: usize,
        /// The size the header gives.
        expected: usize,
    },
    /// The decompressed payload is not an ELF file.
    #[error("the payload is not an ELF file")]
    NotElf,
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// `map_err` helper: an I/O error on `path` while doing `action`.
pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> GuestError {
    let path = path.into();
    move |source| GuestError::Io {
        action,
        path,
        source,
    }
}
