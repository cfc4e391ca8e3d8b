//! The live terminal view: on a terminal, `kennel run` draws a status line
//! under the finished tests, with the counts and the tests running now; piped,
//! it prints the finished tests' lines only.
//!
//! The terminal is a real pseudo-terminal made by util-linux's `script`. The
//! test that is "running now" waits for a file this test creates once the
//! status line has named it, so nothing here depends on timing.

use kennel_testkit::{wait_until, Bounded, OutputWithin, RUN_BOUND};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long to wait for something kennel is expected to print; a limit for a
/// hung run, not a speed check.
const PATIENCE: Duration = Duration::from_secs(120);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// A folder with two tests: a QMP test that passes at once, and an executable
/// `waits_for_go.sh` that passes once `go` exists beside it.
fn two_tests() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tests dir");
    std::fs::copy(
        workspace().join("tests/functional/pass/qmp_query_status.toml"),
        dir.path().join("qmp_query_status.toml"),
    )
    .expect("copy the QMP test");
    let go = dir.path().join("go");
    let script = dir.path().join("waits_for_go.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nwhile [ ! -e '{}' ]; do sleep 0.1; done\necho went\n",
            go.display()
        ),
    )
    .expect("write the executable test");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn kennel_run(tests: &Path, results: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kennel"));
    cmd.arg("run")
        .arg(tests)
        .arg("--results-dir")
        .arg(results)
        .current_dir(workspace())
        .env_remove("KENNEL_RESULTS_DIR")
        .env_remove("QEMU_TEST_QEMU_BINARY");
    cmd
}

/// Single-quoted for `sh -c`.
fn quoted(arg: &std::ffi::OsStr) -> String {
    format!("'{}'", arg.to_string_lossy().replace('\'', r"'\''"))
}

/// The drawings of the status line: what lies between carriage returns and
/// newlines, and names what is running.
fn status_lines(screen: &str) -> impl Iterator<Item = &str> {
    screen
        .split(['\r', '\n'])
        .filter(|line| line.contains("running:"))
}

#[test]
fn on_a_terminal_the_status_line_names_the_running_test_and_counts_the_finished() {
    if kennel_testkit::need_command("script", "util-linux").is_none() {
        return;
    }
    let tests = two_tests();
    let results = tempfile::tempdir().expect("results dir");
    let run = kennel_run(tests.path(), results.path());
    let line = std::iter::once(run.get_program())
        .chain(run.get_args())
        .map(quoted)
        .collect::<Vec<_>>()
        .join(" ");
    // `script` gives kennel a pseudo-terminal for stdout and stderr and copies
    // what it draws to our pipe as it comes (-f).
    let terminal = Bounded::start(
        Command::new("script")
            .args(["-q", "-f", "-e", "-c", &line, "/dev/null"])
            .current_dir(workspace())
            .env_remove("KENNEL_RESULTS_DIR")
            .env_remove("QEMU_TEST_QEMU_BINARY")
            .stdin(Stdio::null()),
    );

    // The QMP test finishes while the executable waits: the status line then
    // counts one of two and names the one still running.
    let running_named = wait_until(PATIENCE, || {
        status_lines(&terminal.stdout().text())
            .any(|l| l.contains("1/2") && l.contains("waits_for_go"))
    });
    std::fs::write(tests.path().join("go"), b"").expect("let the test finish");
    let ended = terminal.wait(RUN_BOUND);
    let seen = String::from_utf8_lossy(&ended.stdout);
    let status = ended.status;

    assert!(
        running_named,
        "no status line counted the finished test and named the running one:\n{seen}"
    );
    assert!(status.success(), "kennel failed ({status}):\n{seen}");
    assert!(
        seen.contains("PASS") && seen.contains("waits_for_go"),
        "the finished tests are not listed:\n{seen}"
    );
    assert!(seen.contains("2 passed"), "no summary at the end:\n{seen}");
}

#[test]
fn piped_there_is_no_status_line_only_the_finished_tests() {
    let tests = two_tests();
    std::fs::write(tests.path().join("go"), b"").expect("nothing to wait for");
    let results = tempfile::tempdir().expect("results dir");
    let out = kennel_run(tests.path(), results.path()).output_within(RUN_BOUND);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("PASS"), "{stdout}");
    assert!(
        !stdout.contains("running:") && !stderr.contains("running:"),
        "a status line was drawn into a pipe:\n{stdout}{stderr}"
    );
}
