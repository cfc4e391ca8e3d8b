//! `qmp` steps: `returns`, `returns_exact` and `error` against QEMU's answer.

use serde_json::json;

use super::*;

const QUERY_STATUS_RETURNS_RUNNING: &str = r#"[machine]
type = "none"

[[step]]
qmp = "query-status"
returns = { running = true }
"#;

#[test]
fn returns_passes_when_the_reply_contains_the_expected_members() {
    let script = Script::new().qmp(
        "query-status",
        &[Reply::Returns(
            json!({"running": true, "status": "running", "singlestep": false}),
        )],
    );

    let outcome = run(QUERY_STATUS_RETURNS_RUNNING, script, AMPLE);

    assert_eq!(verdict(&outcome), (Status::Pass, ""));
}

#[test]
fn returns_fails_naming_the_reply_and_what_it_lacks() {
    let script = Script::new().qmp("query-status", &[Reply::Returns(json!({"running": false}))]);

    let outcome = run(QUERY_STATUS_RETURNS_RUNNING, script, AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, qmp query-status): `query-status` returned {\"running\":false}, \
             which does not contain {\"running\":true}"
        )
    );
}

#[test]
fn returns_exact_refuses_a_reply_with_more_members() {
    let toml = r#"[machine]
type = "none"

[[step]]
qmp = "query-kvm"
returns_exact = { enabled = false }
"#;
    let script = Script::new().qmp(
        "query-kvm",
        &[Reply::Returns(json!({"enabled": false, "present": true}))],
    );

    let outcome = run(toml, script, AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, qmp query-kvm): `query-kvm` returned \
             {\"enabled\":false,\"present\":true}, expected exactly {\"enabled\":false}"
        )
    );
}

#[test]
fn returns_exact_compares_numbers_by_value() {
    let toml = r#"[machine]
type = "none"

[[step]]
qmp = "query-balloon"
returns_exact = { actual = 1.0 }
"#;
    let script = Script::new().qmp("query-balloon", &[Reply::Returns(json!({"actual": 1}))]);

    let outcome = run(toml, script, AMPLE);

    assert_eq!(verdict(&outcome), (Status::Pass, ""));
}

const DEVICE_DEL_REFUSED: &str = r#"[machine]
type = "none"

[[step]]
qmp = "device_del"
args = { id = "nic9" }
error = { class = "GenericError", desc_contains = "not found" }
"#;

#[test]
fn an_expected_error_passes_on_its_class_and_desc() {
    let script = Script::new().qmp(
        "device_del",
        &[Reply::Refuses("GenericError", "Device 'nic9' not found")],
    );

    let outcome = run(DEVICE_DEL_REFUSED, script, AMPLE);

    assert_eq!(verdict(&outcome), (Status::Pass, ""));
}

#[test]
fn an_error_of_another_class_fails_naming_both_classes() {
    let script = Script::new().qmp(
        "device_del",
        &[Reply::Refuses("DeviceNotFound", "Device 'nic9' not found")],
    );

    let outcome = run(DEVICE_DEL_REFUSED, script, AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, qmp device_del): `device_del` failed with class DeviceNotFound \
             (\"Device 'nic9' not found\"), expected class GenericError"
        )
    );
}

#[test]
fn an_error_with_another_desc_fails_naming_the_desc() {
    let script = Script::new().qmp(
        "device_del",
        &[Reply::Refuses("GenericError", "Bus 'pci.0' is full")],
    );

    let outcome = run(DEVICE_DEL_REFUSED, script, AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, qmp device_del): `device_del` failed with desc \
             \"Bus 'pci.0' is full\", expected a desc containing \"not found\""
        )
    );
}

#[test]
fn a_desc_regex_is_matched_against_the_desc() {
    let toml = r#"[machine]
type = "none"

[[step]]
qmp = "device_del"
error = { desc_regex = "^Device '[a-z0-9]+' not found$" }
"#;
    let script = Script::new().qmp(
        "device_del",
        &[Reply::Refuses("GenericError", "Device 'nic9' not found")],
    );

    let outcome = run(toml, script, AMPLE);

    assert_eq!(verdict(&outcome), (Status::Pass, ""));
}

#[test]
fn a_command_that_succeeds_where_an_error_was_expected_fails() {
    let script = Script::new().qmp("device_del", &[Reply::Returns(json!({}))]);

    let outcome = run(DEVICE_DEL_REFUSED, script, AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, qmp device_del): `device_del` succeeded with {}, \
             but an error of class GenericError was expected"
        )
    );
}

#[test]
fn an_unexpected_error_fails_with_its_class_and_desc() {
    let script = Script::new().qmp(
        "query-status",
        &[Reply::Refuses("GenericError", "QEMU is busy")],
    );

    let outcome = run(QUERY_STATUS_RETURNS_RUNNING, script, AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, qmp query-status): `query-status` failed: GenericError: QEMU is busy"
        )
    );
}
