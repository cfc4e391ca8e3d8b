//! How a case's end maps to its outcome: PASS, SKIP (a piece is missing),
//! ERROR (the step cannot run as written), FAIL (a check failed); INTERRUPTED
//! is in `deadlines.rs`.

use serde_json::json;

use super::*;

const UNAME: &str = r#"[machine]
type = "none"

[[step]]
run = "uname -r"
stdout_contains = "6."
"#;

#[test]
fn a_case_whose_steps_all_pass_passes() {
    let script = Script::new().runs("uname -r", "6.1.0-18-amd64\n", 0);

    let outcome = run(UNAME, script, AMPLE);

    assert_eq!(verdict(&outcome), (Status::Pass, ""));
}

#[test]
fn a_machine_whose_pieces_are_missing_skips_with_the_reason() {
    let script = Script::new().unavailable("sparc64");

    let outcome = run(UNAME, script, AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Skip,
            "the built-in guest exists for x86_64, aarch64 and ppc64, not sparc64"
        )
    );
}

#[test]
fn a_failed_check_fails_showing_the_commands_output() {
    let script = Script::new().runs("uname -r", "5.10.0\n", 0);

    let outcome = run(UNAME, script, AMPLE);

    assert_eq!(
        verdict_in_full(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, run uname -r): `uname -r` in the guest: stdout lacks \"6.\"; \
             exit code 0; stdout:\n5.10.0\nstderr:\n"
        )
    );
}

#[test]
fn a_wrong_exit_code_fails_naming_both_codes() {
    let script = Script::new().runs("uname -r", "", 127);

    let outcome = run(UNAME, script, AMPLE);

    assert_eq!(
        verdict_in_full(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, run uname -r): `uname -r` in the guest: expected exit code 0, \
             got exit code 127; stdout:\n\nstderr:\n"
        )
    );
}

#[test]
fn a_regex_that_does_not_compile_once_rendered_is_an_error() {
    let toml = r#"[machine]
type = "none"

[[step]]
qmp = "query-pattern"
save = { pattern = "/pattern" }

[[step]]
output = { contains_regex = "${pattern}" }
"#;
    let script = Script::new().qmp("query-pattern", &[Reply::Returns(json!({"pattern": "a("}))]);

    let outcome = run(toml, script, AMPLE);

    let (status, reason) = verdict_in_full(&outcome);
    assert_eq!(status, Status::Error);
    assert!(
        reason.starts_with("step 2 (t.toml:8, output): invalid regex /a(/: regex parse error"),
        "{reason}"
    );
}

#[test]
fn a_step_after_a_failed_one_does_not_run() {
    let toml = r#"[machine]
type = "none"

[[step]]
qmp = "stop"
error = { class = "GenericError" }

[[step]]
qmp = "query-status"
"#;
    let script = Script::new().qmp("stop", &[Reply::Returns(json!({}))]);

    let outcome = run(toml, script, AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, qmp stop): `stop` succeeded with {}, but an error of class \
             GenericError was expected"
        )
    );
}

#[test]
fn exec_types_the_command_and_waits_for_its_echo_and_expected_text() {
    let toml = r#"[machine]
type = "none"

[[step]]
exec = "cat /proc/version"
expect = "Linux version"
"#;
    let script = Script::new().with_console(&[("cat /proc/version", "Linux version 6.1.0")]);

    let outcome = run(toml, script, AMPLE);

    assert_eq!(verdict(&outcome), (Status::Pass, ""));
}
