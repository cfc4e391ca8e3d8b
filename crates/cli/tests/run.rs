//! `kennel run` end to end: the real binary, over the fixtures in
//! `tests/functional/` and files written to temporary folders.
//!
//! Every run goes through [`kennel`], which tags the processes it starts with a
//! unique `KENNEL_TEST_MARKER` environment variable and fails the test if any of
//! them (test processes, QEMUs, fake QEMUs) is still alive after kennel exits.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The workspace root: fixture paths and `examples/` are relative to it.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn fixture(rel: &str) -> String {
    format!("tests/functional/{rel}")
}

/// Path of `kennel-fake-qemu`, built (once) beside the `kennel` binary.
fn fake_qemu() -> PathBuf {
    static FAKE: OnceLock<PathBuf> = OnceLock::new();
    FAKE.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "kennel-fake-qemu"])
            .current_dir(workspace())
            .status()
            .expect("run `cargo build -p kennel-fake-qemu`");
        assert!(status.success(), "`cargo build -p kennel-fake-qemu` failed");
        let path = Path::new(env!("CARGO_BIN_EXE_kennel")).with_file_name("kennel-fake-qemu");
        assert!(
            path.is_file(),
            "{} missing; run `cargo build -p kennel-fake-qemu`",
            path.display()
        );
        path
    })
    .clone()
}

fn unique_marker() -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "kennel-cli-test-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    )
}

/// Live processes whose environment holds `KENNEL_TEST_MARKER=<marker>`.
fn processes_with(marker: &str) -> Vec<u32> {
    let needle = format!("KENNEL_TEST_MARKER={marker}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// Wait up to `limit` for every marked process to be gone; the survivors.
fn survivors_after(marker: &str, limit: Duration) -> Vec<u32> {
    let end = Instant::now() + limit;
    loop {
        let left = processes_with(marker);
        if left.is_empty() || Instant::now() >= end {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A finished `kennel run`.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    results_dir: tempfile::TempDir,
}

impl Run {
    fn job_dir(&self) -> PathBuf {
        self.results_dir.path().join("latest")
    }

    fn results(&self) -> Value {
        let path = self.job_dir().join("results.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}\nstderr:\n{}", path.display(), self.stderr));
        serde_json::from_str(&text).expect("results.json is JSON")
    }

    /// The result entry of the test named `name`.
    fn test(&self, name: &str) -> Value {
        let results = self.results();
        results["tests"]
            .as_array()
            .expect("tests[]")
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no test named {name:?} in {results:#}"))
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.results()["tests"]
            .as_array()
            .expect("tests[]")
            .iter()
            .map(|t| t["name"].as_str().expect("name").to_string())
            .collect();
        names.sort();
        names
    }

    fn statuses(&self) -> Vec<String> {
        self.results()["tests"]
            .as_array()
            .expect("tests[]")
            .iter()
            .map(|t| t["status"].as_str().expect("status").to_string())
            .collect()
    }
}

/// Run `kennel run ARGS --results-dir <temp>` from the workspace root, with `env`.
/// Panics when a process it started outlives it by more than 2 s.
fn kennel(args: &[&str], env: &[(&str, &str)]) -> Run {
    let results_dir = tempfile::tempdir().expect("results dir");
    let marker = unique_marker();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .arg("run")
        .args(args)
        .arg("--results-dir")
        .arg(results_dir.path())
        .current_dir(workspace())
        .env("KENNEL_TEST_MARKER", &marker)
        .env_remove("KENNEL_RESULTS_DIR")
        .env_remove("QEMU_TEST_QEMU_BINARY")
        .envs(env.iter().copied())
        .output()
        .expect("run kennel");
    let elapsed = started.elapsed();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed,
        results_dir,
    };
    let left = survivors_after(&marker, Duration::from_secs(2));
    assert!(
        left.is_empty(),
        "processes outlived `kennel run {args:?}`: {left:?}\nstdout:\n{}",
        run.stdout
    );
    run
}

/// A folder holding the given `(file name, text)` test files.
fn test_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("test dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write test file");
    }
    dir
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

const GOOD: &str = r#"
name = "good"
timeout = "30s"

[machine]
type = "none"
args = ["-nodefaults", "-S"]

[[step]]
qmp = "query-status"
returns = { status = "prelaunch" }
"#;

/// A test on the fake QEMU: answers one `query-status`, then whatever `KENNEL_FAKE_QEMU` says.
fn fake_test(timeout: &str) -> String {
    format!(
        r#"
name = "fake"
timeout = "{timeout}"

[machine]
binary = "{}"
type = "none"

[[step]]
qmp = "query-status"
returns = {{ status = "running" }}

[[step]]
qmp = "query-status"
timeout = "1s"
"#,
        fake_qemu().display()
    )
}

// --- Passing suites -------------------------------------------------------

#[test]
fn examples_qmp_tests_pass_and_exit_zero() {
    let run = kennel(&["examples/qmp"], &[]);

    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.statuses().iter().all(|s| s == "PASS"), "{}", run.stdout);
    assert!(!run.statuses().is_empty());
}

#[test]
fn selftest_pass_folder_passes_entirely() {
    let run = kennel(&[&fixture("pass")], &[]);

    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.results()["summary"]["total"], 10, "{}", run.stdout);
    assert_eq!(run.results()["summary"]["pass"], 10, "{}", run.stdout);
}

