//! `poll = true`: a step repeated until it passes or its time runs out.

use serde_json::json;

use super::*;

fn polled_query_status(timeout: &str) -> String {
    format!(
        r#"[machine]
type = "none"

[[step]]
qmp = "query-status"
returns = {{ running = true }}
poll = true
timeout = "{timeout}"
"#
    )
}

#[test]
fn a_polled_step_passes_on_a_later_attempt() {
    let paused = Reply::Returns(json!({"running": false}));
    let running = Reply::Returns(json!({"running": true}));
    let script = Script::new().qmp("query-status", &[paused.clone(), paused, running]);

    let outcome = run(&polled_query_status("5s"), script, AMPLE);

    assert_eq!(verdict(&outcome), (Status::Pass, ""));
}

#[test]
fn a_polled_step_that_never_passes_fails_naming_its_attempts_and_last_failure() {
    let script = Script::new().qmp("query-status", &[Reply::Returns(json!({"running": false}))]);

    let outcome = run(&polled_query_status("350ms"), script, AMPLE);

    let (status, reason) = verdict(&outcome);
    assert_eq!(status, Status::Fail);
    assert!(
        reason.starts_with(
            "step 1 (t.toml:4, qmp query-status): timed out after 350ms waiting for the step \
             to pass ("
        ),
        "{reason}"
    );
    assert!(
        reason.ends_with(
            " attempts); last: `query-status` returned {\"running\":false}, which does not \
             contain {\"running\":true}"
        ),
        "{reason}"
    );
}

#[test]
fn a_polled_step_that_outlives_the_test_is_interrupted() {
    let script = Script::new().qmp("query-status", &[Reply::Returns(json!({"running": false}))]);

    let outcome = run(&polled_query_status("10s"), script, SHORT);

    let (status, reason) = verdict(&outcome);
    assert_eq!(status, Status::Interrupted);
    assert!(
        reason.starts_with(
            "step 1 (t.toml:4, qmp query-status): test timeout (500ms) reached while waiting \
             for the step to pass ("
        ),
        "{reason}"
    );
}
