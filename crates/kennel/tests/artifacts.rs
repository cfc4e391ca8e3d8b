//! Issue 13: a Rust test's machine leaves the failure artifacts in the test's
//! log folder when a call on it fails, before QEMU is killed (real QEMU).

use std::time::Duration;

use kennel::prelude::*;
use kennel_testkit::Bounded;

/// A test's whole time: QEMU's launch and the wait that times out share it,
/// so it leaves a loaded machine's launch its seconds.
const TEST_TIME: Duration = Duration::from_secs(20);

#[test]
fn a_machine_whose_wait_timed_out_leaves_registers_and_qemu_backtrace() {
    let mut t = Test::new("artifacts", &[], TEST_TIME).expect("context");
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

    let left: Vec<String> = std::fs::read_dir(&logdir)
        .expect("log folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let artifacts: Vec<&String> = left
        .iter()
        .filter(|name| {
            ["registers.txt", "qemu-backtrace.txt", "dmesg.txt"].contains(&name.as_str())
                || (name.starts_with("screendump") && name.ends_with(".png"))
        })
        .collect();
    assert!(
        artifacts.is_empty(),
        "failure artifacts {artifacts:?} in {left:?}"
    );
    drop(t);
    let _ = std::fs::remove_dir_all(logdir);
}

/// Run by the test below on a pseudo-terminal, with `KENNEL_PAUSE_ON_FAILURE=1`.
#[test]
#[ignore = "run by a_failing_rust_test_pauses_under_plain_cargo_test_until_enter"]
fn paused_child() {
    let mut t = Test::new("paused-child", &[], TEST_TIME).expect("context");
    let mut vm = t
        .machine()
        .machine_type("none")
        .args(["-nodefaults"])
        .launch()
        .expect("QEMU starts");
    let waited = vm.wait_event("RESET", json!(null));
    drop(vm);
    println!("child resumed: {}", waited.is_err());
}

/// Issue 13: under plain `cargo test` (the test binary in the terminal's
/// foreground), `KENNEL_PAUSE_ON_FAILURE=1` keeps a failing machine up, says
/// how to reach it, and Enter lets the test go on.
#[test]
fn a_failing_rust_test_pauses_under_plain_cargo_test_until_enter() {
    use std::io::Write;
    let me = std::env::current_exe().expect("test binary");
    let command = format!(
        "{} --exact paused_child --ignored --nocapture",
        me.display()
    );
    let mut terminal = Bounded::start(
        std::process::Command::new("script")
            .args(["-qfec", &command, "/dev/null"])
            .env("KENNEL_PAUSE_ON_FAILURE", "1")
            .stdin(std::process::Stdio::piped()),
    );

    let paused = terminal
        .stdout()
        .wait_for("Press Enter", TEST_TIME + Duration::from_secs(120));
    let screen_paused = terminal.stdout().text();
    assert!(paused, "no pause came:\n{screen_paused}");
    terminal
        .stdin()
        .expect("keyboard")
        .write_all(b"\n")
        .expect("Enter");
    // Its readers joined: the screen is whole.
    let ended = terminal.wait(Duration::from_secs(300));

    let screen = String::from_utf8_lossy(&ended.stdout);
    assert!(screen_paused.contains("PAUSED"), "{screen}");
    assert!(screen_paused.contains("--qmp"), "{screen}");
    assert!(screen.contains("child resumed: true"), "{screen}");
    assert!(ended.status.success(), "{screen}");
}
