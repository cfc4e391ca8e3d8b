//! Jobs at scale, end to end (issue 15): a selection of nothing is said, results
//! survive a runner killed by SIGKILL, TAP points arrive live. No QEMU: shell scripts.

use kennel_testkit::{Bounded, OutputWithin, RUN_BOUND};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn kennel(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kennel"));
    cmd.args(args)
        .env_remove("KENNEL_RESULTS_DIR")
        .env_remove("QEMU_TEST_QEMU_BINARY");
    cmd
}

fn run(args: &[&str]) -> Output {
    kennel(args).output_within(RUN_BOUND)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// A folder of executable shell scripts `(name, body)`.
fn scripts(files: &[(&str, &str)]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("test dir");
    for (name, body) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    dir
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("JSON")
}

fn field(tests: &Value, key: &str) -> Vec<String> {
    tests
        .as_array()
        .expect("tests[]")
        .iter()
        .map(|t| t[key].as_str().unwrap_or("").to_string())
        .collect()
}

/// Polls `what` every 20 ms for up to 60 s.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_tag_filter_that_selects_nothing_says_so_and_exits_2() {
    let tests = scripts(&[("a.sh", "exit 0")]);
    let results = tempfile::tempdir().expect("results");
    let dir = path_str(tests.path());

    let out = run(&[
        "run",
        dir,
        "-t",
        "nosuchtag",
        "--results-dir",
        path_str(results.path()),
    ]);

    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("the tag filter `nosuchtag` selects none of the 1 test files"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_shard_that_selects_nothing_passes_with_no_tests_pass() {
    let tests = scripts(&[("a.sh", "exit 0")]);
    let results = tempfile::tempdir().expect("results");
    let dir = path_str(tests.path());
    let rd = path_str(results.path());

    let refused = run(&["run", dir, "--shard", "2/2", "--results-dir", rd]);
    let accepted = run(&[
        "run",
        dir,
        "--shard",
        "2/2",
        "--no-tests",
        "pass",
        "--results-dir",
        rd,
    ]);

    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("shard 2/2 holds none of the 1 tests selected"));
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "{}",
        text(&accepted.stderr)
    );
}

