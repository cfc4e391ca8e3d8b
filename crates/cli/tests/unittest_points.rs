//! A Python unittest file as a TAP producer, end to end (issue 16, items 2 and 5):
//! a failing point's assertion message reaches the terminal, `results.json`,
//! `junit.xml`, `results.tap` and `report.html`; the test's own logs, left under a
//! QEMU-style build tree, are copied into its log folder and linked; and `replay
//! --failed` runs only the failing point (`file.py Class.test_name`).

use kennel_testkit::{OutputWithin, RUN_BOUND};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Two tests through a TAP runner that writes as pycotap 1.3.1 does with
/// `LogMode.LogToError` (as QEMU's `tests/functional` use it): the tests' own
/// output goes to stderr, a failure's traceback is written to stderr and then
/// `not ok N <test id>` printed on stdout. Like QEMU's tests, each test writes a
/// `base.log` under `$QEMU_BUILD_ROOT/tests/functional/<arch>/<test id>/`.
const ARITH_PY: &str = r#"#!/usr/bin/env python3
import os
import sys
import unittest


class TapResult(unittest.TestResult):
    def __init__(self, out):
        super().__init__()
        self.out = out
        self.out.write("TAP version 13\n")

    def point(self, verdict, test):
        self.out.write("%s %d %s\n" % (verdict, self.testsRun, test.id()))
        self.out.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self.point("ok", test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        sys.stderr.write(self.failures[-1][1] + "\n")
        self.point("not ok", test)

    def addError(self, test, err):
        super().addError(test, err)
        sys.stderr.write(self.errors[-1][1] + "\n")
        self.point("not ok", test)


class TapRunner:
    def run(self, test):
        out = sys.stdout
        sys.stdout = sys.stderr
        result = TapResult(out)
        test(result)
        out.write("1..%d\n" % result.testsRun)
        sys.stdout = out
        return result


class Arith(unittest.TestCase):
    def setUp(self):
        logs = os.path.join(os.environ["QEMU_BUILD_ROOT"], "tests", "functional",
                            "x86_64", self.id())
        os.makedirs(logs, exist_ok=True)
        with open(os.path.join(logs, "base.log"), "w") as f:
            f.write("base log of %s\n" % self.id())

    def test_adds(self):
        self.assertEqual(1 + 1, 2)

    def test_subtracts(self):
        print("computing 3 - 1")
        self.assertEqual(3 - 1, 1)


if __name__ == "__main__":
    unittest.main(testRunner=TapRunner())
"#;

const FAILING: &str = "arith.py: __main__.Arith.test_subtracts";
const PASSING: &str = "arith.py: __main__.Arith.test_adds";
const ASSERTION: &str = "AssertionError: 2 != 1";

/// The test file in a folder of its own, a QEMU-style build tree and a results folder.
struct Project {
    dir: tempfile::TempDir,
    build_root: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("arith.py");
        std::fs::write(&file, ARITH_PY).expect("write arith.py");
        let mut perms = std::fs::metadata(&file).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&file, perms).expect("chmod");
        std::fs::create_dir(dir.path().join("results")).expect("mkdir");
        Project {
            dir,
            build_root: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// `kennel ARGS` in the project folder.
    fn kennel(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_kennel"))
            .args(args)
            .args(["--results-dir", "results"])
            .current_dir(self.dir.path())
            .env_remove("KENNEL_RESULTS_DIR")
            .env("QEMU_BUILD_ROOT", self.build_root.path())
            .output_within(RUN_BOUND)
    }

    fn job_dir(&self) -> PathBuf {
        self.dir.path().join("results/latest")
    }

    fn read(&self, name: &str) -> String {
        let path = self.job_dir().join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn results(&self) -> Value {
        serde_json::from_str(&self.read("results.json")).expect("results.json is JSON")
    }
}

fn python_is_there() -> bool {
    kennel_testkit::need_command("python3", "python3").is_some()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn test_named<'a>(results: &'a Value, name: &str) -> &'a Value {
    results["tests"]
        .as_array()
        .and_then(|tests| tests.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no test {name:?} in {results}"))
}

/// The `system-err` text and the failure message of the `<testcase>` named `name`.
fn junit_case(xml: &str, name: &str) -> (String, String) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut inside, mut in_err) = (false, false);
    let (mut err, mut message) = (String::new(), String::new());
    loop {
        match reader.read_event().expect("junit.xml is well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |key: &[u8]| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == key)
                        .map(|a| text(&a.value))
                };
                match e.name().as_ref() {
                    b"testcase" => inside = attr(b"name").as_deref() == Some(name),
                    b"failure" if inside => message = attr(b"message").unwrap_or_default(),
                    b"system-err" => in_err = inside,
                    _ => {}
                }
            }
            Event::Text(t) if in_err => err.push_str(&text(&t)),
            Event::End(e) if e.name().as_ref() == b"system-err" => in_err = false,
            Event::Eof => return (err, message),
            _ => {}
        }
    }
}

