//! Declarative steps, QEMU faults, load errors, variants and the results files.

use crate::harness::*;

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
    // FAIL, not INTERRUPTED: the step's 1 s ran out, not the test's 30 s.
    assert!(run.elapsed >= Duration::from_secs(1), "{:?}", run.elapsed);
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
    // The step alone would have waited 60 s.
    assert!(run.elapsed < Duration::from_secs(60), "{:?}", run.elapsed);
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
    // Reported where the mistake is: the string left open at column 8 of line 2,
    // not where the parser gave up.
    assert!(
        run.stderr.contains(&format!("{}:2:8:", file.display())),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_variable_in_a_machine_is_reported_at_its_string_with_a_caret() {
    let dir = test_dir(&[(
        "bad.toml",
        "# a comment\n[machine]\ntype = \"none\"\nargs = [\"-S\", \"${nope}\"]\n\n[[step]]\nrunning = true\n",
    )]);
    let file = dir.path().join("bad.toml");

    let run = kennel(&[path_str(&file)], &[]);

    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!("{}:4:15:", file.display())) && run.stderr.contains("${nope}"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("4 | args = [\"-S\", \"${nope}\"]\n  |               ^"),
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
    let dir = test_dir(&[("killed.toml", REAL_QEMU_TO_KILL)]);

    let run = kennel_while(&[path_str(dir.path())], &[], |results| {
        signal_qemu_during(results, "step 2 (", libc::SIGABRT)
    });

    let test = run.test("killed");
    assert_eq!(run.code, 1);
    assert_eq!(test["status"], "ERROR");
    assert!(
        test["reason"]
            .as_str()
            .expect("reason")
            .contains("killed by signal 6 (SIGABRT)"),
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
    assert!(reason.contains("test timeout"), "{reason}");
    assert!(reason.contains("launch"), "{reason}");
}

#[test]
fn qemu_crashing_mid_test_is_an_error_saying_qmp_closed() {
    let dir = test_dir(&[("killed.toml", REAL_QEMU_TO_KILL)]);

    let run = kennel_while(&[path_str(dir.path())], &[], |results| {
        signal_qemu_during(results, "step 2 (", libc::SIGABRT)
    });

    let test = run.test("killed");
    let reason = test["reason"].as_str().expect("reason");
    assert_eq!(run.code, 1);
    assert_eq!(test["status"], "ERROR");
    assert!(reason.contains("killed.toml:12"), "{reason}");
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

// --- Console ---------------------------------------------------------------

/// A console test on the fake QEMU, whose console text comes from
/// `KENNEL_FAKE_QEMU`: for faults real QEMU cannot be made to show on cue.
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

/// A console test on real QEMU: the machine's own kernel and kennel's busybox
/// initramfs, a shell on the serial console.
const REAL_CONSOLE_TEST: &str = r#"
name = "console"
timeout = "90s"

[machine]
type = "pc"
memory = "256M"
kernel = "${guest_kernel}"
initrd = "${guest_initrd}"
append = "console=ttyS0 panic=-1"
args = ["-nodefaults", "-no-reboot"]

[[step]]
console_regex = 'Linux version (?<ver>\S+)'
save = { ver = "/ver" }

[[step]]
console = "kennel-guest: ready"

[[step]]
send = "echo sent-$((6*7))-$(uname -r)\n"

[[step]]
console = "sent-42-${ver}"
timeout = "30s"
"#;

#[test]
fn console_regex_saves_a_group_and_send_reaches_the_guest_shell() {
    let dir = test_dir(&[("console.toml", REAL_CONSOLE_TEST)]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let console_log = std::fs::read_to_string(
        run.job_dir()
            .join(run.test("console")["logdir"].as_str().expect("logdir"))
            .join("console.log"),
    )
    .expect("console.log");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // The shell ran what was sent (6*7 computed, not echoed back as typed),
    // and the kernel release it printed is the one the regex saved from the
    // banner.
    assert!(console_log.contains("sent-42-"), "{console_log}");
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
    // FAIL on the pattern, not a wait to the step's or the test's timeout.
    assert_eq!(test["status"], "FAIL");
    let reason = test["reason"].as_str().unwrap_or_default();
    assert!(!reason.contains("timed out"), "{test}");
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