/// Live processes whose environment holds `KENNEL_TEST_MARKER=<marker>`.
fn processes_with(marker: &str) -> Vec<u32> {
    let needle = format!("KENNEL_TEST_MARKER={marker}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let env = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z');
        if !zombie && env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn after_a_sigkill_of_the_runner_report_rebuilds_every_file_accounting_for_every_test() {
    let tests = scripts(&[
        ("a-passes.sh", "exit 0"),
        ("b-hangs.sh", "exec sleep 300"),
        ("c-never-runs.sh", "exit 0"),
        ("d-never-runs.sh", "exit 0"),
    ]);
    let results = tempfile::tempdir().expect("results");
    let marker = format!("kennel-scale-kill-{}", std::process::id());
    let mut runner = kennel(&[
        "run",
        path_str(tests.path()),
        "-j",
        "1",
        "--results-dir",
        path_str(results.path()),
    ])
    .env("KENNEL_TEST_MARKER", &marker)
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("start kennel");
    let job = results.path().join("latest");
    let journal = job.join("journal.jsonl");
    wait_for("the second test to start", || {
        std::fs::read_to_string(&journal)
            .is_ok_and(|j| j.contains(r#"{"kind":"started","index":1}"#))
    });

    runner.kill().expect("SIGKILL the runner");
    runner.wait().expect("reap the runner");
    assert!(!job.join("results.json").exists());
    let report = run(&["report", path_str(&job)]);

    assert_eq!(report.status.code(), Some(1), "{}", text(&report.stderr));
    let results_json = json(&job.join("results.json"));
    let tests = &results_json["tests"];
    assert_eq!(
        field(tests, "status"),
        ["PASS", "INTERRUPTED", "INTERRUPTED", "INTERRUPTED"]
    );
    let reasons = field(tests, "reason");
    assert!(
        reasons[1].starts_with("the runner died while the test ran"),
        "{reasons:?}"
    );
    assert!(reasons[2].contains("the runner died"), "{reasons:?}");
    assert!(
        reasons[3].contains("before the test started"),
        "{reasons:?}"
    );
    assert_eq!(results_json["summary"]["total"], 4);
    assert_eq!(results_json["summary"]["interrupted"], 3);
    let junit = std::fs::read_to_string(job.join("junit.xml")).expect("junit.xml");
    assert_eq!(junit.matches("<testcase").count(), 4);
    let tap = std::fs::read_to_string(job.join("results.tap")).expect("results.tap");
    assert!(tap.contains("1..4"), "{tap}");
    let html = std::fs::read_to_string(job.join("report.html")).expect("report.html");
    assert!(html.contains("d-never-runs.sh"));
    wait_for("the hanging test to go with its runner", || {
        processes_with(&marker).is_empty()
    });
}

#[test]
fn replay_of_a_job_whose_results_files_are_gone_runs_its_tests_again() {
    let tests = scripts(&[("a.sh", "exit 0")]);
    let results = tempfile::tempdir().expect("results");
    let rd = path_str(results.path());
    let ran = run(&["run", path_str(tests.path()), "--results-dir", rd]);
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran.stderr));
    let job: PathBuf = std::fs::canonicalize(results.path().join("latest")).expect("job");
    for name in ["results.json", "junit.xml", "results.tap", "report.html"] {
        std::fs::remove_file(job.join(name)).expect("remove");
    }

    let replayed = run(&["replay", path_str(&job), "--results-dir", rd]);

    assert_eq!(
        replayed.status.code(),
        Some(0),
        "{}",
        text(&replayed.stderr)
    );
    assert!(text(&replayed.stdout).contains("replaying 1 of 1 tests"));
    assert!(job.join("results.json").is_file());
}

#[test]
fn replay_of_a_job_whose_runner_died_runs_its_tests_again() {
    // The second test hangs the first time only: its replay passes.
    let tests = scripts(&[
        ("a-passes.sh", "exit 0"),
        (
            "b-hangs-once.sh",
            "[ -e \"$0.ran\" ] && exit 0\ntouch \"$0.ran\"\nexec sleep 300",
        ),
    ]);
    let results = tempfile::tempdir().expect("results");
    let rd = path_str(results.path());
    let marker = format!("kennel-scale-replay-{}", std::process::id());
    let mut runner = kennel(&[
        "run",
        path_str(tests.path()),
        "-j",
        "1",
        "--results-dir",
        rd,
    ])
    .env("KENNEL_TEST_MARKER", &marker)
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("start kennel");
    let job: PathBuf = results.path().join("latest");
    let journal = job.join("journal.jsonl");
    // Started in the journal and past its first run's mark: a runner killed
    // sooner (a loaded machine) would leave a test that hangs again on replay.
    let ran = tests.path().join("b-hangs-once.sh.ran");
    wait_for("the second test to start", || {
        std::fs::read_to_string(&journal)
            .is_ok_and(|j| j.contains(r#"{"kind":"started","index":1}"#))
            && ran.exists()
    });
    runner.kill().expect("SIGKILL the runner");
    runner.wait().expect("reap the runner");
    let died = std::fs::canonicalize(&job).expect("job");
    assert!(!died.join("results.json").exists());
    wait_for("the hanging test to go with its runner", || {
        processes_with(&marker).is_empty()
    });

    let replayed = run(&["replay", path_str(&died), "--results-dir", rd]);

    assert_eq!(
        replayed.status.code(),
        Some(0),
        "{}\n{}",
        text(&replayed.stdout),
        text(&replayed.stderr)
    );
    assert!(
        text(&replayed.stdout).contains("replaying 2 of 2 tests"),
        "{}",
        text(&replayed.stdout)
    );
    let again = std::fs::canonicalize(&job).expect("the replay's job");
    assert_ne!(again, died);
    let tests = &json(&again.join("results.json"))["tests"];
    assert_eq!(field(tests, "status"), ["PASS", "PASS"], "{tests}");
}

#[test]
fn tap_points_arrive_as_the_producer_prints_them() {
    // The producer prints its second point only once the test has seen the first
    // one as a finished result: if points came only at the producer's end, the
    // producer would give up waiting and fail.
    let go = tempfile::tempdir().expect("go dir");
    let go_file = go.path().join("go");
    let tests = scripts(&[(
        "live.sh",
        &format!(
            "echo 1..2\necho 'ok 1 - first'\ni=0\nwhile [ ! -e '{go}' ]; do\n  i=$((i+1)); [ $i -gt 600 ] && exit 1\n  sleep 0.1\ndone\necho 'ok 2 - second'\n",
            go = go_file.display()
        ),
    )]);
    let results = tempfile::tempdir().expect("results");
    let runner = Bounded::start(
        kennel(&[
            "run",
            path_str(tests.path()),
            "--format",
            "json",
            "--results-dir",
            path_str(results.path()),
        ])
        .stdin(Stdio::null()),
    );

    let first_seen = runner
        .stdout()
        .wait_for("\"test_finished\"", Duration::from_secs(60));
    std::fs::write(&go_file, "").expect("say go");
    let ended = runner.wait(RUN_BOUND);
    let status = ended.status;
    let mut finished: Vec<(String, String, f64)> = Vec::new();
    for line in String::from_utf8_lossy(&ended.stdout).lines() {
        let event: Value = serde_json::from_str(line).expect("JSON event");
        if event["event"] == "test_finished" {
            let result = &event["result"];
            finished.push((
                result["name"].as_str().unwrap_or("").to_string(),
                result["status"].as_str().unwrap_or("").to_string(),
                event["elapsed_s"].as_f64().unwrap_or(0.0),
            ));
        }
    }

    assert!(first_seen, "the first point never came before the end");
    assert_eq!(status.code(), Some(0));
    let names: Vec<&str> = finished.iter().map(|(n, _, _)| n.as_str()).collect();
    assert!(names[0].ends_with("live.sh: first"), "{names:?}");
    assert!(names[1].ends_with("live.sh: second"), "{names:?}");
    assert_eq!(finished.len(), 2);
    assert!(finished[0].2 <= finished[1].2);
    let job_log = std::fs::read_to_string(results.path().join("latest/job.log")).expect("job.log");
    let first = job_log.find("live.sh: first").expect("first in job.log");
    let second = job_log.find("live.sh: second").expect("second in job.log");
    assert!(first < second);
}

#[test]
fn a_tap_producer_killed_by_its_timeout_keeps_its_points_and_the_missing_ones_are_interrupted() {
    let tests = scripts(&[(
        "stuck.sh",
        "echo 1..4\necho 'ok 1 - one'\necho 'ok 2 - two'\nexec sleep 300",
    )]);
    let results = tempfile::tempdir().expect("results");

    // The default timeout (120 s) times 0.02: 2.4 s.
    let out = run(&[
        "run",
        path_str(tests.path()),
        "--timeout-factor",
        "0.02",
        "--results-dir",
        path_str(results.path()),
    ]);

    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let results_json = json(&results.path().join("latest/results.json"));
    let tests = &results_json["tests"];
    let names: Vec<String> = field(tests, "name")
        .into_iter()
        .map(|n| n.rsplit(": ").next().unwrap_or("").to_string())
        .collect();
    assert_eq!(names, ["one", "two", "3", "4"]);
    assert_eq!(
        field(tests, "status"),
        ["PASS", "PASS", "INTERRUPTED", "INTERRUPTED"]
    );
    let reason = &field(tests, "reason")[3];
    assert!(
        reason.starts_with("never reported: the producer was timed out"),
        "{reason}"
    );
    assert!(
        reason.contains("after 2 of 4 planned test points"),
        "{reason}"
    );
}