#[test]
fn a_failing_python_points_assertion_is_in_the_terminal_and_every_report() {
    if !python_is_there() {
        return;
    }
    let project = Project::new();

    let run = project.kennel(&["run", "arith.py"]);

    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let terminal = text(&run.stdout);
    let reason_line = format!("not ok 2 - __main__.Arith.test_subtracts: {ASSERTION}");
    assert!(terminal.contains(&reason_line), "{terminal}");
    let results = project.results();
    let failing = test_named(&results, FAILING);
    assert_eq!(failing["status"], "FAIL");
    assert_eq!(failing["reason"], reason_line.as_str());
    assert_eq!(failing["point"], "__main__.Arith.test_subtracts");
    let detail = failing["detail"].as_str().expect("detail");
    assert!(detail.contains("computing 3 - 1"), "{detail}");
    assert!(detail.ends_with(ASSERTION), "{detail}");
    assert_eq!(test_named(&results, PASSING)["status"], "PASS");
    let (system_err, message) = junit_case(&project.read("junit.xml"), FAILING);
    assert!(system_err.contains(ASSERTION), "{system_err}");
    assert!(!system_err.contains("==> stderr.log <=="), "{system_err}");
    assert!(message.contains(ASSERTION), "{message}");
    assert!(project.read("results.tap").contains(ASSERTION));
    assert!(project.read("report.html").contains(ASSERTION));
}

#[test]
fn a_python_tests_own_logs_are_copied_into_its_log_folder_and_linked() {
    if !python_is_there() {
        return;
    }
    let project = Project::new();

    project.kennel(&["run", "arith.py"]);

    let results = project.results();
    let logdir = Path::new(
        test_named(&results, FAILING)["logdir"]
            .as_str()
            .expect("logdir"),
    );
    let own = logdir.join("__main__.Arith.test_subtracts/base.log");
    let copied = std::fs::read_to_string(project.job_dir().join(&own)).expect("copied base.log");
    assert_eq!(copied, "base log of __main__.Arith.test_subtracts\n");
    let html = project.read("report.html");
    assert!(
        html.contains(&format!("href=\"{}\"", own.display())),
        "no link to {}",
        own.display()
    );
}

#[test]
fn replay_failed_runs_only_the_failing_point_of_a_python_file() {
    if !python_is_there() {
        return;
    }
    let project = Project::new();
    project.kennel(&["run", "arith.py"]);

    let replay = project.kennel(&["replay", "--failed"]);

    assert_eq!(replay.status.code(), Some(1), "{}", text(&replay.stderr));
    let said = text(&replay.stdout);
    assert!(
        said.contains("arith.py: running only its test point Arith.test_subtracts"),
        "{said}"
    );
    let results = project.results();
    let names: Vec<&str> = results["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, [FAILING]);
}

#[test]
fn replay_of_a_named_point_of_a_shell_producer_runs_the_whole_file_and_says_so() {
    let project = Project::new();
    let script = project.dir.path().join("points.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho 1..2\necho ok 1 - first\necho not ok 2 - second\n",
    )
    .expect("write");
    let mut perms = std::fs::metadata(&script).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).expect("chmod");
    project.kennel(&["run", "points.sh"]);

    let replay = project.kennel(&["replay", "--test", "points.sh: second"]);

    let said = text(&replay.stdout);
    assert!(
        said.contains("points.sh: running the whole file, not only the wanted test points"),
        "{said}"
    );
    let results = project.results();
    assert_eq!(results["summary"]["total"], 2, "{results}");
}
