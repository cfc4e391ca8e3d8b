//! Which QEMU binary a machine of each architecture gets.

use std::path::{Path, PathBuf};

use kennel_machine::find_qemu;

/// A folder holding executables (links to `/bin/true`) with these names.
fn folder_with(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in names {
        std::os::unix::fs::symlink("/bin/true", dir.path().join(name)).expect("symlink");
    }
    dir
}

fn found(arch: &str, qemu: &Path) -> PathBuf {
    find_qemu(arch, None, Some(qemu), &[])
        .expect("a binary")
        .path
}

#[test]
fn qemu_option_naming_one_binary_serves_its_own_architecture() {
    let dir = folder_with(&["qemu-system-x86_64", "qemu-system-aarch64"]);
    let x86 = dir.path().join("qemu-system-x86_64");

    assert_eq!(found("x86_64", &x86), x86);
}

#[test]
fn other_architectures_come_from_beside_the_qemu_option() {
    let dir = folder_with(&["qemu-system-x86_64", "qemu-system-aarch64"]);
    let x86 = dir.path().join("qemu-system-x86_64");

    assert_eq!(
        found("aarch64", &x86),
        dir.path().join("qemu-system-aarch64")
    );
}

#[test]
fn an_architecture_with_no_binary_beside_it_falls_back_to_path_or_says_so() {
    let dir = folder_with(&["qemu-system-x86_64"]);
    let x86 = dir.path().join("qemu-system-x86_64");

    match find_qemu("riscv32", None, Some(&x86), &[]) {
        Ok(b) => assert_eq!(b.source, "PATH (the same QEMU)", "{b:?}"),
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.contains("another architecture") || text.contains("on PATH is another"),
                "{text}"
            );
        }
    }
}

#[test]
fn a_wrapper_not_named_qemu_system_stands_for_every_architecture() {
    let dir = folder_with(&["my-qemu"]);
    let wrapper = dir.path().join("my-qemu");

    assert_eq!(found("aarch64", &wrapper), wrapper);
}
