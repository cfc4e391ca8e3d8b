//! The console of a real `qemu-system-x86_64`: the host's own kernel booted
//! without a root file system prints its banner on the serial port, then
//! panics and (with `panic=-1 -no-reboot`) QEMU exits. Without a readable
//! `/boot/vmlinuz-*` each test skips (fails under `KENNEL_REQUIRE_ALL`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kennel_machine::{MachineConfig, MachineError, Pattern};

fn in_secs(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// The newest readable `/boot/vmlinuz-*`, or None (a skip).
fn host_kernel() -> Option<PathBuf> {
    let newest = std::fs::read_dir("/boot")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
                && std::fs::File::open(p).is_ok()
        })
        .max();
    if newest.is_none() {
        kennel_testkit::missing("a readable /boot/vmlinuz-* (apt-get install linux-image-amd64)");
    }
    newest
}

/// `pc` booting `kernel` with no root: banner, panic, exit.
fn kernel_without_root(kernel: PathBuf) -> MachineConfig {
    let mut config = MachineConfig::new("main");
    config.arch = Some("x86_64".into());
    config.machine_type = Some("pc".into());
    config.memory = Some("256M".into());
    config.kernel = Some(kernel);
    config.append = Some("console=ttyS0 panic=-1".into());
    config.extra_args = vec!["-nodefaults".into(), "-no-reboot".into()];
    config.console = true;
    config.launch_timeout = Duration::from_secs(30);
    config
}

#[test]
fn console_shows_the_kernel_banner_while_it_boots() {
    let Some(kernel) = host_kernel() else {
        return;
    };
    let vm = kernel_without_root(kernel).launch().expect("launch");

    let found = vm
        .console()
        .expect("console")
        .wait_for(&Pattern::Text("Linux version".into()), in_secs(60))
        .expect("the banner appears");

    assert_eq!(found.text, "Linux version");
}

#[test]
fn console_written_before_qemu_exits_still_matches() {
    let Some(kernel) = host_kernel() else {
        return;
    };
    let mut config = kernel_without_root(kernel);
    config.qmp = false;
    let mut vm = config.launch().expect("launch");

    let exit = vm.wait_exit(in_secs(120)).expect("exits after the panic");

    assert_eq!(exit.code, Some(0), "{exit:?}");
    vm.console()
        .expect("console")
        .wait_for(&Pattern::Text("Linux version".into()), in_secs(5))
        .expect("text printed before the exit is kept");
}

#[test]
fn machine_without_console_says_so() {
    let mut config = MachineConfig::new("main");
    config.arch = Some("x86_64".into());
    config.machine_type = Some("none".into());
    config.extra_args = vec!["-nodefaults".into(), "-S".into()];
    let vm = config.launch().expect("launch");

    let err = vm.console().err().expect("no console");

    assert!(matches!(err, MachineError::NoConsole { .. }), "{err:?}");
    assert!(err.to_string().contains("console = true"), "{err}");
}
