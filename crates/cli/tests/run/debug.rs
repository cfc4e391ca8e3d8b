//! Issue 13, debugging: QEMU under a wrapper, failure artifacts, a gdbstub.

use crate::harness::*;

const HANGS: &str = r#"
name = "hangs"
timeout = "60s"

[machine]
type = "none"
args = ["-nodefaults"]

[[step]]
event = "RESET"
timeout = "2s"
"#;

fn logdir(run: &Run, name: &str) -> std::path::PathBuf {
    let test = run.test(name);
    run.job_dir().join(test["logdir"].as_str().expect("logdir"))
}

#[test]
fn qemu_under_strace_leaves_a_trace_naming_the_qemu_binary() {
    let dir = test_dir(&[("good.toml", GOOD)]);

    let run = kennel(
        &[
            path_str(dir.path()),
            "--wrapper",
            "strace -f -o ${logdir}/strace.log",
        ],
        &[],
    );

    assert_eq!(run.statuses(), ["PASS"], "{}", run.stdout);
    let logs = logdir(&run, "good");
    let trace = std::fs::read_to_string(logs.join("strace.log")).expect("strace.log");
    assert!(
        trace.contains("execve(\"/") && trace.contains("/qemu-system-x86_64\""),
        "{trace:.2000}"
    );
    let cmdline = std::fs::read_to_string(logs.join("cmdline")).expect("cmdline");
    // After any NAME=value words a QEMU outside /usr needs (QEMU_MODULE_DIR).
    let command = cmdline
        .split(' ')
        .skip_while(|w| w.contains('='))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(command.starts_with("strace -f -o "), "{cmdline}");
    assert!(
        command.contains("/strace.log /") && command.contains("/qemu-system-x86_64 "),
        "{cmdline}"
    );
    let report = std::fs::read_to_string(run.job_dir().join("report.html")).expect("report");
    assert!(
        report.contains("/strace.log\">strace.log</a>"),
        "report.html links strace.log"
    );
}

