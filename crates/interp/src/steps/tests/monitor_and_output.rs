//! `hmp` and `output` checks on text.

use super::*;

#[test]
fn hmp_output_must_contain_the_expected_text() {
    let toml = r#"[machine]
type = "none"

[[step]]
hmp = "info status"
contains = "running"
"#;
    let script = Script::new().hmp("info status", "VM status: paused\r\n");

    let outcome = run(toml, script, AMPLE);

    assert_eq!(
        verdict_in_full(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, hmp info status): HMP `info status` output lacks \"running\"; \
             output:\nVM status: paused\n"
        )
    );
}

#[test]
fn hmp_output_is_the_steps_value_with_crlf_folded() {
    let toml = r#"[machine]
type = "none"

[[step]]
hmp = "info status"
regex = "^VM status: (running|paused)$"
save = { status = "" }

[[step]]
qmp = "${status}"
"#;
    let script = Script::new()
        .hmp("info status", "VM status: running\r\n")
        .qmp(
            "VM status: running\n",
            &[Reply::Returns(serde_json::json!({}))],
        );

    let outcome = run(toml, script, AMPLE);

    assert_eq!(verdict(&outcome), (Status::Pass, ""));
}

#[test]
fn qemu_output_that_must_lack_a_text_fails_showing_the_output() {
    let toml = r#"[machine]
type = "none"

[[step]]
output = { lacks = "warning:" }
"#;
    let script = Script::new().output("qemu-system-x86_64: warning: host doesn't support svm\n");

    let outcome = run(toml, script, AMPLE);

    assert_eq!(
        verdict_in_full(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, output): QEMU output contains \"warning:\"; output:\n\
             \x20 | qemu-system-x86_64: warning: host doesn't support svm"
        )
    );
}
