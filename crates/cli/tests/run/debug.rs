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
    let dir = test_dir(&[("killed.toml", REAL_QEMU_TO_KILL)]);

    let run = kennel_while(&[path_str(dir.path())], &[], |results| {
        signal_qemu_during(results, "step 2 (", libc::SIGABRT)
    });

    let test = run.test("killed");
    let reason = test["reason"].as_str().expect("reason");
    assert_eq!(test["status"], "ERROR", "{test}");
    assert!(reason.contains("killed by signal 6 (SIGABRT)"), "{reason}");
    let detail = test["detail"].as_str().expect("detail");
    let exchange = detail
        .split_once("last QMP exchange:")
        .map(|(_, exchange)| exchange)
        .unwrap_or_else(|| panic!("no QMP exchange in {detail}"));
    // QEMU's own answer to step 1, the last thing it said.
    let asked = exchange
        .find(">> {\"execute\":\"query-status\"")
        .unwrap_or_else(|| panic!("{exchange}"));
    let answered = exchange
        .find("<< {\"return\":{\"status\":\"running\"")
        .unwrap_or_else(|| panic!("{exchange}"));
    assert!(asked < answered, "{exchange}");
}

/// Where a running job's test put its gdb command (its `cmdline` file), read
/// from the results folder while kennel runs.
fn wait_for_gdb_address(results: &std::path::Path, limit: std::time::Duration) -> Option<String> {
    let mut address = None;
    wait_until(limit, || {
        let tests = results.join("latest/tests");
        for entry in std::fs::read_dir(&tests).into_iter().flatten().flatten() {
            let cmdline = std::fs::read_to_string(entry.path().join("cmdline")).unwrap_or_default();
            if let Some(at) = cmdline.find("target remote ") {
                let rest = &cmdline[at + "target remote ".len()..];
                address = rest.split('\'').next().map(str::to_string);
                return true;
            }
        }
        false
    });
    address
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
    // Under --gdb kennel's own timeouts are 10,000 times longer: only this
    // bound ends a kennel whose guest never goes on.
    let kennel = Bounded::start(
        Command::new(env!("CARGO_BIN_EXE_kennel"))
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
            .stdin(std::process::Stdio::null()),
    );

    let address = wait_for_gdb_address(results.path(), Duration::from_secs(120))
        .expect("the test's cmdline names the gdbstub");
    let gdb = Command::new("gdb")
        .args(["-nx", "-batch", "-ex"])
        .arg(format!("target remote {address}"))
        .args(["-ex", "info registers rip", "-ex", "detach"])
        .output_within(Duration::from_secs(120));
    let status = kennel.wait(RUN_BOUND).status;

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

/// How long a paused test may take to say so, on a loaded machine.
pub(crate) const PAUSE_BOUND: Duration = Duration::from_secs(120);

/// `kennel run --pause-on-failure` over `dir` on a pseudo-terminal (made by
/// `script`), its keyboard piped.
pub(crate) fn paused_run(dir: &Path, results: &Path, marker: &str) -> Bounded {
    let run = format!(
        "{} run {} --pause-on-failure --results-dir {}",
        env!("CARGO_BIN_EXE_kennel"),
        path_str(dir),
        path_str(results)
    );
    Bounded::start(
        Command::new("script")
            .args(["-qfec", &run, "/dev/null"])
            .current_dir(workspace())
            .env("KENNEL_TEST_MARKER", marker)
            .stdin(std::process::Stdio::piped()),
    )
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
    let mut terminal = paused_run(dir.path(), results.path(), &marker);

    let paused = terminal.stdout().wait_for("Press Enter", PAUSE_BOUND);
    assert!(paused, "no pause came:\n{}", terminal.stdout().text());
    let mut attach = Bounded::start(
        Command::new(env!("CARGO_BIN_EXE_kennel"))
            .args([
                "attach",
                "hangs",
                "--qmp",
                "--results-dir",
                path_str(results.path()),
            ])
            .stdin(std::process::Stdio::piped()),
    );
    attach
        .stdin()
        .expect("stdin")
        .write_all(b"query-status\n")
        .expect("type query-status");
    attach.close_stdin();
    let attach = attach.wait(Duration::from_secs(60));
    terminal
        .stdin()
        .expect("keyboard")
        .write_all(b"\n")
        .expect("Enter");
    let ended = terminal.wait(RUN_BOUND);

    let screen = String::from_utf8_lossy(&ended.stdout);
    let answer = String::from_utf8_lossy(&attach.stdout);
    assert!(
        screen.contains(&format!(
            "kennel attach {}/job-",
            path_str(&results.path().canonicalize().expect("results"))
        )) && screen.contains(" 001-hangs --machine main --qmp"),
        "{screen}"
    );
    assert!(
        answer.contains("\"status\": \"running\""),
        "{answer}\n{}",
        String::from_utf8_lossy(&attach.stderr)
    );
    assert!(screen.contains("resumed"), "{screen}");
    assert!(screen.contains("FAIL"), "{screen}");
    assert_eq!(ended.status.code(), Some(1), "{screen}");
    assert!(survivors_after(&marker, std::time::Duration::from_secs(2)).is_empty());
}

/// The command kennel printed in `screen`: from `start` up to and including
/// `end` (or to the end of the line), on the first line holding both.
fn printed_command(screen: &str, start: &str, end: Option<&str>) -> String {
    screen
        .lines()
        .filter_map(|l| l.find(start).map(|at| l[at..].trim_end()))
        .find_map(|l| match end {
            Some(end) => l.find(end).map(|e| l[..e + end.len()].to_owned()),
            None => Some(l.to_owned()),
        })
        .unwrap_or_else(|| panic!("no `{start}...` printed:\n{screen}"))
}

/// `sh -c LINE` in the folder `dir`, with `kennel` on the PATH as an install
/// puts it, and `input` typed.
fn pasted(line: &str, dir: &Path, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let bin = Path::new(env!("CARGO_BIN_EXE_kennel"))
        .parent()
        .expect("bin dir");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut shell = Bounded::start(
        Command::new("sh")
            .args(["-c", line])
            .current_dir(dir)
            .env("PATH", path)
            .env_remove("KENNEL_RESULTS_DIR")
            .stdin(std::process::Stdio::piped()),
    );
    shell
        .stdin()
        .expect("stdin")
        .write_all(input)
        .expect("type");
    shell.close_stdin();
    shell.wait(RUN_BOUND)
}

/// Issue 27, item 7: with a relative `--results-dir`, the `kennel attach`,
/// `kennel resume` and `kennel replay` lines a paused, failing job prints
/// work pasted into a shell in another folder.
#[test]
fn printed_attach_resume_and_replay_lines_work_pasted_in_another_folder() {
    let dir = test_dir(&[("hangs.toml", HANGS)]);
    let here = tempfile::tempdir().expect("the run's folder");
    let elsewhere = tempfile::tempdir().expect("another folder");
    let marker = unique_marker();
    let run = format!(
        "{} run {} --pause-on-failure --results-dir relative-results",
        env!("CARGO_BIN_EXE_kennel"),
        path_str(dir.path()),
    );
    let terminal = Bounded::start(
        Command::new("script")
            .args(["-qfec", &run, "/dev/null"])
            .current_dir(here.path())
            .env("KENNEL_TEST_MARKER", &marker)
            .stdin(std::process::Stdio::piped()),
    );
    let paused = terminal.stdout().wait_for("Press Enter", PAUSE_BOUND);
    assert!(paused, "no pause came:\n{}", terminal.stdout().text());
    let screen = terminal.stdout().text();

    let attach = printed_command(&screen, "kennel attach ", Some(" --qmp"));
    let attached = pasted(&attach, elsewhere.path(), b"query-status\n");
    let resume = printed_command(&screen, "kennel resume ", Some("`")).replace('`', "");
    let resumed = pasted(&resume, elsewhere.path(), b"");
    let ended = terminal.wait(RUN_BOUND);
    let screen = String::from_utf8_lossy(&ended.stdout).replace('\r', "");
    let replay = printed_command(&screen, "kennel replay ", None);
    let replayed = pasted(&replay, elsewhere.path(), b"");

    let answer = String::from_utf8_lossy(&attached.stdout);
    assert!(
        answer.contains("\"status\": \"running\""),
        "`{attach}` in another folder:\n{answer}\n{}",
        String::from_utf8_lossy(&attached.stderr)
    );
    assert_eq!(resumed.status.code(), Some(0), "`{resume}`: {resumed:?}");
    assert_eq!(ended.status.code(), Some(1), "{screen}");
    let again = String::from_utf8_lossy(&replayed.stdout);
    assert!(
        again.contains("replaying 1 of 1 tests"),
        "`{replay}`:\n{again}\n{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    assert!(again.contains("FAIL"), "{again}");
    assert!(here
        .path()
        .join("relative-results/latest/results.json")
        .is_file());
    assert!(survivors_after(&marker, std::time::Duration::from_secs(2)).is_empty());
}

#[test]
fn ctrl_c_while_paused_ends_the_job_with_results_written_and_no_qemu_left() {
    use std::io::Write;
    let dir = test_dir(&[("hangs.toml", HANGS)]);
    let results = tempfile::tempdir().expect("results dir");
    let marker = unique_marker();
    let mut terminal = paused_run(dir.path(), results.path(), &marker);

    let paused = terminal.stdout().wait_for("Press Enter", PAUSE_BOUND);
    assert!(paused, "no pause came:\n{}", terminal.stdout().text());
    terminal
        .stdin()
        .expect("keyboard")
        .write_all(&[0x03])
        .expect("Ctrl-C");
    let ended = terminal.wait(RUN_BOUND);

    let screen = String::from_utf8_lossy(&ended.stdout);
    assert_eq!(ended.status.code(), Some(130), "{screen}");
    let written = std::fs::read_to_string(results.path().join("latest/results.json"))
        .unwrap_or_else(|e| panic!("results.json: {e}\n{screen}"));
    let written: Value = serde_json::from_str(&written).expect("results.json is JSON");
    assert_eq!(written["tests"][0]["status"], "INTERRUPTED", "{written}");
    assert!(survivors_after(&marker, std::time::Duration::from_secs(2)).is_empty());
}
