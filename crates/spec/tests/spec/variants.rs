use std::sync::Arc;

use indexmap::IndexMap;
use kennel_spec::{parse_param, Value};
use serde_json::json;

use crate::load;

const VARIANTS: &str = r#"name = "boot"

[variants]
machine = ["pc", "q35"]
cpus = [1, 4]
disk = ["virtio"]

[machine]
type = "${machine}"
cpus = "${cpus}"
"#;

fn names(overrides: &[(&str, Value)]) -> Vec<String> {
    let test = Arc::new(load(VARIANTS));
    let overrides: IndexMap<String, Value> = overrides
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    test.cases(&overrides)
        .expect("cases")
        .into_iter()
        .map(|c| c.name)
        .collect()
}

#[test]
fn variants_expand_to_every_combination_first_key_slowest() {
    assert_eq!(
        names(&[]),
        [
            "boot [machine=pc,cpus=1,disk=virtio]",
            "boot [machine=pc,cpus=4,disk=virtio]",
            "boot [machine=q35,cpus=1,disk=virtio]",
            "boot [machine=q35,cpus=4,disk=virtio]",
        ]
    );
}

#[test]
fn parameter_overriding_a_variant_collapses_its_axis() {
    assert_eq!(
        names(&[("cpus", json!(2)), ("extra", json!("x"))]),
        [
            "boot [machine=pc,cpus=2,disk=virtio]",
            "boot [machine=q35,cpus=2,disk=virtio]",
        ]
    );
}

#[test]
fn case_params_are_the_variant_then_the_overrides() {
    let test = Arc::new(load(VARIANTS));
    let overrides: IndexMap<String, Value> =
        [("extra".to_owned(), json!(true))].into_iter().collect();

    let cases = test.cases(&overrides).expect("cases");

    assert_eq!(cases.len(), 4);
    let last = &cases[3];
    assert_eq!(
        serde_json::to_value(&last.variant).expect("json"),
        json!({ "machine": "q35", "cpus": 4, "disk": "virtio" })
    );
    assert_eq!(
        serde_json::to_value(&last.params).expect("json"),
        json!({ "machine": "q35", "cpus": 4, "disk": "virtio", "extra": true })
    );
    assert_eq!(
        last.file.machines[0]
            .cpus
            .clone()
            .expect("cpus")
            .render(&last.params),
        Ok(4)
    );
}

#[test]
fn no_variants_give_one_case_with_the_plain_name() {
    let test = Arc::new(load("[machine]\n"));

    let cases = test.cases(&IndexMap::new()).expect("cases");

    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["t"]);
    assert!(cases[0].variant.is_empty());
}

#[test]
fn parameters_parse_as_toml_values_or_text() {
    let parsed: Vec<(String, Value)> = [
        "cpus=4",
        "kvm=true",
        "name=\"quoted\"",
        "machine=q35",
        "path=/tmp/a b",
        "list=[1, 2]",
        "empty=",
        "eq=a=b",
        "ratio=1.5",
        "n=nan",
    ]
    .iter()
    .map(|p| parse_param(p).expect(p))
    .collect();

    let expected: Vec<(String, Value)> = [
        ("cpus", json!(4)),
        ("kvm", json!(true)),
        ("name", json!("quoted")),
        ("machine", json!("q35")),
        ("path", json!("/tmp/a b")),
        ("list", json!([1, 2])),
        ("empty", json!("")),
        ("eq", json!("a=b")),
        ("ratio", json!(1.5)),
        ("n", json!("nan")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(parsed, expected);
}

#[test]
fn parameter_without_equals_is_refused() {
    let err = parse_param("cpus").expect_err("no =");

    assert_eq!(
        err.to_string(),
        "bad parameter \"cpus\": expected KEY=VALUE"
    );
    assert!(parse_param("=4").is_err());
}