#[test]
fn a_failing_machine_with_a_display_leaves_a_screendump_linked_from_the_report() {
    let dir = test_dir(&[(
        "vga.toml",
        "name = \"vga\"\ntimeout = \"30s\"\n[machine]\nargs = [\"-vga\", \"std\", \"-S\"]\n\
         [[step]]\nevent = \"RESET\"\ntimeout = \"1s\"\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.statuses(), ["FAIL"], "{}", run.stdout);
    let png = std::fs::read(logdir(&run, "vga").join("screendump.png")).expect("screendump.png");
    assert_eq!(&png[1..4], b"PNG");
    let report = std::fs::read_to_string(run.job_dir().join("report.html")).expect("report");
    assert!(
        report.contains("/screendump.png\">screendump.png</a>"),
        "report.html links it"
    );
}

#[test]
fn a_wrapper_that_is_not_a_command_line_is_an_error_naming_it() {
    let dir = test_dir(&[("good.toml", GOOD)]);

    let run = kennel(&[path_str(dir.path()), "--wrapper", "strace -o 'x"], &[]);

    let test = run.test("good");
    assert_eq!(test["status"], "ERROR", "{test}");
    assert!(
        test["reason"]
            .as_str()
            .expect("reason")
            .contains("not a valid shell command line"),
        "{test}"
    );
}

#[test]
fn a_step_that_times_out_leaves_registers_and_qemu_backtrace_linked_from_the_report() {
    let dir = test_dir(&[("hangs.toml", HANGS)]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.statuses(), ["FAIL"], "{}", run.stdout);
    let logs = logdir(&run, "hangs");
    let registers = std::fs::read_to_string(logs.join("registers.txt")).expect("registers.txt");
    assert!(registers.contains("(qemu) info status"), "{registers}");
    assert!(registers.contains("VM status: running"), "{registers}");
    let backtrace =
        std::fs::read_to_string(logs.join("qemu-backtrace.txt")).expect("qemu-backtrace.txt");
    assert!(backtrace.contains("Thread "), "{backtrace:.3000}");
    let report = std::fs::read_to_string(run.job_dir().join("report.html")).expect("report");
    assert!(
        report.contains("registers.txt"),
        "report.html names registers.txt"
    );
    assert!(
        report.contains("qemu-backtrace.txt"),
        "report.html names the backtrace"
    );
}

#[test]
fn no_artifacts_turns_the_failure_artifacts_off() {
    let dir = test_dir(&[("hangs.toml", HANGS)]);

    let run = kennel(&[path_str(dir.path()), "--no-artifacts"], &[]);

    assert_eq!(run.statuses(), ["FAIL"], "{}", run.stdout);
    let logs = logdir(&run, "hangs");
    assert!(!logs.join("registers.txt").exists());
    assert!(!logs.join("qemu-backtrace.txt").exists());
}

#[test]
fn qemu_killed_by_a_signal_names_the_signal_and_the_last_qmp_exchange() {
    let dir = test_dir(&[("fake.toml", &fake_test("30s"))]);

    let run = kennel(
        &[path_str(dir.path())],
        &[("KENNEL_FAKE_QEMU", "crash-after:1")],
    );

    let test = run.test("fake");
    let reason = test["reason"].as_str().expect("reason");
    assert_eq!(test["status"], "ERROR", "{test}");
    assert!(reason.contains("killed by signal 6"), "{reason}");
    let detail = test["detail"].as_str().expect("detail");
    assert!(detail.contains("last QMP exchange:"), "{detail}");
    assert!(
        detail.contains(">> {\"execute\":\"query-status\""),
        "{detail}"
    );
}

/// Where a running job's test put its gdb command (its `cmdline` file), read
/// from the results folder while kennel runs.
fn wait_for_gdb_address(results: &std::path::Path, limit: std::time::Duration) -> Option<String> {
    let until = std::time::Instant::now() + limit;
    while std::time::Instant::now() < until {
        let tests = results.join("latest/tests");
        for entry in std::fs::read_dir(&tests).into_iter().flatten().flatten() {
            let cmdline = std::fs::read_to_string(entry.path().join("cmdline")).unwrap_or_default();
            if let Some(at) = cmdline.find("target remote ") {
                let rest = &cmdline[at + "target remote ".len()..];
                return rest.split('\'').next().map(str::to_string);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    None
}

#[test]
fn gdb_connects_to_a_waiting_built_in_guest_reads_a_register_and_the_test_passes() {
    let dir = test_dir(&[(
        "guest.toml",
        "name = \"guest under gdb\"\ntags = [\"arch:x86_64\"]\ntimeout = \"120s\"\n\
         [machine]\nguest = \"busybox\"\n[[step]]\nrun = \"true\"\n",
    )]);
    let results = tempfile::tempdir().expect("results dir");
    let marker = unique_marker();
    let mut kennel = std::process::Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args([
            "run",
            path_str(dir.path()),
            "--gdb",
            "--gdb-wait",
            "--results-dir",
        ])
        .arg(results.path())
        .current_dir(workspace())
        .env("KENNEL_TEST_MARKER", &marker)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("kennel runs");

    let address = wait_for_gdb_address(results.path(), std::time::Duration::from_secs(60))
        .expect("the test's cmdline names the gdbstub");
    let gdb = std::process::Command::new("gdb")
        .args(["-nx", "-batch", "-ex"])
        .arg(format!("target remote {address}"))
        .args(["-ex", "info registers rip", "-ex", "detach"])
        .output()
        .expect("gdb runs");
    let status = kennel.wait().expect("kennel ends");

    let said = String::from_utf8_lossy(&gdb.stdout);
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    assert!(
        said.contains("rip"),
        "{said}\n{}",
        String::from_utf8_lossy(&gdb.stderr)
    );
    assert_eq!(status.code(), Some(0));
    assert!(survivors_after(&marker, std::time::Duration::from_secs(2)).is_empty());
}

#[test]
fn pause_on_failure_without_a_terminal_is_refused_saying_why() {
    let dir = test_dir(&[("hangs.toml", HANGS)]);

    let run = kennel(&[path_str(dir.path()), "--pause-on-failure"], &[]);

    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--pause-on-failure needs a terminal"),
        "{}",
        run.stderr
    );
}

/// What `kennel run` printed on its terminal so far, read on a thread.
pub(crate) fn collect(
    mut from: impl std::io::Read + Send + 'static,
) -> std::sync::Arc<std::sync::Mutex<String>> {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let into = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock()
                .expect("lock")
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    seen
}

pub(crate) fn wait_for_text(
    seen: &std::sync::Mutex<String>,
    text: &str,
    limit: std::time::Duration,
) -> bool {
    let until = std::time::Instant::now() + limit;
    while std::time::Instant::now() < until {
        if seen.lock().expect("lock").contains(text) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

/// Issue 13: on a terminal (a pseudo-terminal made by `script`), a failing
/// test pauses and says how to reach its machine; `kennel attach --qmp` runs
/// `query-status` on it; Enter lets it finish; no QEMU is left.
#[test]
fn a_paused_failing_test_can_be_attached_to_and_resumed_with_enter() {
    use std::io::Write;
    let dir = test_dir(&[("hangs.toml", HANGS)]);
    let results = tempfile::tempdir().expect("results dir");
    let marker = unique_marker();
    let run = format!(
        "{} run {} --pause-on-failure --results-dir {}",
        env!("CARGO_BIN_EXE_kennel"),
        path_str(dir.path()),
        path_str(results.path())
    );
    let mut terminal = std::process::Command::new("script")
        .args(["-qfec", &run, "/dev/null"])
        .current_dir(workspace())
        .env("KENNEL_TEST_MARKER", &marker)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script runs kennel on a pseudo-terminal");
    let seen = collect(terminal.stdout.take().expect("stdout"));
    let mut keyboard = terminal.stdin.take().expect("stdin");

    let paused = wait_for_text(&seen, "Press Enter", std::time::Duration::from_secs(30));
    let attach = std::process::Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args([
            "attach",
            "hangs",
            "--qmp",
            "--results-dir",
            path_str(results.path()),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut a| {
            a.stdin
                .take()
                .expect("stdin")
                .write_all(b"query-status\n")?;
            a.wait_with_output()
        })
        .expect("kennel attach runs");
    keyboard.write_all(b"\n").expect("Enter");
    let status = terminal.wait().expect("kennel ends");

    let screen = seen.lock().expect("lock").clone();
    let answer = String::from_utf8_lossy(&attach.stdout);
    assert!(paused, "{screen}");
    assert!(
        screen.contains("kennel attach 001-hangs --machine main --qmp"),
        "{screen}"
    );
    assert!(
        answer.contains("\"status\": \"running\""),
        "{answer}\n{}",
        String::from_utf8_lossy(&attach.stderr)
    );
    assert!(screen.contains("resumed"), "{screen}");
    assert!(screen.contains("FAIL"), "{screen}");
    assert_eq!(status.code(), Some(1), "{screen}");
    assert!(survivors_after(&marker, std::time::Duration::from_secs(2)).is_empty());
}

#[test]
fn ctrl_c_while_paused_ends_the_job_with_results_written_and_no_qemu_left() {
    use std::io::Write;
    let dir = test_dir(&[("hangs.toml", HANGS)]);
    let results = tempfile::tempdir().expect("results dir");
    let marker = unique_marker();
    let run = format!(
        "{} run {} --pause-on-failure --results-dir {}",
        env!("CARGO_BIN_EXE_kennel"),
        path_str(dir.path()),
        path_str(results.path())
    );
    let mut terminal = std::process::Command::new("script")
        .args(["-qfec", &run, "/dev/null"])
        .current_dir(workspace())
        .env("KENNEL_TEST_MARKER", &marker)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script runs kennel on a pseudo-terminal");
    let seen = collect(terminal.stdout.take().expect("stdout"));
    let mut keyboard = terminal.stdin.take().expect("stdin");

    let paused = wait_for_text(&seen, "Press Enter", std::time::Duration::from_secs(30));
    keyboard.write_all(&[0x03]).expect("Ctrl-C");
    let status = terminal.wait().expect("kennel ends");

    let screen = seen.lock().expect("lock").clone();
    assert!(paused, "{screen}");
    assert_eq!(status.code(), Some(130), "{screen}");
    let written = std::fs::read_to_string(results.path().join("latest/results.json"))
        .unwrap_or_else(|e| panic!("results.json: {e}\n{screen}"));
    let written: Value = serde_json::from_str(&written).expect("results.json is JSON");
    assert_eq!(written["tests"][0]["status"], "INTERRUPTED", "{written}");
    assert!(survivors_after(&marker, std::time::Duration::from_secs(2)).is_empty());
}
