//! Issue 13: a Rust test's machine leaves the failure artifacts in the test's
//! log folder when a call on it fails, before QEMU is killed (real QEMU).

use std::time::Duration;

use kennel::prelude::*;

#[test]
fn a_machine_whose_wait_timed_out_leaves_registers_and_qemu_backtrace() {
    let mut t = Test::new("artifacts", &[], Duration::from_secs(3)).expect("context");
    let logdir = t.logdir().to_path_buf();
    let mut vm = t
        .machine()
        .machine_type("none")
        .args(["-nodefaults"])
        .launch()
        .expect("QEMU starts");

    let waited = vm.wait_event("RESET", json!(null));
    drop(vm);

    let err = waited.expect_err("no RESET comes");
    assert!(err.is_timeout(), "{}", err.chain());
    let registers = std::fs::read_to_string(logdir.join("registers.txt")).expect("registers.txt");
    assert!(registers.contains("VM status: running"), "{registers}");
    let backtrace =
        std::fs::read_to_string(logdir.join("qemu-backtrace.txt")).expect("qemu-backtrace.txt");
    assert!(backtrace.contains("Thread "), "{backtrace:.2000}");
    drop(t);
    let _ = std::fs::remove_dir_all(logdir);
}

#[test]
fn a_machine_whose_calls_all_succeeded_leaves_no_artifacts() {
    let mut t = Test::new("no-artifacts", &[], Duration::from_secs(10)).expect("context");
    let logdir = t.logdir().to_path_buf();
    let mut vm = t
        .machine()
        .machine_type("none")
        .args(["-nodefaults", "-S"])
        .launch()
        .expect("QEMU starts");

    vm.qmp("query-status", json!(null)).expect("status");
    drop(vm);

    assert!(!logdir.join("registers.txt").exists());
    drop(t);
    let _ = std::fs::remove_dir_all(logdir);
}
