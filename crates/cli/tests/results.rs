//! The job folder end to end: every log a test writes reaches `report.html` and
//! `junit.xml`, `results.json` records what ran, and a results file that cannot be
//! written fails the job naming it. No QEMU: scripts and a tiny cargo package.

use kennel_testkit::{OutputWithin, RUN_BOUND};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// `kennel ARGS` run in `cwd`, with no results folder from the environment.
fn kennel_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(args)
        .current_dir(cwd)
        .env_remove("KENNEL_RESULTS_DIR")
        .env_remove("QEMU_TEST_QEMU_BINARY")
        .output_within(RUN_BOUND)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Write `files` (relative path, text) under `dir`; `.sh` files are made executable.
fn write_files(dir: &Path, files: &[(&str, &str)]) {
    use std::os::unix::fs::PermissionsExt;
    for (name, body) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, body).expect("write");
        if name.ends_with(".sh") {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }
}

fn results_json(results_dir: &Path) -> Value {
    let path = results_dir.join("latest/results.json");
    let text = std::fs::read_to_string(&path).expect("results.json");
    serde_json::from_str(&text).expect("results.json is JSON")
}

/// A cargo package of its own (not in kennel's workspace) with one Rust test that panics.
const PANICKING_PACKAGE: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        "[package]\nname = \"panicking-fixture\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    ),
    ("src/lib.rs", ""),
    (
        "tests/answer.rs",
        "#[test]\nfn the_answer_is_checked() {\n    let answer = 6 * 7;\n    assert!(answer == 41, \"the answer is not {answer}\");\n}\n",
    ),
];

#[test]
fn a_cargo_tests_panic_message_is_in_report_html_and_junit_xml() {
    // Issue 11: a Rust test's panic lands in stderr.log, which report.html never showed.
    let project = tempfile::tempdir().expect("project");
    write_files(project.path(), PANICKING_PACKAGE);
    let results = project.path().join("results");

    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["run", "--cargo", "--package", "panicking-fixture"])
        .arg("--results-dir")
        .arg(&results)
        .current_dir(project.path())
        .env("CARGO_TARGET_DIR", project.path().join("target"))
        .env_remove("KENNEL_RESULTS_DIR")
        .output_within(RUN_BOUND);

    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(results_json(&results)["tests"][0]["status"], "FAIL");
    let html = std::fs::read_to_string(results.join("latest/report.html")).expect("report.html");
    assert!(html.contains("<code>stderr.log</code>"));
    assert!(
        html.contains("the answer is not 42"),
        "no panic message in report.html"
    );
    let junit = std::fs::read_to_string(results.join("latest/junit.xml")).expect("junit.xml");
    let err = junit
        .split("<system-err>")
        .nth(1)
        .expect("a <system-err> in junit.xml");
    assert!(err.contains("the answer is not 42"), "{junit}");
}

#[test]
fn a_results_file_that_cannot_be_written_exits_3_naming_it() {
    // The test makes a folder where report.html goes: the rename onto it fails.
    let dir = tempfile::tempdir().expect("dir");
    write_files(
        dir.path(),
        &[(
            "tests/sabotage.sh",
            "#!/bin/sh\nmkdir -p \"$KENNEL_TEST_LOGDIR/../../report.html/in-the-way\"\n",
        )],
    );

    let out = kennel_in(dir.path(), &["run", "tests", "--results-dir", "results"]);

    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("report.html"), "{stderr}");
    assert_eq!(
        results_json(&dir.path().join("results"))["tests"][0]["status"],
        "PASS",
        "the other files are still written"
    );
}

#[test]
fn a_results_folder_that_cannot_be_made_exits_3_naming_it() {
    let dir = tempfile::tempdir().expect("dir");
    write_files(
        dir.path(),
        &[("tests/ok.sh", "#!/bin/sh\n"), ("not-a-folder", "")],
    );

    let out = kennel_in(
        dir.path(),
        &["run", "tests", "--results-dir", "not-a-folder"],
    );

    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not-a-folder"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn results_json_records_the_paths_kennel_toml_chose_and_replay_reads_them_back() {
    let dir = tempfile::tempdir().expect("dir");
    write_files(
        dir.path(),
        &[
            ("kennel.toml", "paths = [\"checks\"]\n"),
            ("checks/ok.sh", "#!/bin/sh\necho fine\n"),
        ],
    );
    let results = dir.path().join("results");

    let run = kennel_in(
        dir.path(),
        &["run", "-p", "cpus=2", "--results-dir", "results"],
    );
    let options = results_json(&results)["options"].clone();
    let replay = kennel_in(dir.path(), &["replay", "--results-dir", "results"]);

    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert_eq!(options["paths"], serde_json::json!(["checks"]), "{options}");
    assert_eq!(options["params"]["cpus"], 2, "{options}");
    assert_eq!(replay.status.code(), Some(0), "{}", text(&replay.stderr));
    let replayed = results_json(&results);
    assert_eq!(replayed["options"]["params"]["cpus"], 2, "{replayed}");
    let file = PathBuf::from(replayed["tests"][0]["file"].as_str().expect("file"));
    assert!(file.ends_with("checks/ok.sh"), "{replayed}");
    assert!(path_str(&file).contains("checks"));
}

#[test]
fn replay_runs_a_failed_rust_test_again_as_a_rust_test() {
    let project = tempfile::tempdir().expect("project");
    write_files(project.path(), PANICKING_PACKAGE);
    let kennel = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kennel"))
            .args(args)
            .args(["--results-dir", "results"])
            .current_dir(project.path())
            .env("CARGO_TARGET_DIR", project.path().join("target"))
            .env_remove("KENNEL_RESULTS_DIR")
            .output_within(RUN_BOUND)
    };
    let first = kennel(&["run", "--cargo", "--package", "panicking-fixture"]);
    let name = results_json(&project.path().join("results"))["tests"][0]["name"].clone();

    let replay = kennel(&["replay", "--failed"]);

    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));
    assert_eq!(replay.status.code(), Some(1), "{}", text(&replay.stderr));
    let replayed = results_json(&project.path().join("results"));
    assert_eq!(replayed["options"]["cargo"], true, "{replayed}");
    let tests = replayed["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), 1, "{replayed}");
    assert_eq!(tests[0]["name"], name, "{replayed}");
    assert_eq!(tests[0]["status"], "FAIL", "{replayed}");
}
