//! `MachineConfig::launch` against the real `qemu-system-x86_64`, on `-machine none`
//! (no guest code runs, so every test takes a fraction of a second).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kennel_machine::{Accel, ExitInfo, MachineConfig, MachineError};

fn in_secs(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// A config for `qemu-system-x86_64 -machine none -nodefaults -S`.
fn machine_none() -> MachineConfig {
    let mut config = MachineConfig::new("main");
    config.arch = Some("x86_64".into());
    config.machine_type = Some("none".into());
    config.extra_args = vec!["-nodefaults".into(), "-S".into()];
    config.launch_timeout = Duration::from_secs(20);
    config
}

/// The argument vector of a live process, as the kernel holds it.
fn argv_of(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).expect("read /proc/PID/cmdline");
    raw.split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn machine_none_with_dash_s_is_in_prelaunch() {
    let mut vm = machine_none().launch().expect("launch");

    let status = vm
        .qmp()
        .expect("qmp")
        .execute("query-status", None, in_secs(10))
        .expect("query-status");

    assert_eq!(status["status"], "prelaunch");
}

#[test]
fn shutdown_returns_exit_code_zero() {
    let mut vm = machine_none().launch().expect("launch");

    let exit = vm.shutdown(Duration::from_secs(10)).expect("shutdown");

    assert_eq!(
        exit,
        ExitInfo {
            code: Some(0),
            signal: None
        }
    );
}

#[test]
fn cmdline_has_display_none() {
    let vm = machine_none().launch().expect("launch");

    let cmdline = vm.cmdline();

    assert!(cmdline.contains(" -display none "), "{cmdline}");
}

#[test]
fn cmdline_pasted_into_a_shell_gives_the_exact_argv() {
    let mut config = machine_none();
    config
        .extra_args
        .extend(["-name".into(), "kennel test's $HOME \"quoted\"".into()]);
    let vm = config.launch().expect("launch");

    let words = shlex::split(vm.cmdline()).expect("cmdline splits like a shell line");

    // A shell takes leading NAME=value words (QEMU_MODULE_DIR for a QEMU outside
    // /usr) as the environment, not as arguments.
    let argv: Vec<String> = words
        .into_iter()
        .skip_while(|w| w.contains('=') && !w.starts_with('-') && !w.starts_with('/'))
        .collect();
    assert_eq!(argv, argv_of(vm.pid()));
}

#[test]
fn qemu_exiting_at_launch_gives_launch_failed_with_code_stderr_and_cmdline() {
    let mut config = machine_none();
    config
        .extra_args
        .extend(["-machine".into(), "nonexistent-machine-type".into()]);

    let err = config.launch().err().expect("launch must fail");

    let text = err.to_string();
    assert!(matches!(err, MachineError::LaunchFailed { .. }), "{err:?}");
    assert!(text.contains("exit code 1"), "{text}");
    assert!(text.contains("unsupported machine type"), "{text}");
    assert!(text.contains("-machine nonexistent-machine-type"), "{text}");
}

#[test]
fn launch_failed_names_the_binary_in_its_command_line() {
    let mut config = machine_none();
    config
        .extra_args
        .extend(["-machine".into(), "nonexistent-machine-type".into()]);

    let err = config.launch().err().expect("launch must fail");

    let MachineError::LaunchFailed { cmdline, .. } = err else {
        panic!("expected LaunchFailed, got {err:?}");
    };
    let program = cmdline
        .split(' ')
        .find(|w| !w.contains('='))
        .unwrap_or_default();
    assert!(program.starts_with('/'), "{cmdline}");
    assert!(program.ends_with("qemu-system-x86_64"), "{cmdline}");
}

#[test]
fn missing_explicit_binary_is_binary_not_found() {
    let mut config = machine_none();
    config.binary = Some(PathBuf::from("/nonexistent/qemu"));

    let err = config.launch().err().expect("launch must fail");

    assert!(
        matches!(err, MachineError::BinaryNotFound { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("/nonexistent/qemu"), "{err}");
}

#[test]
fn kill_reports_signal_nine() {
    let mut vm = machine_none().launch().expect("launch");

    let exit = vm.kill().expect("kill");

    assert_eq!(
        exit,
        ExitInfo {
            code: None,
            signal: Some(9)
        }
    );
}

#[test]
fn killed_machine_is_not_running_and_has_no_qmp() {
    let mut vm = machine_none().launch().expect("launch");
    vm.kill().expect("kill");

    let qmp = vm.qmp().expect_err("no QMP after kill");

    assert!(!vm.is_running());
    assert!(matches!(qmp, MachineError::NoQmp { .. }), "{qmp:?}");
    assert!(qmp.to_string().contains("signal 9"), "{qmp}");
}

#[test]
fn dropping_a_machine_kills_qemu() {
    let vm = machine_none().launch().expect("launch");
    let pid = vm.pid();
    assert!(process_exists(pid));

    drop(vm);

    assert!(!process_exists(pid), "QEMU pid {pid} survived the drop");
}

#[test]
fn machine_none_runs_under_tcg_with_a_reason() {
    let mut config = machine_none();
    config.accel = Accel::Auto;

    let vm = config.launch().expect("launch");

    assert_eq!(vm.accel().accel, "tcg");
    assert!(
        vm.accel().reason.contains("machine `none`"),
        "{}",
        vm.accel().reason
    );
    assert!(vm.cmdline().contains("-accel tcg"), "{}", vm.cmdline());
}

#[test]
fn named_accelerator_is_used_as_asked() {
    let mut config = machine_none();
    config.accel = Accel::Named("tcg".into());

    let vm = config.launch().expect("launch");

    assert_eq!(vm.accel().accel, "tcg");
    assert_eq!(vm.accel().reason, "asked for");
}

#[test]
fn qemu_output_is_captured() {
    let mut config = machine_none();
    config.qmp = false;
    config.extra_args = vec!["-machine".into(), "nonexistent-machine-type".into()];
    let mut vm = config.launch().expect("launch without QMP returns at once");

    let exit = vm.wait_exit(in_secs(10)).expect("QEMU exits by itself");

    assert_eq!(exit.code, Some(1));
    assert!(
        vm.stderr().text().contains("unsupported machine type"),
        "{}",
        vm.stderr().text()
    );
    assert!(vm.stdout().text().is_empty(), "{}", vm.stdout().text());
}

/// Issue 13: QEMU under a tracer is found by its own pid, and killing the
/// machine kills QEMU too (a tracer killed alone leaves its tracee running).
#[test]
fn qemu_under_a_wrapper_is_found_and_killed_with_it() {
    let mut config = machine_none();
    config.wrapper = vec![
        "strace".into(),
        "-f".into(),
        "-o".into(),
        "/dev/null".into(),
    ];
    let mut vm = config.launch().expect("launch under strace");

    let qemu = vm.pid();
    let wrapper = vm.started_pid();
    let argv = argv_of(qemu);
    vm.kill().expect("kill");

    assert_ne!(qemu, wrapper);
    assert!(argv[0].ends_with("qemu-system-x86_64"), "{argv:?}");
    // After any NAME=value words a QEMU outside /usr needs (QEMU_MODULE_DIR).
    let command = vm
        .cmdline()
        .split(' ')
        .skip_while(|w| w.contains('='))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        command.starts_with("strace -f -o /dev/null "),
        "{}",
        vm.cmdline()
    );
    // A generous bound: a loaded machine may take seconds to end it.
    let until = in_secs(60);
    while process_exists(qemu) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!process_exists(qemu), "QEMU outlived its killed wrapper");
}
