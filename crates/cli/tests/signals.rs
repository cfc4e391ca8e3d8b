//! `kennel run` killed or interrupted while a test waits: no QEMU survives it.
//!
//! The runner is tagged with a unique `KENNEL_TEST_MARKER` environment variable,
//! which its test processes and their QEMUs inherit; that is how these tests find
//! (and count) the processes it started.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A test that waits 60 s for an event nothing emits.
const LONG_WAIT: &str = r#"
name = "waits a minute"
timeout = "90s"

[machine]
type = "none"
args = ["-nodefaults", "-S"]

[[step]]
event = "NEVER_EMITTED"
timeout = "60s"
"#;

use kennel_testkit::{processes_with, unique_marker, wait_until, Bounded, RUN_BOUND};

fn is_qemu(pid: u32) -> bool {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|exe| exe.to_string_lossy().contains("qemu-system-"))
        .unwrap_or(false)
}

/// A running `kennel run` over [`LONG_WAIT`], once its QEMU is up.
/// (Should an assertion fail before the runner was stopped, dropping it kills
/// the runner and all it started.)
struct Started {
    kennel: Bounded,
    marker: String,
    results_dir: tempfile::TempDir,
    _tests: tempfile::TempDir,
}

fn start_long_test() -> Started {
    let tests = tempfile::tempdir().expect("tests dir");
    std::fs::write(tests.path().join("long.toml"), LONG_WAIT).expect("write test");
    let results_dir = tempfile::tempdir().expect("results dir");
    let marker = unique_marker();
    let kennel = Bounded::start(
        Command::new(env!("CARGO_BIN_EXE_kennel"))
            .arg("run")
            .arg(tests.path())
            .arg("--results-dir")
            .arg(results_dir.path())
            .env("KENNEL_TEST_MARKER", &marker)
            .env_remove("QEMU_TEST_QEMU_BINARY")
            .stdin(Stdio::null()),
    );
    let started = Started {
        kennel,
        marker,
        results_dir,
        _tests: tests,
    };
    let qemu_up = wait_until(Duration::from_secs(120), || {
        processes_with(&started.marker).into_iter().any(is_qemu)
    });
    assert!(qemu_up, "kennel's QEMU never showed up");
    started
}

fn signal(pid: u32, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("pid");
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

fn results_json(dir: &Path) -> serde_json::Value {
    let path: PathBuf = dir.join("latest").join("results.json");
    let text = std::fs::read_to_string(&path).expect("results.json");
    serde_json::from_str(&text).expect("results.json is JSON")
}

/// The scratch folder the running test told the runner about.
fn scratch_of_running_test(results_dir: &Path) -> PathBuf {
    for job in std::fs::read_dir(results_dir)
        .expect("results dir")
        .flatten()
    {
        let Ok(tests) = std::fs::read_dir(job.path().join("tests")) else {
            continue;
        };
        for test in tests.flatten() {
            if let Ok(text) = std::fs::read_to_string(test.path().join("scratch-dir")) {
                let dir = PathBuf::from(text.trim());
                assert!(
                    dir.is_dir(),
                    "{} should exist while the test runs",
                    dir.display()
                );
                return dir;
            }
        }
    }
    panic!(
        "no test in {} noted its scratch folder",
        results_dir.display()
    );
}

#[test]
fn sigkill_of_the_runner_leaves_no_qemu_behind() {
    let run = start_long_test();

    signal(run.kennel.id(), libc::SIGKILL);
    run.kennel.wait(RUN_BOUND);

    let marker = run.marker.clone();
    let gone = wait_until(Duration::from_secs(5), || {
        processes_with(&marker).is_empty()
    });
    assert!(gone, "survivors: {:?}", processes_with(&marker));
}

#[test]
fn sigint_of_the_runner_exits_130_with_the_test_interrupted() {
    let run = start_long_test();
    let scratch = scratch_of_running_test(run.results_dir.path());
    let started = Instant::now();

    signal(run.kennel.id(), libc::SIGINT);
    let status = run.kennel.wait(RUN_BOUND).status;

    let results = results_json(run.results_dir.path());
    let marker = run.marker.clone();
    assert_eq!(status.code(), Some(130));
    // Stopped by the signal, well before the step's own 60 s.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(results["tests"][0]["status"], "INTERRUPTED");
    assert_eq!(results["summary"]["interrupted"], 1);
    assert!(!scratch.exists(), "{} was left behind", scratch.display());
    assert!(
        wait_until(Duration::from_secs(2), || processes_with(&marker)
            .is_empty()),
        "survivors: {:?}",
        processes_with(&marker)
    );
}
