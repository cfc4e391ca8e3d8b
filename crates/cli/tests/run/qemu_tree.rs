//! A QEMU source tree's own `tests/functional` under `kennel run` (issue 16, item
//! 1): a small fake tree (a `qemu_test` stub package, a `meson.build`, tests that
//! print TAP about what they were given) with a build folder holding the real
//! `qemu-system-x86_64` and a `pyvenv`.

use super::harness::*;

const MESON: &str = "
test_timeouts = {
  'slow' : 3,
}
tests_generic_system = [
  'version',
]
tests_x86_64_system_quick = [
  'env',
]
tests_x86_64_system_thorough = [
  'slow',
]
tests_x86_64_system_thorough += some_other_list
";

/// Prints one TAP point per thing meson's environment must give the test.
const TEST_ENV: &str = r##"
import os, subprocess, sys
import qemu_test
here = os.path.dirname(os.path.abspath(__file__))
tree = os.path.dirname(os.path.dirname(here))
binary = os.environ.get("QEMU_TEST_QEMU_BINARY", "")
version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout if binary else ""
checks = [
    ("the stub qemu_test package imports", qemu_test.STUB == "yes"),
    ("PYTHONPATH is the tree's python and tests/functional",
     os.environ.get("PYTHONPATH") == os.path.join(tree, "python") + ":" + here),
    ("QEMU_BUILD_ROOT is the build folder",
     os.environ.get("QEMU_BUILD_ROOT") == os.path.join(tree, "build")),
    ("the build's venv runs it", sys.executable == os.path.join(tree, "build", "pyvenv", "bin", "python3")),
    ("the x86_64 binary", binary.endswith("/qemu-system-x86_64") and "QEMU emulator" in version),
    ("--offline is QEMU_TEST_NO_DOWNLOAD", os.environ.get("QEMU_TEST_NO_DOWNLOAD") == "1"),
    ("QEMU_TEST_CACHE_DIR under kennel's cache", os.environ.get("QEMU_TEST_CACHE_DIR", "").endswith("/kennel-cache/qemu")),
]
print("TAP version 13")
print("1..%d" % len(checks))
for n, (what, ok) in enumerate(checks, 1):
    print("%sok %d - %s" % ("" if ok else "not ", n, what))
    if not ok:
        print("# environment: %r" % {k: v for k, v in os.environ.items() if "QEMU" in k or k == "PYTHONPATH"})
"##;

/// One passing point; in precache mode, a file in the cache instead.
const TEST_VERSION: &str = r#"
import os
stamp = os.environ.get("QEMU_TEST_PRECACHE")
if stamp:
    download = os.path.join(os.environ["QEMU_TEST_CACHE_DIR"], "download")
    os.makedirs(download, exist_ok=True)
    open(os.path.join(download, "precached"), "w").write(os.environ["PYTHONPATH"])
    open(stamp, "w").close()
else:
    print("1..1")
    print("ok 1 - version")
"#;

/// The QEMU tree in a temporary folder; `None` (the test returns) without QEMU.
fn fake_tree() -> Option<(tempfile::TempDir, PathBuf)> {
    let Some(qemu) = kennel_config::which("qemu-system-x86_64") else {
        kennel_testkit::missing("qemu-system-x86_64 (apt-get install qemu-system-x86)");
        return None;
    };
    let python = [PathBuf::from("/usr/bin/python3")]
        .into_iter()
        .find(|p| p.is_file())
        .or_else(|| kennel_config::which("python3"))
        .expect("python3");
    let dir = tempfile::tempdir().expect("tree");
    let functional = dir.path().join("tests/functional");
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write("tests/functional/meson.build", MESON);
    write("tests/functional/qemu_test/__init__.py", "STUB = 'yes'\n");
    write("tests/functional/test_env.py", TEST_ENV);
    write("tests/functional/test_version.py", TEST_VERSION);
    write(
        "tests/functional/test_slow.py",
        "import time\ntime.sleep(60)\n",
    );
    write("python/qemu/__init__.py", "");
    write("build/build.ninja", "");
    let venv = dir.path().join("build/pyvenv/bin");
    std::fs::create_dir_all(&venv).expect("mkdir");
    std::os::unix::fs::symlink(&python, venv.join("python3")).expect("venv python3");
    std::os::unix::fs::symlink(&qemu, dir.path().join("build/qemu-system-x86_64")).expect("qemu");
    Some((dir, functional))
}

