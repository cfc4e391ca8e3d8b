//! `on`: the machine a step is on must be declared, and launched.

use serde_json::json;

use super::*;
use crate::slots::{On, Slots};

const A_LATE_MACHINE: &str = r#"[machines.main]
type = "none"

[machines.late]
type = "none"
launch = false
"#;

#[test]
fn a_step_on_a_machine_never_launched_is_an_error() {
    let toml = format!("{A_LATE_MACHINE}\n[[step]]\non = \"late\"\nqmp = \"query-status\"\n");

    let outcome = run_machines(&toml, vec![("main", Script::new())], AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Error,
            "step 1 (t.toml:8, qmp query-status): machine `late` was never launched \
             (`launch = false`): add a `launch = true` step first"
        )
    );
}

#[test]
fn a_machine_never_launched_is_not_running() {
    let toml = format!("{A_LATE_MACHINE}\n[[step]]\non = \"late\"\nrunning = true\n");

    let outcome = run_machines(&toml, vec![("main", Script::new())], AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:8, running = true): expected QEMU to be running, but it was never \
             launched"
        )
    );
}

#[test]
fn a_launch_step_makes_a_late_machine_usable() {
    let toml = format!(
        "{A_LATE_MACHINE}\n[[step]]\non = \"late\"\nlaunch = true\n\n\
         [[step]]\non = \"late\"\nqmp = \"query-status\"\nreturns = {{ running = true }}\n"
    );
    let late = Script::new().qmp("query-status", &[Reply::Returns(json!({"running": true}))]);

    let outcome = run_machines(&toml, vec![("main", Script::new()), ("late", late)], AMPLE);

    assert_eq!(verdict(&outcome), (Status::Pass, ""));
}

#[test]
fn a_running_machine_cannot_be_launched_again() {
    let toml = format!("{A_LATE_MACHINE}\n[[step]]\nlaunch = true\n");

    let outcome = run_machines(&toml, vec![("main", Script::new())], AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Error,
            "step 1 (t.toml:8, launch): machine `main` is already running"
        )
    );
}

#[test]
fn a_machine_the_test_does_not_declare_is_an_error() {
    let file = kennel_spec::load_str(Path::new(FILE), A_LATE_MACHINE)
        .expect("loads")
        .expect("a test");
    let mut slots = Slots::of(&file);

    let e = On::new(&mut slots, "nowhere")
        .machine()
        .err()
        .expect("no such machine");

    assert_eq!(e.to_string(), "error: no machine named `nowhere`");
}
