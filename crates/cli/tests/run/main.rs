//! `kennel run` end to end: the real binary, over the fixtures in
//! `tests/functional/` and files written to temporary folders.
//!
//! Every run goes through [`kennel`], which tags the processes it starts with a
//! unique `KENNEL_TEST_MARKER` environment variable and fails the test if any of
//! them (test processes, QEMUs, fake QEMUs) is still alive after kennel exits.

mod assets;
mod ci_shards;
mod cloud;
mod deadlines;
mod debug;
mod firmware;
mod guest;
mod harness;
mod host_faults;
mod hostile;
mod input;
mod migrate;
mod modules;
mod networks;
mod one_qemu;
mod peaks;
mod qemu_tree;
mod reasons;
mod screen;
mod steps;
mod typed;
mod untrusted;
mod vnc;
mod warm;
mod warm_faults;
