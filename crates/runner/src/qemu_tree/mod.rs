//! QEMU's own functional tests (`tests/functional` of a QEMU source tree) as kennel
//! tests, run the way `make check-functional` runs them.
//!
//! **What is a QEMU tree.** A folder is QEMU's functional-test folder when it holds
//! both `meson.build` and `qemu_test/__init__.py` ([`is_functional_dir`]). A path
//! given to `kennel run` is in such a tree when it is that folder, a folder right
//! inside it (QEMU's later per-architecture folders), or a file in either.
//!
//! **What is read.** The `meson.build` of that folder and of each folder right
//! inside it, by the small reader in [`meson`]: the lists
//! `tests_<arch>_<mode>_<speed>` (mode `system`, `linuxuser` or `bsduser`; speed
//! `quick` or `thorough`), `tests_generic_<mode>` (run, as meson does, in the quick
//! set of every architecture that has a list of that mode), and the timeouts
//! `test_timeouts` (QEMU 10.0) and `test_<arch>_timeouts` (later). A test `NAME`
//! listed in folder `D` is `D/test_NAME.py`, else `tests/functional/test_NAME.py`.
//! Each (architecture, mode, test) is one kennel test named `FILE [ARCH]`, tagged
//! `quick` or `thorough` and `arch:<arch>`, with meson's timeout (90 s unless the
//! dictionaries say otherwise).
//!
//! **How one runs** ([`command`]): `python3 FILE` (the build's `pyvenv/bin/python3`
//! when it has one) with QEMU's variables: see [`command`] and docs/qemu-tree.md.

mod command;
mod error;
pub mod meson;
mod tree;

pub use command::{build_dir, command, emulator, precache, QemuTestCommand, RunContext};
pub use error::QemuTreeError;
pub use tree::{
    functional_dir_of, functional_dir_of_build, is_functional_dir, load, Mode, QemuTest, Speed,
    Tree, DEFAULT_TIMEOUT,
};

#[cfg(test)]
mod tests;
