//! The `migrate` step as loaded: its options, its machines, and the mistakes
//! refused at load with the file, line and column.

use kennel_spec::migrate::{MigrateSpec, Transport};
use kennel_spec::StepKind;
use serde_json::json;

use crate::{load, load_err};

const PAIR: &str = "[machines.a]\nmemory = \"64M\"\n[machines.b]\nmemory = \"64M\"\n";

fn with_step(step: &str) -> String {
    format!("{PAIR}[[step]]\n{step}\n")
}

#[test]
fn a_migrate_step_loads_with_its_options_and_is_on_its_source() {
    let test = load(&with_step(
        "migrate = { from = \"a\", to = \"b\", transport = \"tcp\", capabilities = [\"xbzrle\"], parameters = { max-bandwidth = 1000 } }",
    ));

    let step = &test.steps[0];
    assert_eq!(step.on, "a");
    assert_eq!(step.describe(), "migrate a to b");
    assert_eq!(
        step.kind,
        StepKind::Migrate(MigrateSpec {
            from: "a".into(),
            to: "b".into(),
            transport: Transport::Tcp,
            capabilities: vec!["xbzrle".into()],
            parameters: Some(json!({ "max-bandwidth": 1000 })),
            postcopy: false,
        })
    );
}

#[test]
fn an_unknown_machine_is_refused_where_it_is_named() {
    let err = load_err(&with_step("migrate = { from = \"a\", to = \"c\" }"));

    assert_eq!(
        err,
        "tests/qmp/t.toml:6:30: `to` names unknown machine `c` (machines: `a`, `b`)"
    );
}

#[test]
fn a_migration_to_itself_is_refused() {
    let err = load_err(&with_step("migrate = { from = \"a\", to = \"a\" }"));

    assert!(err.contains("`migrate` from `a` to itself"), "{err}");
}

#[test]
fn a_destination_described_differently_is_refused_naming_what_differs() {
    let text = "[machines.a]\nmemory = \"64M\"\ncpus = 2\n[machines.b]\nmemory = \"128M\"\n[[step]]\nmigrate = { from = \"a\", to = \"b\" }\n";

    let err = load_err(text);

    assert_eq!(
        err,
        "tests/qmp/t.toml:7:30: machine `b` is not described like `a`, which migrates into it: `cpus`, `memory` differ (only name, launch, warm, channel, console_fail may)"
    );
}

#[test]
fn a_destination_with_incoming_is_refused() {
    let text = "[machines.a]\n[machines.b]\nincoming = \"defer\"\n[[step]]\nmigrate = { from = \"a\", to = \"b\" }\n";

    let err = load_err(text);

    assert!(
        err.contains("machine `b` is the destination of a `migrate` step and has `incoming`"),
        "{err}"
    );
}

#[test]
fn an_unknown_transport_an_unknown_key_and_on_are_refused() {
    let transport = load_err(&with_step(
        "migrate = { from = \"a\", to = \"b\", transport = \"pigeon\" }",
    ));
    let key = load_err(&with_step(
        "migrate = { from = \"a\", to = \"b\", speed = 1 }",
    ));
    let on = load_err(&with_step(
        "on = \"a\"\nmigrate = { from = \"a\", to = \"b\" }",
    ));

    assert!(
        transport.contains(
            "unknown transport \"pigeon\": expected one of `unix`, `tcp`, `exec`, `file`"
        ),
        "{transport}"
    );
    assert!(
        key.starts_with("tests/qmp/t.toml:6:") && key.contains("speed"),
        "{key}"
    );
    assert!(
        on.contains("`on` does not apply to a `migrate` step"),
        "{on}"
    );
}

#[test]
fn postcopy_over_a_saved_state_is_refused() {
    let err = load_err(&with_step(
        "migrate = { from = \"a\", to = \"b\", transport = \"exec\", postcopy = true }",
    ));

    assert!(
        err.contains("`postcopy` needs both QEMUs running at once"),
        "{err}"
    );
}