#[test]
fn expect_exit_on_a_bad_argument_passes() {
    let run = kennel(&[&fixture("pass/expect_exit.toml")], &[]);

    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.test("selftest: expect_exit on a bad machine type")["status"],
        "PASS"
    );
}

// --- Failing steps --------------------------------------------------------

#[test]
fn returns_mismatch_fails_naming_the_step_file_and_line() {
    let file = fixture("expected-fail/returns_mismatch.toml");

    let run = kennel(&[&file], &[]);

    let test = run.test("expected-fail: returns does not match");
    let reason = test["reason"].as_str().expect("reason");
    assert_eq!(run.code, 1);
    assert_eq!(test["status"], "FAIL");
    assert!(reason.contains(&format!("{file}:12")), "{reason}");
    assert!(reason.contains(r#"{"status":"running"}"#), "{reason}");
    assert!(reason.contains("prelaunch"), "{reason}");
}

#[test]
fn event_that_never_comes_fails_at_the_step_timeout() {
    let run = kennel(&[&fixture("expected-fail/event_never_comes.toml")], &[]);

    let test = run.test("expected-fail: event step timeout");
    assert_eq!(run.code, 1);
    assert_eq!(test["status"], "FAIL");
    assert!(
        test["reason"]
            .as_str()
            .expect("reason")
            .contains("NEVER_EMITTED"),
        "{test}"
    );
    assert!(run.elapsed >= Duration::from_secs(1), "{:?}", run.elapsed);
    assert!(run.elapsed < Duration::from_secs(4), "{:?}", run.elapsed);
}

#[test]
fn step_timeout_reason_says_it_timed_out() {
    let run = kennel(&[&fixture("expected-fail/event_never_comes.toml")], &[]);

    let test = run.test("expected-fail: event step timeout");
    let reason = test["reason"].as_str().expect("reason");
    assert!(
        reason.contains("timed out") || reason.contains("within 1s"),
        "{reason}"
    );
}

#[test]
fn test_timeout_interrupts_a_longer_step() {
    let run = kennel(&[&fixture("expected-fail/test_timeout.toml")], &[]);

    let test = run.test("expected-fail: test timeout");
    assert_eq!(run.code, 1);
    assert_eq!(test["status"], "INTERRUPTED");
    assert!(
        test["reason"]
            .as_str()
            .expect("reason")
            .contains("test timeout"),
        "{test}"
    );
    assert!(run.elapsed < Duration::from_secs(6), "{:?}", run.elapsed);
}

// --- Malformed files ------------------------------------------------------

#[test]
fn unknown_key_alone_exits_2_naming_file_line_and_column() {
    let dir = test_dir(&[(
        "bad.toml",
        "[machine]\ntype = \"none\"\nflavour = \"x\"\n\n[[step]]\nrunning = true\n",
    )]);
    let file = dir.path().join("bad.toml");

    let run = kennel(&[path_str(&file)], &[]);

    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!("{}:3:1:", file.display())),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("flavour"), "{}", run.stderr);
}

#[test]
fn toml_syntax_error_alone_exits_2_naming_file_line_and_column() {
    let dir = test_dir(&[("bad.toml", "[machine]\ntype = \"none\n")]);
    let file = dir.path().join("bad.toml");

    let run = kennel(&[path_str(&file)], &[]);

    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!("{}:2:", file.display())),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_variable_in_a_machine_names_the_machine_table_and_the_variable() {
    let dir = test_dir(&[(
        "bad.toml",
        "# a comment\n[machine]\ntype = \"none\"\nargs = [\"-S\", \"${nope}\"]\n\n[[step]]\nrunning = true\n",
    )]);
    let file = dir.path().join("bad.toml");

    let run = kennel(&[path_str(&file)], &[]);

    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!("{}:2:1:", file.display())) && run.stderr.contains("${nope}"),
        "{}",
        run.stderr
    );
}

