//! Faults a real QEMU will not produce on demand, from `kennel-fake-qemu`
//! (normal console behaviour is tested on real QEMU in `console.rs`):
//! failing at launch, never greeting, garbage on QMP, hanging or crashing
//! mid-command, console waits that time out or meet a failure pattern.
//!
//! The fake is built once per test binary with `cargo build -p kennel-fake-qemu`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kennel_machine::{Accel, ExitInfo, MachineConfig, MachineError, Pattern, QmpError, WaitError};

fn in_millis(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}

/// `target/debug` (or the profile folder this test binary was built in).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // .../target/debug/deps/faults-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// Path of `kennel-fake-qemu`, built on first use.
fn fake_qemu() -> PathBuf {
    static FAKE: OnceLock<PathBuf> = OnceLock::new();
    FAKE.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "kennel-fake-qemu"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run `cargo build -p kennel-fake-qemu`");
        assert!(status.success(), "`cargo build -p kennel-fake-qemu` failed");
        let path = profile_dir().join("kennel-fake-qemu");
        assert!(
            path.is_file(),
            "{} missing after building it; run `cargo build -p kennel-fake-qemu`",
            path.display()
        );
        path
    })
    .clone()
}

/// A unique value for `KENNEL_TEST_MARKER`, to find the processes a test started.
use kennel_testkit::{processes_with, unique_marker};

/// The fake QEMU running `script`, tagged with `marker`.
fn fake(script: &str, marker: &str) -> MachineConfig {
    let mut config = MachineConfig::new("main");
    config.binary = Some(fake_qemu());
    config.machine_type = Some("none".into());
    config.accel = Accel::Named("tcg".into());
    config.launch_timeout = Duration::from_secs(5);
    config.env = vec![
        ("KENNEL_FAKE_QEMU".into(), script.into()),
        ("KENNEL_TEST_MARKER".into(), marker.into()),
    ];
    config
}

#[test]
fn fake_that_exits_at_launch_gives_launch_failed_with_its_code_and_stderr() {
    let marker = unique_marker();

    let err = fake("exit:3", &marker)
        .launch()
        .err()
        .expect("launch fails");

    let text = err.to_string();
    assert!(matches!(err, MachineError::LaunchFailed { .. }), "{err:?}");
    assert!(text.contains("exit code 3"), "{text}");
    assert!(text.contains("fake-qemu: exiting with 3"), "{text}");
    assert!(text.contains("kennel-fake-qemu"), "{text}");
}

