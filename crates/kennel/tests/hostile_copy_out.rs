//! Issue 28: a `copy_out` whose guest path is a symlink to elsewhere or holds
//! `../` reads what the guest resolves it to, and writes on the host only the
//! file the test named: the guest chooses the bytes, never the host path
//! (real QEMU, the built-in guest, the agent).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use kennel::prelude::*;

/// Every path under `dir`, relative to it.
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            found.insert(
                path.strip_prefix(dir)
                    .expect("inside")
                    .display()
                    .to_string(),
            );
            if path.is_dir() && !path.is_symlink() {
                todo.push(path);
            }
        }
    }
    found
}

#[test]
fn copy_out_of_a_symlink_or_a_dotdot_path_writes_only_the_named_host_file() {
    let mut t = Test::new("hostile-copy-out", &[], Duration::from_secs(300)).expect("context");
    let outer = tempfile::tempdir().expect("outer folder");
    let folder = outer.path().join("test-folder");
    std::fs::create_dir(&folder).expect("test folder");
    let mut vm = match t.machine().guest_busybox().launch() {
        Ok(vm) => vm,
        Err(e) if e.skip_reason().is_some() => {
            kennel_testkit::missing(&e.chain());
            return;
        }
        Err(e) => panic!("{}", e.chain()),
    };
    vm.run_ok(
        "mkdir -p /tmp/a/b && echo secret >/tmp/real && ln -s /tmp/real /tmp/a/link \
         && ln -s ../../../../../../etc /tmp/a/up && ln -s /nowhere /tmp/a/dangling",
    )
    .expect("guest files");

    vm.copy_out("/tmp/a/link", &folder.join("via-link"))
        .expect("a symlink is read in the guest");
    vm.copy_out("/tmp/a/b/../../real", &folder.join("via-dotdot"))
        .expect("../ is resolved in the guest");
    vm.copy_out("/tmp/a/up/hostname", &folder.join("via-up"))
        .ok();
    let dangling = vm.copy_out("/tmp/a/dangling", &folder.join("via-dangling"));
    let directory = vm.copy_out("/tmp/a/up", &folder.join("via-dir"));

    let read = |name: &str| std::fs::read_to_string(folder.join(name)).expect(name);
    assert_eq!(read("via-link"), "secret\n");
    assert_eq!(read("via-dotdot"), "secret\n");
    let dangling = dangling.expect_err("a dangling link has nothing to read");
    assert!(
        dangling.chain().contains("/tmp/a/dangling"),
        "{}",
        dangling.chain()
    );
    assert!(directory.is_err(), "a directory is not a file");
    let written = tree(outer.path());
    let allowed: BTreeSet<String> = [
        "test-folder",
        "test-folder/via-link",
        "test-folder/via-dotdot",
        "test-folder/via-up",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert!(written.is_subset(&allowed), "written: {written:?}");
    assert!(
        written.contains("test-folder/via-dotdot"),
        "written: {written:?}"
    );
}