#[test]
fn malformed_file_beside_a_good_one_is_an_error_and_the_good_one_passes() {
    let dir = test_dir(&[
        ("good.toml", GOOD),
        (
            "bad.toml",
            "[machine]\ntype = \"none\"\nflavour = \"x\"\n\n[[step]]\nrunning = true\n",
        ),
    ]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let bad = dir.path().join("bad.toml");
    let bad_entry = run.test(path_str(&bad));
    assert_eq!(run.code, 1);
    assert_eq!(run.test("good")["status"], "PASS");
    assert_eq!(bad_entry["status"], "ERROR");
    assert!(
        bad_entry["reason"]
            .as_str()
            .expect("reason")
            .contains(&format!("{}:3:1", bad.display())),
        "{bad_entry}"
    );
}

#[test]
fn non_test_toml_in_a_folder_is_passed_over() {
    let dir = test_dir(&[("good.toml", GOOD), ("kennel.toml", "jobs = 4\n")]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.names(), vec!["good".to_string()]);
}

// --- QEMU missing or misbehaving -----------------------------------------

#[test]
fn missing_qemu_is_an_error_and_other_tests_still_run() {
    let own_binary = GOOD
        .replace("name = \"good\"", "name = \"own binary\"")
        .replace(
            "[machine]\n",
            "[machine]\nbinary = \"qemu-system-x86_64\"\n",
        );
    let dir = test_dir(&[("good.toml", GOOD), ("own.toml", &own_binary)]);

    let run = kennel(&[path_str(dir.path()), "--qemu", "/nonexistent"], &[]);

    let missing = run.test("good");
    assert_eq!(run.code, 1);
    assert_eq!(missing["status"], "ERROR");
    assert!(
        missing["reason"]
            .as_str()
            .expect("reason")
            .contains("--qemu /nonexistent is not an executable file"),
        "{missing}"
    );
    assert_eq!(run.test("own binary")["status"], "PASS");
}

#[test]
fn qemu_exiting_at_launch_is_an_error_with_its_exit_code_and_output() {
    let dir = test_dir(&[("fake.toml", &fake_test("20s"))]);

    let run = kennel(&[path_str(dir.path())], &[("KENNEL_FAKE_QEMU", "exit:3")]);

    let test = run.test("fake");
    let detail = test["detail"].as_str().unwrap_or_default();
    assert_eq!(run.code, 1);
    assert_eq!(test["status"], "ERROR");
    assert!(
        test["reason"]
            .as_str()
            .expect("reason")
            .contains("failed to launch"),
        "{test}"
    );
    assert!(detail.contains("exit code 3"), "{test}");
    assert!(detail.contains("fake-qemu: exiting with 3"), "{test}");
}

#[test]
fn qemu_hanging_mid_test_fails_the_step_and_the_job_completes() {
    let dir = test_dir(&[("fake.toml", &fake_test("30s"))]);

    let run = kennel(
        &[path_str(dir.path())],
        &[("KENNEL_FAKE_QEMU", "hang-after:1")],
    );

    let test = run.test("fake");
    let reason = test["reason"].as_str().expect("reason");
    assert_eq!(run.code, 1);
    assert_eq!(test["status"], "FAIL");
    assert!(reason.contains("fake.toml:13"), "{reason}");
    assert!(reason.contains("query-status"), "{reason}");
    assert_eq!(run.results()["summary"]["total"], 1);
    assert_eq!(run.results()["summary"]["fail"], 1);
}

#[test]
fn qemu_crashing_mid_test_is_an_error_naming_the_signal() {
    let dir = test_dir(&[("fake.toml", &fake_test("30s"))]);

    let run = kennel(
        &[path_str(dir.path())],
        &[("KENNEL_FAKE_QEMU", "crash-after:1")],
    );

    let test = run.test("fake");
    assert_eq!(run.code, 1);
    assert_eq!(test["status"], "ERROR");
    assert!(
        test["reason"]
            .as_str()
            .expect("reason")
            .contains("signal 6"),
        "{test}"
    );
}

#[test]
fn qemu_that_never_greets_is_stopped_by_the_test_timeout() {
    let dir = test_dir(&[("fake.toml", &fake_test("3s"))]);

    let run = kennel(&[path_str(dir.path())], &[("KENNEL_FAKE_QEMU", "hang")]);

    let test = run.test("fake");
    let reason = test["reason"].as_str().expect("reason");
    assert_eq!(run.code, 1);
    assert_eq!(test["status"], "INTERRUPTED");
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
    assert!(reason.contains("test timeout"), "{reason}");
    assert!(reason.contains("launch"), "{reason}");
}

#[test]
fn qemu_crashing_mid_test_is_an_error_saying_qmp_closed() {
    let dir = test_dir(&[("fake.toml", &fake_test("30s"))]);

    let run = kennel(
        &[path_str(dir.path())],
        &[("KENNEL_FAKE_QEMU", "crash-after:1")],
    );

    let test = run.test("fake");
    let reason = test["reason"].as_str().expect("reason");
    assert_eq!(run.code, 1);
    assert_eq!(test["status"], "ERROR");
    assert!(reason.contains("fake.toml:13"), "{reason}");
    assert!(reason.contains("QMP connection closed"), "{reason}");
}

// --- Requirements and variants --------------------------------------------

#[test]
fn missing_device_requirement_skips_naming_the_device() {
    let run = kennel(&[&fixture("skip/missing_device.toml")], &[]);

    let test = run.test("skip: requires a device that does not exist");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(test["status"], "SKIP");
    assert!(
        test["reason"]
            .as_str()
            .expect("reason")
            .contains("no-such-device"),
        "{test}"
    );
}

#[test]
fn variants_make_one_test_per_value() {
    let run = kennel(&[&fixture("variants")], &[]);

    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.names(),
        vec![
            "variants: cpus [cpus=1]".to_string(),
            "variants: cpus [cpus=2]".to_string()
        ]
    );
    assert_eq!(run.test("variants: cpus [cpus=2]")["variant"]["cpus"], 2);
}