#[test]
fn fake_that_never_greets_fails_launch_within_launch_timeout() {
    let marker = unique_marker();
    let mut config = fake("hang", &marker);
    config.launch_timeout = Duration::from_secs(1);
    let started = Instant::now();

    let err = config.launch().err().expect("launch fails");

    let took = started.elapsed();
    assert!(matches!(err, MachineError::LaunchFailed { .. }), "{err:?}");
    // Gave up (the fake would hang forever), within slack a loaded machine gives.
    assert!(took < Duration::from_secs(30), "launch took {took:?}");
    assert!(err.to_string().contains("QMP handshake failed"), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(processes_with(&marker), Vec::<u32>::new());
}

#[test]
fn fake_that_sends_garbage_fails_launch_with_a_protocol_error() {
    let marker = unique_marker();

    let err = fake("garbage", &marker)
        .launch()
        .err()
        .expect("launch fails");

    assert!(matches!(err, MachineError::LaunchFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("QMP protocol error"), "{err}");
    assert!(err.to_string().contains("not JSON"), "{err}");
    assert_eq!(processes_with(&marker), Vec::<u32>::new());
}

#[test]
fn command_to_a_hung_qemu_times_out_at_its_deadline() {
    let marker = unique_marker();
    let mut vm = fake("hang-after:1", &marker).launch().expect("launch");
    let qmp = vm.qmp().expect("qmp");
    qmp.execute("query-status", None, in_millis(5000))
        .expect("first command is answered");
    let started = Instant::now();

    let err = qmp
        .execute("query-status", None, in_millis(500))
        .expect_err("second command hangs");

    let took = started.elapsed();
    assert!(matches!(err, QmpError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("query-status"), "{err}");
    assert!(
        took >= Duration::from_millis(450),
        "gave up early: {took:?}"
    );
    // The fake never answers: any end is the deadline's.
    assert!(took < Duration::from_secs(30), "gave up late: {took:?}");
}

#[test]
fn shutdown_of_a_hung_qemu_kills_it_after_the_grace_period() {
    let marker = unique_marker();
    let mut vm = fake("hang-after:0", &marker).launch().expect("launch");
    let started = Instant::now();

    let exit = vm.shutdown(Duration::from_millis(500)).expect("shutdown");

    assert_eq!(
        exit,
        ExitInfo {
            code: None,
            signal: Some(9)
        }
    );
    // Killed (the fake would hang forever), within slack a loaded machine gives.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(processes_with(&marker), Vec::<u32>::new());
}

#[test]
fn qemu_crashing_mid_command_closes_qmp_and_exits_on_a_signal() {
    let marker = unique_marker();
    let mut vm = fake("crash-after:1", &marker).launch().expect("launch");
    let qmp = vm.qmp().expect("qmp");
    qmp.execute("query-status", None, in_millis(5000))
        .expect("first command is answered");

    let err = qmp
        .execute("query-status", None, in_millis(5000))
        .expect_err("QEMU crashes");

    assert!(matches!(err, QmpError::Closed), "{err:?}");
    let exit = vm.wait_exit(in_millis(5000)).expect("exited");
    assert_eq!(exit.signal, Some(libc::SIGABRT));
    assert_eq!(vm.exit_info(), Some(exit));
    assert!(
        vm.output()
            .text()
            .contains("fake-qemu: crashing on query-status"),
        "{}",
        vm.output().text()
    );
}

#[test]
fn console_wait_that_times_out_shows_the_last_console_lines() {
    let marker = unique_marker();
    let mut config = fake(r"console:first line\nlast line\n", &marker);
    config.console = true;
    let vm = config.launch().expect("launch");
    let console = vm.console().expect("console");
    console
        .wait_for(&Pattern::Text("last line".into()), in_millis(5000))
        .expect("text arrives");
    let started = Instant::now();

    let err = console
        .wait_for(&Pattern::Text("login:".into()), in_millis(300))
        .expect_err("login: never appears");

    let text = err.to_string();
    assert!(matches!(err, WaitError::Timeout { .. }), "{err:?}");
    // At its own deadline (300 ms), not at some longer one.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(text.contains("\"login:\""), "{text}");
    assert!(text.contains("| first line"), "{text}");
    assert!(text.contains("| last line"), "{text}");
}

#[test]
fn console_fail_pattern_ends_a_wait_at_once() {
    let marker = unique_marker();
    let mut config = fake(r"console:Kernel panic - not syncing: VFS\n", &marker);
    config.console = true;
    let vm = config.launch().expect("launch");
    let started = Instant::now();

    let err = vm
        .console()
        .expect("console")
        .wait_for(&Pattern::Text("login:".into()), in_millis(60_000))
        .expect_err("fails on the panic");

    assert!(matches!(err, WaitError::FailPattern { .. }), "{err:?}");
    // At once: long before the wait's own 60 s.
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// Issue 31: a QEMU under a prefix whose module folder lacks `audio-pa.so`
/// took the system's, another build's, and aborted; the launch error's first
/// line names that module and the folder that lacks it.
#[test]
fn abort_on_another_builds_module_names_the_module_and_the_folder_that_lacks_it() {
    let root = tempfile::tempdir().expect("prefix");
    let binary = root.path().join("usr/bin/qemu-system-x86_64");
    std::fs::create_dir_all(root.path().join("usr/bin")).expect("bin");
    std::fs::copy(fake_qemu(), &binary).expect("the fake as a prefix's QEMU");
    let arch = std::env::consts::ARCH;
    let own = root.path().join(format!("usr/lib/{arch}-linux-gnu/qemu"));
    std::fs::create_dir_all(&own).expect("module folder");
    let own = std::fs::canonicalize(own).expect("canonical");
    let marker = unique_marker();
    let mut config = fake(
        "stderr:qemu-system-x86_64: failed to initialize module: /usr/lib/x/qemu/audio-pa.so,\
         stderr:Only modules from the same build can be loaded.,exit:1",
        &marker,
    );
    config.binary = Some(binary);

    let err = config.launch().err().expect("launch fails");

    let first = err
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        first.starts_with(&format!(
            "QEMU failed to launch: QEMU loaded /usr/lib/x/qemu/audio-pa.so, a module of \
             another QEMU build: its own module folder {} has no audio-pa.so",
            own.display()
        )),
        "{first}"
    );
}
