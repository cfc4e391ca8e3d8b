//! One substitution rule over every section of a file: `${name}` in any
//! string takes the case's value (its text in a text place, the value with
//! its type when the string is exactly one `${name}` in a typed place).

use std::sync::Arc;

use indexmap::IndexMap;
use kennel_spec::{AssetSource, StepKind, Templ, Value};
use serde_json::json;

use crate::load;

fn vars(pairs: &[(&str, Value)]) -> IndexMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[test]
fn name_takes_the_variant() {
    let test = Arc::new(load(
        "name = \"boot ${machine}\"\n[variants]\nmachine = [\"q35\"]\n[machine]\n",
    ));

    let cases = test.cases(&IndexMap::new()).expect("cases");

    assert_eq!(cases[0].name, "boot q35 [machine=q35]");
}

#[test]
fn tags_and_description_take_the_variant_and_an_arch_tag_places_each_case() {
    let test = Arc::new(load(
        "description = \"boots ${arch}\"\ntags = [\"arch:${arch}\", \"fast\"]\n[variants]\narch = [\"x86_64\", \"aarch64\"]\n[machine]\n",
    ));

    let cases = test.cases(&IndexMap::new()).expect("cases");

    assert_eq!(cases[0].file.tags, ["arch:x86_64", "fast"]);
    assert_eq!(cases[1].file.tags, ["arch:aarch64", "fast"]);
    assert_eq!(cases[1].file.description.as_deref(), Some("boots aarch64"));
    assert_eq!(
        cases[1].file.machines[0].arch,
        Some(Templ::Lit("aarch64".to_owned()))
    );
}

#[test]
fn requires_takes_the_variant_in_every_key() {
    let test = load(
        r#"
[requires]
arch = ["${arch}"]
machines = ["${machine}"]
devices = ["${nic}"]
netdevs = ["${net}"]
accel = "${accel}"
commands = ["${tool}"]
qemu_version = ">=${major}"

[machine]
"#,
    );
    let vars = vars(&[
        ("arch", json!("aarch64")),
        ("machine", json!("virt")),
        ("nic", json!("e1000")),
        ("net", json!("user")),
        ("accel", json!("kvm")),
        ("tool", json!("qemu-img")),
        ("major", json!(7)),
    ]);

    let requires = test.requires.render(&vars).expect("renders");

    assert_eq!(requires.arch, ["aarch64"]);
    assert_eq!(requires.machines, ["virt"]);
    assert_eq!(requires.devices, ["e1000"]);
    assert_eq!(requires.netdevs, ["user"]);
    assert_eq!(requires.accel.as_deref(), Some("kvm"));
    assert_eq!(requires.commands, ["qemu-img"]);
    assert_eq!(
        requires.qemu_version.map(|v| v.to_string()).as_deref(),
        Some(">=7")
    );
}

#[test]
fn assets_take_the_variant_in_url_path_and_extract() {
    let test = load(
        r#"
[assets.kernel]
url = "https://example.com/${release}/vmlinuz.tar"
extract = "${release}/vmlinuz"
[assets.disk]
path = "${dir}/${release}.img"

[machine]
"#,
    );
    let vars = vars(&[("release", json!("v2")), ("dir", json!("/t"))]);

    let kernel = test.assets["kernel"].render(&vars).expect("renders");
    let disk = test.assets["disk"].render(&vars).expect("renders");

    assert_eq!(
        kernel.source,
        AssetSource::Url("https://example.com/v2/vmlinuz.tar".to_owned())
    );
    assert_eq!(kernel.extract.as_deref(), Some("v2/vmlinuz"));
    let AssetSource::Path(path) = &disk.source else {
        panic!("a path asset")
    };
    assert_eq!(path.literal(), Some("/t/v2.img"));
}

#[test]
fn machine_takes_text_in_text_places_and_typed_values_in_typed_places() {
    let test = load(
        "[machine]\ntype = \"${machine}\"\ncpus = \"${cpus}\"\nargs = [\"-smp\", \"${cpus}\"]\n",
    );
    let vars = vars(&[("machine", json!("q35")), ("cpus", json!(4))]);
    let machine = &test.machines[0];

    assert_eq!(
        machine.machine_type.as_ref().expect("type").render(&vars),
        Ok("q35".to_owned())
    );
    assert_eq!(machine.cpus, Some(Templ::Var("cpus".to_owned())));
    assert_eq!(machine.cpus.as_ref().expect("cpus").render(&vars), Ok(4));
    assert_eq!(machine.args[1].render(&vars), Ok("4".to_owned()));
}

#[test]
fn steps_take_text_in_text_places_and_typed_values_in_typed_places() {
    let test = load(
        "[machine]\n[[step]]\nrun = \"echo ${word}\"\nexit_code = \"${rc}\"\nstdout = \"${word}\"\n",
    );
    let vars = vars(&[("word", json!("hi")), ("rc", json!(3))]);

    let StepKind::Run {
        command,
        exit_code,
        stdout,
        ..
    } = &test.steps[0].kind
    else {
        panic!("a run step")
    };
    assert_eq!(command.render(&vars), Ok("echo hi".to_owned()));
    assert_eq!(exit_code.as_ref().expect("code").render(&vars), Ok(3));
    assert_eq!(
        stdout.as_ref().expect("stdout").render(&vars),
        Ok("hi".to_owned())
    );
}

#[test]
fn a_whole_list_may_be_one_variable_whose_value_is_an_array() {
    let test = Arc::new(load(
        r#"
tags = "${tags}"
[variants]
extra = [["-smp", "2"], []]
tags = [["fast", "arch:x86_64"]]
[machine]
args = "${extra}"
console_fail = "${extra}"
"#,
    ));

    let cases = test.cases(&IndexMap::new()).expect("cases");

    let args: Vec<String> = (cases[0].file.machines[0].args.iter())
        .map(|a| a.render(&cases[0].params).expect("renders"))
        .collect();
    assert_eq!(args, ["-smp", "2"]);
    assert!(cases[1].file.machines[0].args.is_empty());
    assert_eq!(cases[0].file.tags, ["fast", "arch:x86_64"]);
    assert_eq!(
        cases[0].file.machines[0]
            .console_fail
            .as_ref()
            .map(Vec::len),
        Some(2)
    );
}

#[test]
fn a_whole_list_variable_whose_value_is_no_array_is_an_error_at_the_key() {
    let test = Arc::new(load(
        "[variants]\nextra = [\"-S\"]\n[machine]\nargs = \"${extra}\"\n",
    ));

    let err = test.cases(&IndexMap::new()).expect_err("not an array");

    let text = err.to_string();
    assert!(text.contains(":4:8:"), "{text}");
    assert!(
        text.contains("`args` is \"${extra}\", which gives \"-S\" after substitution: expected an array of strings"),
        "{text}"
    );
}