#[test]
fn param_collapses_variants_into_one_test() {
    let run = kennel(&[&fixture("variants"), "-p", "cpus=4"], &[]);

    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.names(), vec!["variants: cpus [cpus=4]".to_string()]);
}

#[test]
fn variant_values_are_substituted_in_the_name() {
    let dir = test_dir(&[(
        "named.toml",
        &format!("{GOOD}\n[variants]\ncpus = [1]\n")
            .replace("name = \"good\"", "name = \"cpus=${cpus}\""),
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.names(), vec!["cpus=1 [cpus=1]".to_string()]);
}

// --- The results folder -------------------------------------------------------

#[test]
fn results_json_has_the_contract_keys() {
    let run = kennel(&["examples/qmp"], &[]);

    let results = run.results();
    for key in [
        "kennel_version",
        "job_id",
        "started",
        "duration_s",
        "summary",
        "tests",
    ] {
        assert!(results.get(key).is_some(), "no {key} in {results:#}");
    }
    for key in ["total", "pass", "fail", "error", "skip", "interrupted"] {
        assert!(
            results["summary"][key].is_u64(),
            "summary.{key} in {results:#}"
        );
    }
    for test in results["tests"].as_array().expect("tests[]") {
        for key in [
            "name",
            "file",
            "variant",
            "tags",
            "status",
            "reason",
            "flaky",
            "duration_s",
            "logdir",
        ] {
            assert!(test.get(key).is_some(), "no {key} in {test:#}");
        }
    }
}

#[test]
fn each_test_logdir_holds_its_logs() {
    let run = kennel(&["examples/qmp"], &[]);

    for test in run.results()["tests"].as_array().expect("tests[]") {
        let logdir = run.job_dir().join(test["logdir"].as_str().expect("logdir"));
        for file in ["test.log", "qmp.log", "qemu.log", "cmdline"] {
            assert!(
                logdir.join(file).is_file(),
                "no {file} in {}",
                logdir.display()
            );
        }
        let cmdline = std::fs::read_to_string(logdir.join("cmdline")).expect("cmdline");
        assert!(cmdline.contains("-display none"), "{cmdline}");
    }
}

#[test]
fn latest_points_at_the_job() {
    let run = kennel(&["examples/qmp"], &[]);

    let target = std::fs::read_link(run.results_dir.path().join("latest")).expect("latest link");
    let job_id = run.results()["job_id"]
        .as_str()
        .expect("job_id")
        .to_string();

    assert_eq!(target, PathBuf::from(format!("job-{job_id}")));
}

/// `(testcase count, failure count)` of a JUnit document.
fn junit_counts(xml: &str) -> (usize, usize) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut cases, mut failures) = (0, 0);
    loop {
        match reader.read_event().expect("junit.xml is well-formed XML") {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"testcase" => cases += 1,
                b"failure" => failures += 1,
                _ => {}
            },
            Event::Eof => return (cases, failures),
            _ => {}
        }
    }
}

#[test]
fn junit_has_one_testcase_per_test_and_a_failure_for_each_fail() {
    let run = kennel(
        &[
            &fixture("pass/qmp_query_status.toml"),
            &fixture("expected-fail/returns_mismatch.toml"),
            &fixture("skip/missing_device.toml"),
        ],
        &[],
    );

    let xml = std::fs::read_to_string(run.job_dir().join("junit.xml")).expect("junit.xml");

    assert_eq!(junit_counts(&xml), (3, 1), "{xml}");
}

// --- Console (on the fake QEMU) ---------------------------------------------

