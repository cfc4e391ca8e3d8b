//! Deadlines: a step's own timeout is a FAIL naming it; the test's timeout is
//! INTERRUPTED, naming what the step waited for.

use serde_json::json;

use super::*;

fn query_status_with(step_timeout: &str) -> String {
    format!(
        r#"[machine]
type = "none"

[[step]]
qmp = "query-status"
{step_timeout}
"#
    )
}

#[test]
fn a_step_that_runs_out_of_its_own_time_fails_naming_its_timeout() {
    let script = Script::new().qmp("query-status", &[Reply::Hangs]);

    let outcome = run(&query_status_with(r#"timeout = "200ms""#), script, AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, qmp query-status): timed out after 200ms waiting for the reply \
             to `query-status`"
        )
    );
}

#[test]
fn a_step_that_runs_out_of_the_tests_time_is_interrupted() {
    let script = Script::new().qmp("query-status", &[Reply::Hangs]);

    let outcome = run(&query_status_with(""), script, SHORT);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Interrupted,
            "step 1 (t.toml:4, qmp query-status): test timeout (500ms) reached while waiting \
             for the reply to `query-status`"
        )
    );
}

#[test]
fn a_step_timeout_beyond_the_tests_time_ends_with_the_test() {
    let script = Script::new().qmp("query-status", &[Reply::Hangs]);

    let outcome = run(&query_status_with(r#"timeout = "10s""#), script, SHORT);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Interrupted,
            "step 1 (t.toml:4, qmp query-status): test timeout (500ms) reached while waiting \
             for the reply to `query-status`"
        )
    );
}

#[test]
fn an_event_that_never_comes_names_the_unconsumed_events() {
    let toml = r#"[machine]
type = "none"

[[step]]
event = "DEVICE_DELETED"
timeout = "200ms"
"#;
    let script = Script::new().event(json!({"event": "STOP"}));

    let outcome = run(toml, script, AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, event DEVICE_DELETED): timed out after 200ms waiting for event \
             DEVICE_DELETED; unconsumed events: [\"STOP\"]"
        )
    );
}

#[test]
fn a_guest_command_that_outlives_its_step_fails() {
    let toml = r#"[machine]
type = "none"

[[step]]
run = "sleep 60"
timeout = "200ms"
"#;

    let outcome = run(toml, Script::new(), AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, run sleep 60): timed out after 200ms waiting for `sleep 60` to \
             finish"
        )
    );
}