#[test]
fn a_qemu_trees_tests_get_meson_s_environment_timeouts_and_tags() {
    let Some((tree, functional)) = fake_tree() else {
        return;
    };
    let cache = tree.path().join("kennel-cache");

    let run = kennel(
        &[path_str(&functional), "-t", "arch:x86_64", "--offline"],
        &[("KENNEL_CACHE_DIR", path_str(&cache))],
    );

    let file = |name: &str| {
        functional
            .join(format!("test_{name}.py"))
            .display()
            .to_string()
    };
    let env = run.test(&format!("{} [x86_64]: the x86_64 binary", file("env")));
    assert_eq!(env["status"], "PASS", "{}\n{}", run.stdout, run.stderr);
    let results = run.results();
    let points: Vec<&Value> = results["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .filter(|t| t["name"].as_str().unwrap_or("").starts_with(&file("env")))
        .collect();
    assert_eq!(points.len(), 7, "{}", run.stdout);
    for p in points {
        assert_eq!(p["status"], "PASS", "{p}");
    }
    let version = run.test(&format!("{} [x86_64]: version", file("version")));
    assert_eq!(version["status"], "PASS", "{version}");
    // meson's `test_timeouts` gives `slow` 3 s, not kennel's default.
    let slow = run.test(&format!("{} [x86_64]", file("slow")));
    assert_eq!(slow["status"], "INTERRUPTED", "{slow}");
    let reason = slow["reason"].as_str().expect("reason");
    assert!(reason.contains("timed out after 3s"), "{reason}");
    assert!(
        run.stderr
            .contains("tests_x86_64_system_thorough is not a plain list"),
        "{}",
        run.stderr
    );
}

#[test]
fn meson_s_quick_set_is_the_quick_tag_and_list_shows_tags_and_timeouts() {
    let Some((_tree, functional)) = fake_tree() else {
        return;
    };

    let quick = listed(&functional, &["-t", "quick"]);
    let everything = listed(&functional, &[]);

    let tags = serde_json::json!(["quick", "arch:x86_64"]);
    assert_eq!(
        quick,
        [
            (
                "test_env.py".to_string(),
                tags.clone(),
                serde_json::json!(90.0)
            ),
            ("test_version.py".to_string(), tags, serde_json::json!(90.0)),
        ]
    );
    // The thorough test: its own tag and meson's `test_timeouts` entry for it.
    let slow = everything
        .iter()
        .find(|(file, _, _)| file == "test_slow.py")
        .unwrap_or_else(|| panic!("test_slow.py listed: {everything:?}"));
    assert_eq!(slow.1, serde_json::json!(["thorough", "arch:x86_64"]));
    assert_eq!(slow.2, serde_json::json!(3.0));
}

/// `kennel list --json` of a tree's functional tests with `args`: each row's
/// file name, tags and timeout.
fn listed(functional: &Path, args: &[&str]) -> Vec<(String, Value, Value)> {
    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["list", "--json"])
        .args(args)
        .arg(functional)
        .output_within(RUN_BOUND);
    let rows: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let name = r["name"].as_str().expect("name");
            let file = Path::new(name.split(' ').next().expect("file"));
            let short = file.file_name().expect("file name").to_string_lossy();
            (
                short.into_owned(),
                r["tags"].clone(),
                r["timeout_s"].clone(),
            )
        })
        .collect()
}

#[test]
fn assets_fetch_runs_each_test_file_once_in_its_precache_mode() {
    let Some((tree, functional)) = fake_tree() else {
        return;
    };
    let cache = tree.path().join("kennel-cache");

    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["assets", "fetch"])
        .arg(functional.join("test_version.py"))
        .env("KENNEL_CACHE_DIR", &cache)
        .env_remove("QEMU_TEST_CACHE_DIR")
        .output_within(RUN_BOUND);

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("kennel: 1 QEMU test files precached, 0 of them failed"),
        "{stdout}"
    );
    let written =
        std::fs::read_to_string(cache.join("qemu/download/precached")).expect("precached");
    assert!(
        written.ends_with(&functional.display().to_string()),
        "{written}"
    );
}

/// pycotap as QEMU's tests use it (`TAPTestRunner` with `LogMode.LogToError`):
/// a failure's traceback on stderr, then `not ok N <test id>` on stdout.
const PYCOTAP_STUB: &str = r#"
import enum, sys, unittest
class LogMode(enum.Enum):
    LogToError = 1
class _Result(unittest.TestResult):
    n = 0
    def addSuccess(self, test):
        self.n += 1
        print("ok %d %s" % (self.n, test.id()), flush=True)
    def addFailure(self, test, err):
        super().addFailure(test, err)
        print(self._exc_info_to_string(err, test), file=sys.stderr, flush=True)
        self.n += 1
        print("not ok %d %s" % (self.n, test.id()), flush=True)
    addError = addFailure