/// A console test on the fake QEMU, whose console text comes from `KENNEL_FAKE_QEMU`.
fn console_test() -> String {
    format!(
        r#"
name = "console"
timeout = "10s"

[machine]
binary = "{}"
type = "none"
console = true

[[step]]
console_regex = 'Linux version (?<ver>\S+)'
save = {{ ver = "/ver" }}

[[step]]
console = "login:"

[[step]]
send = "root\n"

[[step]]
console = "booted ver ${{ver}}"
timeout = "2s"
"#,
        fake_qemu().display()
    )
}

#[test]
fn console_waits_regex_groups_and_send_pass() {
    let dir = test_dir(&[("console.toml", &console_test())]);

    let run = kennel(
        &[path_str(dir.path())],
        &[(
            "KENNEL_FAKE_QEMU",
            r"console:Linux version 6.1.0 (x)\nlogin: \nbooted ver 6.1.0\n",
        )],
    );

    let console_log = std::fs::read_to_string(
        run.job_dir()
            .join(run.test("console")["logdir"].as_str().expect("logdir"))
            .join("console.log"),
    )
    .expect("console.log");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(console_log.contains("login: "), "{console_log}");
}

#[test]
fn kernel_panic_on_the_console_fails_at_once_with_the_last_lines() {
    let dir = test_dir(&[("console.toml", &console_test())]);

    let run = kennel(
        &[path_str(dir.path())],
        &[(
            "KENNEL_FAKE_QEMU",
            r"console:early line\nKernel panic - not syncing: VFS\n",
        )],
    );

    let test = run.test("console");
    let detail = test["detail"].as_str().unwrap_or_default();
    assert_eq!(test["status"], "FAIL");
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    assert!(detail.contains("| early line"), "{test}");
}

// --- Job options ----------------------------------------------------------------

#[test]
fn fail_fast_with_one_slot_runs_nothing_after_the_first_failure() {
    let run = kennel(&[&fixture("expected-fail"), "-j", "1", "--fail-fast"], &[]);

    assert_eq!(run.statuses(), vec!["FAIL", "SKIP", "SKIP"]);
}

#[test]
fn retries_rerun_a_failing_test_and_keep_each_attempt() {
    let run = kennel(
        &[
            &fixture("expected-fail/returns_mismatch.toml"),
            "--retries",
            "1",
        ],
        &[],
    );

    let test = run.test("expected-fail: returns does not match");
    let logdir = run.job_dir().join(test["logdir"].as_str().expect("logdir"));
    assert_eq!(test["status"], "FAIL");
    assert_eq!(test["attempts"], 2);
    assert_eq!(test["flaky"], false);
    assert!(logdir.join("attempt-1").join("test.log").is_file());
}

#[test]
fn tag_filter_selects_only_tagged_tests() {
    let run = kennel(&["tests/functional", "-t", "expected-fail"], &[]);

    assert_eq!(
        run.names(),
        vec![
            "expected-fail: a cloud-init guest that panics".to_string(),
            "expected-fail: a guest that never phones home".to_string(),
            "expected-fail: event step timeout".to_string(),
            "expected-fail: returns does not match".to_string(),
            "expected-fail: test timeout".to_string(),
        ]
    );
}

// ---- assets, executables, TAP, retries, shards, big output ----

/// A private asset cache for one run.
fn cache_env(dir: &tempfile::TempDir) -> (&'static str, String) {
    ("KENNEL_CACHE_DIR", path_str(dir.path()).to_string())
}

#[test]
fn asset_example_is_verified_uncompressed_and_used() {
    let cache = tempfile::tempdir().expect("cache");
    let (k, v) = cache_env(&cache);

    let run = kennel(&["examples/assets"], &[(k, v.as_str())]);

    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.statuses(), ["PASS"]);
}

/// A test declaring an asset behind a URL that is never fetched in these tests.
const URL_ASSET: &str = r#"
name = "needs a download"
[assets.image]
url = "http://127.0.0.1:9/image.raw"
sha256 = "de0ce093c3d099f6f38de02602ff7cb7148f70bfdd43c720c766468044ba14a1"
[machine]
type = "none"
args = ["-nodefaults", "-S", "-blockdev", "driver=file,filename=${asset:image},node-name=d"]
[[step]]
running = true
"#;

#[test]
fn offline_run_with_an_uncached_asset_skips_and_says_how_to_fetch_it() {
    let cache = tempfile::tempdir().expect("cache");
    let (k, v) = cache_env(&cache);
    let dir = test_dir(&[("needs.toml", URL_ASSET)]);

    let run = kennel(&[path_str(dir.path()), "--offline"], &[(k, v.as_str())]);

    let test = run.test("needs a download");
    assert_eq!(test["status"], "SKIP", "{test}");
    assert!(
        test["reason"]
            .as_str()
            .expect("reason")
            .contains("kennel assets fetch"),
        "{test}"
    );
}

