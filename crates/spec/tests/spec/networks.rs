//! `[[network]]`, a machine's `networks` and `nic_model`, and the `link` step.

use kennel_spec::{LinkStep, NetworkSpec, StepKind};

use crate::{load, load_err};

const TWO_ON_A_LAN: &str = r#"
[[network]]
name = "lan"
capture = true

[machines.a]
guest = "busybox"
networks = ["lan"]

[machines.b]
guest = "busybox"
networks = ["lan"]
nic_model = "e1000"

[[step]]
on = "a"
run = "ping -c 1 192.168.1.2"

[[step]]
link = { machine = "b", network = "lan", up = false }
"#;

#[test]
fn networks_and_the_machines_on_them_load_in_file_order() {
    let test = load(TWO_ON_A_LAN);

    assert_eq!(
        test.networks,
        [NetworkSpec {
            name: "lan".into(),
            line: 2,
            capture: true
        }]
    );
    assert_eq!(test.machines[0].networks, ["lan"]);
    assert_eq!(test.machines[0].nic_model, None);
    assert_eq!(test.machines[1].nic_model.as_deref(), Some("e1000"));
}

#[test]
fn a_link_step_names_its_machine_network_and_state() {
    let test = load(TWO_ON_A_LAN);

    assert_eq!(
        test.steps[1].kind,
        StepKind::Link(LinkStep {
            machine: "b".into(),
            network: "lan".into(),
            up: false
        })
    );
    assert_eq!(test.steps[1].describe(), "link b on lan down");
}

#[test]
fn a_machine_joining_an_undeclared_network_is_an_error_at_its_name() {
    let err = load_err("[[network]]\nname = \"lan\"\n\n[machine]\nnetworks = [\"lan\", \"wan\"]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:5:20: network `wan` is not declared (declared: `lan`)"
    );
}

#[test]
fn a_network_no_machine_joins_is_an_error_at_its_table() {
    let err = load_err(
        "[[network]]\nname = \"lan\"\n\n[[network]]\nname = \"spare\"\n\n[machine]\nnetworks = [\"lan\"]\n",
    );

    assert!(
        err.starts_with("tests/qmp/t.toml:4:1: no machine joins network `spare`"),
        "{err}"
    );
}

#[test]
fn a_network_declared_twice_is_an_error_at_the_second_name() {
    let err = load_err(
        "[[network]]\nname = \"lan\"\n[[network]]\nname = \"lan\"\n[machine]\nnetworks = [\"lan\"]\n",
    );

    assert_eq!(err, "tests/qmp/t.toml:4:8: network `lan` is declared twice");
}

#[test]
fn a_machine_listing_a_network_twice_is_an_error() {
    let err = load_err("[[network]]\nname = \"lan\"\n[machine]\nnetworks = [\"lan\", \"lan\"]\n");

    assert_eq!(err, "tests/qmp/t.toml:4:20: network `lan` is listed twice");
}

#[test]
fn an_unknown_network_key_is_named() {
    let err =
        load_err("[[network]]\nname = \"lan\"\ncapure = true\n[machine]\nnetworks = [\"lan\"]\n");

    assert!(
        err.starts_with(
            "tests/qmp/t.toml:3:1: unknown field `capure`, expected `name` or `capture`"
        ),
        "{err}"
    );
}

#[test]
fn a_link_on_a_network_its_machine_is_not_on_is_an_error() {
    let err = load_err(
        "[[network]]\nname = \"lan\"\n[machines.a]\nnetworks = [\"lan\"]\n[machines.b]\n\n\
         [[step]]\nlink = { machine = \"b\", network = \"lan\", up = false }\n",
    );

    assert!(
        err.starts_with("tests/qmp/t.toml:8:35: machine `b` is not on network `lan`"),
        "{err}"
    );
}

#[test]
fn a_link_without_up_is_an_error() {
    let err = load_err(
        "[[network]]\nname = \"lan\"\n[machine]\nnetworks = [\"lan\"]\n\n\
         [[step]]\nlink = { machine = \"main\", network = \"lan\" }\n",
    );

    assert!(
        err.starts_with("tests/qmp/t.toml:7:8: a `link` step needs `machine`, `network` and `up`"),
        "{err}"
    );
}