class TAPTestRunner:
    def __init__(self, **kwargs):
        pass
    def run(self, test):
        print("TAP version 13")
        print("1..%d" % test.countTestCases(), flush=True)
        result = _Result()
        test(result)
        return result
"#;

/// Two test points run the way QEMU's `QemuBaseTest.main()` runs a file: loaded
/// by module name through an argv of its own, so names on the file's command line
/// are ignored.
const TEST_POINTS: &str = r#"
import os, sys, unittest, pycotap
class Points(unittest.TestCase):
    def test_fails(self):
        self.assertEqual(1, 2)
    def test_passes(self):
        pass
if __name__ == "__main__":
    module = os.path.basename(sys.argv[0])[:-3]
    tr = pycotap.TAPTestRunner(message_log=pycotap.LogMode.LogToError)
    res = unittest.main(module=None, testRunner=tr, exit=False, argv=["__dummy__", module])
    sys.exit(not res.result.wasSuccessful())
"#;

#[test]
fn replay_failed_runs_only_the_failing_point_of_a_qemu_test_file() {
    let Some((tree, functional)) = fake_tree() else {
        return;
    };
    let add = |rel: &str, text: &str| {
        let path = tree.path().join(rel);
        let mut old = std::fs::read_to_string(&path).unwrap_or_default();
        old.push_str(text);
        std::fs::write(path, old).expect("write");
    };
    add("python/pycotap.py", PYCOTAP_STUB);
    add("tests/functional/test_points.py", TEST_POINTS);
    add(
        "tests/functional/meson.build",
        "tests_x86_64_system_quick += [\n  'points',\n]\n",
    );
    let file = functional.join("test_points.py");
    let run = kennel(&[path_str(&file), "-t", "arch:x86_64"], &[]);
    let name = |point: &str| format!("{} [x86_64]: test_points.Points.{point}", file.display());
    assert_eq!(
        run.test(&name("test_fails"))["status"],
        "FAIL",
        "{}",
        run.stdout
    );
    assert_eq!(run.test(&name("test_passes"))["status"], "PASS");

    let replay = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["replay", "--failed"])
        .arg(run.job_dir())
        .arg("--results-dir")
        .arg(run.results_dir.path())
        .output_within(RUN_BOUND);

    let said = String::from_utf8_lossy(&replay.stdout);
    assert!(
        said.contains("running only its test point test_points.Points.test_fails"),
        "{said}"
    );
    let latest = run.results_dir.path().join("latest/results.json");
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(latest).expect("results")).expect("JSON");
    let names: Vec<&str> = results["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, [name("test_fails")], "{said}");
    let reason = results["tests"][0]["reason"].as_str().unwrap_or("");
    assert!(reason.contains("AssertionError: 1 != 2"), "{reason}");
}

#[test]
fn kennel_in_a_qemu_source_tree_without_paths_takes_its_functional_tests_only() {
    let Some((tree, _functional)) = fake_tree() else {
        return;
    };
    let iotest = tree.path().join("tests/qemu-iotests/001");
    std::fs::create_dir_all(iotest.parent().expect("parent")).expect("mkdir");
    std::fs::write(&iotest, "#!/bin/sh\nexit 1\n").expect("write");
    let mut perms = std::fs::metadata(&iotest).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&iotest, perms).expect("chmod");

    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["list", "-t", "quick"])
        .current_dir(tree.path())
        .output_within(RUN_BOUND);

    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("tests/functional/test_env.py [x86_64]"),
        "{listed}"
    );
    assert!(!listed.contains("qemu-iotests"), "{listed}");
}

/// QEMU 10.0.2's own tree, binary and test venv as CI has them under `build/`
/// (scripts/fetch-qemu10.sh, fetch-qemu10-source.sh, qemu-functional-venv.sh):
/// the tree's `tests/functional`, the binary and the venv's `bin`, or `None`
/// (the test returns) when one is missing.
fn qemu_10() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let build = workspace().join("build");
    let functional = build.join("qemu-10-src/tests/functional");
    let binary = build.join("qemu-10/usr/bin/qemu-system-x86_64");
    let venv = build.join("qemu-functional-venv/bin");
    let have = [
        (&functional, "scripts/fetch-qemu10-source.sh"),
        (&binary, "scripts/fetch-qemu10.sh"),
        (&venv, "scripts/qemu-functional-venv.sh"),
    ];
    for (path, script) in have {
        if !path.exists() {
            kennel_testkit::missing(&format!("{} (run {script})", path.display()));
            return None;
        }
    }
    Some((functional, binary, venv))
}