#[test]
fn no_download_variable_means_offline() {
    let cache = tempfile::tempdir().expect("cache");
    let (k, v) = cache_env(&cache);
    let dir = test_dir(&[("needs.toml", URL_ASSET)]);

    let run = kennel(
        &[path_str(dir.path())],
        &[(k, v.as_str()), ("KENNEL_NO_DOWNLOAD", "1")],
    );

    assert_eq!(run.statuses(), ["SKIP"]);
}

#[test]
fn offline_run_requiring_assets_errors_on_an_uncached_asset() {
    let cache = tempfile::tempdir().expect("cache");
    let (k, v) = cache_env(&cache);
    let dir = test_dir(&[("needs.toml", URL_ASSET)]);

    let run = kennel(
        &[path_str(dir.path()), "--offline", "--require-assets"],
        &[(k, v.as_str())],
    );

    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.statuses(), ["ERROR"]);
}

/// A folder of executable scripts.
fn script_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = test_dir(files);
    for (name, _) in files {
        let path = dir.path().join(name);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    dir
}

#[test]
fn executables_pass_skip_and_fail_by_exit_status() {
    let dir = script_dir(&[
        ("a-pass.sh", "#!/bin/sh\nexit 0\n"),
        ("b-skip.sh", "#!/bin/sh\necho 'needs a gpu' >&2\nexit 77\n"),
        ("c-fail.sh", "#!/bin/sh\necho 'broken'\nexit 3\n"),
    ]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.statuses(), ["PASS", "SKIP", "FAIL"]);
    let fail = &run.results()["tests"][2];
    assert!(
        fail["reason"]
            .as_str()
            .expect("reason")
            .contains("exit code 3"),
        "{fail}"
    );
    assert_eq!(run.results()["tests"][1]["reason"], "needs a gpu");
}

/// Issue 11: the runner upper-cased `-p` names (`KENNEL_PARAM_CPU-MODEL`)
/// where `t.param("cpu-model")` reads `KENNEL_PARAM_CPU_MODEL`. Executables
/// and Rust tests get their parameters from the same function; the Rust
/// side is pinned in crates/kennel/src/test.rs.
#[test]
fn parameters_reach_executables_by_one_naming_rule() {
    let dir = script_dir(&[(
        "param.sh",
        "#!/bin/sh\n[ \"$KENNEL_PARAM_CPU_MODEL\" = max ] || { echo \"got '$KENNEL_PARAM_CPU_MODEL'\"; exit 1; }\n",
    )]);

    let run = kennel(&[path_str(dir.path()), "-p", "cpu-model=max"], &[]);

    assert_eq!(run.statuses(), ["PASS"], "{}", run.stdout);
}

