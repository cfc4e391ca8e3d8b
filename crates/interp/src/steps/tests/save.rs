//! `save`: a value found by its JSON pointer, used by later steps; a pointer
//! that finds nothing; a step that produces no value.

use serde_json::json;

use super::*;
use crate::steps::attempts::saved_value;

#[test]
fn a_saved_value_is_used_by_a_later_step() {
    let toml = r#"[machine]
type = "none"

[[step]]
qmp = "query-name"
save = { vm_name = "/name" }

[[step]]
qmp = "query-${vm_name}"
"#;
    let script = Script::new()
        .qmp("query-name", &[Reply::Returns(json!({"name": "guest7"}))])
        .qmp("query-guest7", &[Reply::Returns(json!({}))]);

    let outcome = run(toml, script, AMPLE);

    assert_eq!(verdict(&outcome), (Status::Pass, ""));
}

#[test]
fn a_pointer_that_finds_nothing_fails_naming_the_pointer_and_the_value() {
    let toml = r#"[machine]
type = "none"

[[step]]
qmp = "query-name"
save = { vm_name = "/0/name" }
"#;
    let script = Script::new().qmp("query-name", &[Reply::Returns(json!({"name": "guest7"}))]);

    let outcome = run(toml, script, AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, qmp query-name): save `vm_name`: pointer \"/0/name\" finds \
             nothing in {\"name\":\"guest7\"}"
        )
    );
}

#[test]
fn save_on_a_step_that_produces_no_value_is_an_error() {
    let toml = r#"[machine]
type = "none"

[[step]]
qmp = "query-name"
save = { vm_name = "/name" }
"#;
    let file = kennel_spec::load_str(Path::new(FILE), toml)
        .expect("loads")
        .expect("a test");
    let step = &file.steps[0];

    let e = saved_value(step, None, "vm_name", "/name").expect_err("no value");

    assert_eq!(
        e.to_string(),
        "error: `save` on a qmp step, which produces no value"
    );
}