#[test]
fn replay_failed_runs_only_the_failing_point_of_a_real_qemu_10_test_file() {
    let Some((functional, binary, venv)) = qemu_10() else {
        return;
    };
    // A temporary copy of the tree's tests and python package, with a copy of
    // its test_version.py given a second point that fails honestly (QEMU 10
    // is no 9.x).
    let tree = tempfile::tempdir().expect("tree");
    let copy = Command::new("cp")
        .arg("-a")
        .arg(&functional)
        .arg(functional.join("../../python"))
        .arg(tree.path())
        .output_within(RUN_BOUND);
    assert!(copy.status.success(), "{copy:?}");
    let tests = tree.path().join("tests");
    std::fs::create_dir(&tests).expect("mkdir tests");
    std::fs::rename(tree.path().join("functional"), tests.join("functional")).expect("move");
    let functional = tests.join("functional");
    let version = std::fs::read_to_string(functional.join("test_version.py")).expect("read");
    let failing = version.replace(
        "if __name__ == '__main__':",
        "    def test_qmp_human_info_version_is_nine(self):\n\
         \x20       self.set_machine('none')\n\
         \x20       self.vm.add_args('-nodefaults')\n\
         \x20       self.vm.launch()\n\
         \x20       res = self.vm.cmd('human-monitor-command',\n\
         \x20                         command_line='info version')\n\
         \x20       self.assertRegex(res, r'^9\\.')\n\n\
         if __name__ == '__main__':",
    );
    assert_ne!(failing, version, "test_version.py changed shape");
    let file = functional.join("test_version_points.py");
    std::fs::write(&file, failing).expect("write");
    let mut meson = std::fs::read_to_string(functional.join("meson.build")).expect("meson");
    meson.push_str("\ntests_x86_64_system_quick += [\n  'version_points',\n]\n");
    std::fs::write(functional.join("meson.build"), meson).expect("meson");
    let path = format!(
        "{}:{}",
        venv.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [("PATH", path.as_str())];

    let run = kennel(
        &[
            path_str(&file),
            "-t",
            "arch:x86_64",
            "--qemu",
            path_str(&binary),
            "--offline",
        ],
        &env,
    );
    let name = |point: &str| {
        format!(
            "{} [x86_64]: test_version_points.Version.{point}",
            file.display()
        )
    };
    let passes = run.test(&name("test_qmp_human_info_version"));
    assert_eq!(passes["status"], "PASS", "{}{}", run.stdout, run.stderr);
    let fails = run.test(&name("test_qmp_human_info_version_is_nine"));
    assert_eq!(fails["status"], "FAIL", "{}", run.stdout);

    let replay = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["replay", "--failed"])
        .arg(run.job_dir())
        .arg("--results-dir")
        .arg(run.results_dir.path())
        .envs(env)
        .output_within(RUN_BOUND);

    let said = String::from_utf8_lossy(&replay.stdout);
    assert!(
        said.contains(
            "running only its test point test_version_points.Version.test_qmp_human_info_version_is_nine"
        ),
        "{said}"
    );
    let latest = run.results_dir.path().join("latest/results.json");
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(latest).expect("results")).expect("JSON");
    let replayed: Vec<(&str, &str)> = results["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or(""),
                t["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        replayed,
        [(name("test_qmp_human_info_version_is_nine").as_str(), "FAIL")],
        "{said}"
    );
    // The file ran that one point (its plan had one), on QEMU 10.
    let reason = results["tests"][0]["reason"].as_str().unwrap_or("");
    assert!(reason.contains("not ok 1 - "), "{reason}");
    assert!(reason.contains("not found in '10.0"), "{reason}");
}

/// `kennel list --qemu BUILD` from outside the tree finds its tests through
/// the build's `meson-info` (issue 29).
#[test]
fn a_build_directory_given_from_elsewhere_lists_its_source_trees_tests() {
    let Some((tree, _functional)) = fake_tree() else {
        return;
    };
    let build = tree.path().join("build");
    std::fs::create_dir_all(build.join("meson-info")).expect("mkdir");
    let info = serde_json::json!({
        "directories": { "source": tree.path(), "build": &build }
    });
    std::fs::write(build.join("meson-info/meson-info.json"), info.to_string()).expect("write");
    let elsewhere = tempfile::tempdir().expect("elsewhere");

    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["list", "--json", "-t", "quick", "--qemu", path_str(&build)])
        .current_dir(elsewhere.path())
        .output()
        .expect("kennel list");

    let rows: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let names: Vec<&str> = rows
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{rows}");
    assert!(
        names.iter().all(|n| n.contains("/tests/functional/test_")),
        "{names:?}"
    );
}