#[test]
fn each_tap_test_point_is_its_own_result() {
    let dir = script_dir(&[(
        "suite.sh",
        "#!/bin/sh\necho 'TAP version 13'\necho '1..3'\necho 'ok 1 - boots'\necho 'not ok 2 - migrates'\necho '# got failed'\necho 'ok 3 - kvm # SKIP no KVM'\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let names: Vec<String> = run.results()["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| {
            format!(
                "{} {}",
                t["status"].as_str().unwrap_or(""),
                t["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    let file = dir.path().join("suite.sh");
    assert_eq!(
        names,
        [
            format!("PASS {}: boots", file.display()),
            format!("FAIL {}: migrates", file.display()),
            format!("SKIP {}: kvm", file.display()),
        ]
    );
}

#[test]
fn tap_producer_that_stops_early_is_an_error() {
    let dir = script_dir(&[("short.sh", "#!/bin/sh\necho '1..3'\necho 'ok 1 - one'\n")]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.statuses(), ["PASS", "ERROR"]);
    let last = &run.results()["tests"][1];
    assert!(
        last["reason"]
            .as_str()
            .expect("reason")
            .contains("planned 3 tests but ran 1"),
        "{last}"
    );
}

#[test]
fn executable_past_its_timeout_is_killed_and_interrupted() {
    let dir = script_dir(&[("slow.sh", "#!/bin/sh\nsleep 300\n")]);

    let run = kennel(&[path_str(dir.path()), "--timeout-factor", "0.01"], &[]);

    assert_eq!(run.statuses(), ["INTERRUPTED"]);
    assert!(run.elapsed < Duration::from_secs(20), "{:?}", run.elapsed);
}

#[test]
fn a_hundred_megabytes_of_output_are_streamed_to_the_log() {
    let dir = script_dir(&[(
        "loud.sh",
        "#!/bin/sh\nhead -c 100000000 /dev/zero | tr '\\0' 'x' | fold -w 100\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.statuses(), ["PASS"], "{}", run.stdout);
    let logdir = run.job_dir().join(
        run.results()["tests"][0]["logdir"]
            .as_str()
            .expect("logdir"),
    );
    let size = std::fs::metadata(logdir.join("test.log"))
        .expect("test.log")
        .len();
    assert!(size >= 100_000_000, "{size}");
}

#[test]
fn a_pass_after_a_failure_is_flaky() {
    let dir = script_dir(&[(
        "qemu-once-broken.sh",
        "#!/bin/sh\nd=$(dirname \"$0\")\nif [ -e \"$d/seen\" ]; then exit 0; fi\ntouch \"$d/seen\"\nexit 1\n",
    )]);
    std::fs::write(
        dir.path().join("flaky.toml"),
        "name = \"flaky\"\n[machine]\nbinary = \"${dir}/qemu-once-broken.sh\"\naccel = \"tcg\"\nexpect_exit = { code = 0 }\n",
    )
    .expect("write");

    let run = kennel(
        &[path_str(&dir.path().join("flaky.toml")), "--retries", "2"],
        &[],
    );

    let test = run.test("flaky");
    assert_eq!(test["status"], "PASS", "{test}");
    assert_eq!(test["flaky"], true, "{test}");
    assert_eq!(test["attempts"], 2, "{test}");
    assert!(run.stdout.contains("FLAKY"), "{}", run.stdout);
}

#[test]
fn shards_together_run_every_test_exactly_once() {
    let mut all = kennel(&["tests/functional/pass", "tests/functional/variants"], &[]).names();
    all.sort();

    let mut sharded: Vec<String> = (1..=3)
        .flat_map(|k| {
            kennel(
                &[
                    "tests/functional/pass",
                    "tests/functional/variants",
                    "--shard",
                    &format!("{k}/3"),
                ],
                &[],
            )
            .names()
        })
        .collect();
    sharded.sort();

    assert_eq!(sharded, all);
}

// ---- the built-in guest ----

#[test]
fn guest_commands_through_agent_and_console_agree() {
    let run = kennel(&["tests/functional/guest"], &[]);

    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.statuses(), ["PASS"]);
}

#[test]
fn guest_command_killed_by_a_signal_fails_naming_the_signal() {
    let dir = test_dir(&[(
        "signal.toml",
        r#"
name = "killed"
tags = ["arch:x86_64"]
timeout = "120s"

[machine]
guest = "busybox"

[[step]]
run = "kill -KILL $$"
"#,
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("killed");
    assert_eq!(test["status"], "FAIL", "{test}");
    let reason = test["reason"].as_str().expect("reason");
    assert!(reason.contains("killed by signal KILL"), "{reason}");
}

#[test]
fn guest_that_never_comes_up_fails_with_its_last_console_lines() {
    let dir = test_dir(&[(
        "never_up.toml",
        "name = \"never up\"\ntimeout = \"60s\"\n[machine]\nguest = \"busybox\"\nappend = \"rdinit=/bin/false\"\n[[step]]\nrun = \"true\"\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("never up");
    assert_eq!(test["status"], "FAIL", "{test}");
    assert!(
        test["reason"]
            .as_str()
            .expect("reason")
            .contains("did not come up"),
        "{test}"
    );
    assert!(
        test["detail"]
            .as_str()
            .expect("detail")
            .contains("Kernel panic"),
        "{test}"
    );
    assert!(run.elapsed < Duration::from_secs(50), "{:?}", run.elapsed);
}

#[test]
fn guest_kernel_from_a_debian_package_asset_boots() {
    // The arm64 kernel package that scripts/fetch-foreign-guests.sh downloads.
    let debs = workspace().join("build/guest/aarch64/debs");
    let Some(deb) = std::fs::read_dir(&debs).ok().and_then(|d| {
        d.flatten().map(|e| e.path()).find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("linux-image-"))
        })
    }) else {
        eprintln!(
            "no arm64 kernel package in {}: run scripts/fetch-foreign-guests.sh",
            debs.display()
        );
        return;
    };
    let sha = Command::new("sha256sum")
        .arg(&deb)
        .output()
        .expect("sha256sum");
    let sha = String::from_utf8_lossy(&sha.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    let cache = tempfile::tempdir().expect("cache");
    let (k, v) = cache_env(&cache);
    let dir = test_dir(&[(
        "deb_kernel.toml",
        &format!(
            "name = \"kernel from a deb\"\ntimeout = \"120s\"\n[assets.kernel]\npath = \"{}\"\nsha256 = \"{sha}\"\n\
             [machine]\narch = \"aarch64\"\nguest = \"busybox\"\nkernel = \"${{asset:kernel}}\"\n\
             [[step]]\nrun = \"uname -r\"\nstdout_contains = \"arm64\"\n",
            deb.display()
        ),
    )]);

    let run = kennel(&[path_str(dir.path())], &[(k, v.as_str())]);

    assert_eq!(run.statuses(), ["PASS"], "{}", run.stdout);
}

#[test]
fn rust_tests_run_under_kennel_one_process_each() {
    let run = kennel(
        &[
            "--cargo",
            "--package",
            "kennel-examples",
            "-p",
            "cpu-model=qemu64",
        ],
        &[],
    );

    let mut by_name: Vec<(String, String)> = run.results()["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or("").to_string(),
                t["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    by_name.sort();
    assert!(
        by_name.contains(&(
            "kennel-examples::set_numa_node_outside_preconfig_is_refused".into(),
            "PASS".into()
        )),
        "{by_name:?}"
    );
    assert!(
        by_name.contains(&(
            "kennel-examples::panicking_test_fails_and_kills_qemu".into(),
            "SKIP".into()
        )),
        "{by_name:?}"
    );
    // `-p cpu-model=...` reaches `t.param("cpu-model")`, dash and all.
    let cpu = run.test("kennel-examples::every_cpu_model_expands");
    let logdir = run.job_dir().join(cpu["logdir"].as_str().expect("logdir"));
    let log = std::fs::read_to_string(logdir.join("test.log")).expect("test.log");
    assert!(log.contains("expanding 1 CPU models: qemu64"), "{log}");
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn kennel_toml_gives_the_default_paths() {
    let dir = test_dir(&[("kennel.toml", "")]);
    let examples = workspace().join("examples/qmp");
    std::fs::write(
        dir.path().join("kennel.toml"),
        format!("paths = [{:?}]\n", examples.display().to_string()),
    )
    .expect("write");

    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["list", "--json"])
        .current_dir(dir.path())
        .output()
        .expect("kennel list");

    let listed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
}

// ---- cloud-init guests (the full boot is tests/functional/cloud) ----

#[test]
fn guest_that_never_phones_home_fails_before_the_deadline_with_its_console() {
    let run = kennel(&[&fixture("cloud-fail/never_phones_home.toml")], &[]);

    let test = run.test("expected-fail: a guest that never phones home");
    assert_eq!(test["status"], "FAIL", "{test}");
    let reason = test["reason"].as_str().expect("reason");
    assert!(reason.contains("did not come up"), "{reason}");
    assert!(reason.contains("no phone-home"), "{reason}");
    // The busybox guest came up on the console, which the failure shows.
    let detail = test["detail"].as_str().expect("detail");
    assert!(detail.contains("last console lines"), "{detail}");
    assert!(detail.contains("kennel-guest"), "{detail}");
    assert!(run.elapsed < Duration::from_secs(25), "{:?}", run.elapsed);
    // The job made its SSH key, private to the user.
    use std::os::unix::fs::PermissionsExt;
    let key = run.job_dir().join("ssh/id_ed25519");
    let mode = std::fs::metadata(&key)
        .expect("job key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn cloud_init_guest_that_panics_fails_at_once() {
    let run = kennel(&[&fixture("cloud-fail/guest_panics.toml")], &[]);

    let test = run.test("expected-fail: a cloud-init guest that panics");
    assert_eq!(test["status"], "FAIL", "{test}");
    let detail = test["detail"].as_str().expect("detail");
    assert!(detail.contains("Kernel panic"), "{detail}");
    assert!(run.elapsed < Duration::from_secs(30), "{:?}", run.elapsed);
}

#[test]
fn kennel_toml_image_mirror_feeds_the_image_provider() {
    let dir = test_dir(&[
        ("kennel.toml", "image_mirror = \"mirror\"\n"),
        (
            "cloud.toml",
            "[assets.img]\ncloud = \"debian 12 amd64\"\n[machine]\nimage = \"${asset:img}\"\n",
        ),
    ]);
    let latest = dir.path().join("mirror/debian/bookworm/latest");
    std::fs::create_dir_all(&latest).expect("mirror");
    let image = latest.join("debian-12-genericcloud-amd64.qcow2");
    std::fs::write(&image, b"QFI\xfb a small stand-in image").expect("image");
    let sum = Command::new("sha512sum")
        .arg(&image)
        .output()
        .expect("sha512sum");
    let hex = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .expect("hash")
        .to_string();
    std::fs::write(
        latest.join("SHA512SUMS"),
        format!("{hex}  debian-12-genericcloud-amd64.qcow2\n"),
    )
    .expect("sums");
    let cache = tempfile::tempdir().expect("cache");

    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["assets", "fetch", "cloud.toml"])
        .current_dir(dir.path())
        .env("KENNEL_CACHE_DIR", cache.path())
        .env_remove("KENNEL_IMAGE_MIRROR")
        .output()
        .expect("kennel assets fetch");

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(&hex), "{stdout}");
}
