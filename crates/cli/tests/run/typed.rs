//! Typed values from variants and `-p` parameters, against real QEMU: a
//! `timeout`, `cpus`, ... written as a string holding `${...}` takes the
//! case's value, and the run shows it took effect.

use crate::harness::*;

/// Two CPUs from a variant, a step timeout from a variant, the test's
/// timeout from a `-p` parameter.
const TYPED: &str = r#"
name = "typed"
tags = ["arch:x86_64"]
timeout = "${test_timeout}"

[variants]
cpus = [2]
wait = ["1500ms"]

[machine]
type = "q35"
args = ["-nodefaults", "-S"]
cpus = "${cpus}"

[[step]]
qmp = "query-cpus-fast"
returns = [{ cpu-index = 1 }]

[[step]]
qmp = "query-status"
returns = { status = "running" }
poll = true
timeout = "${wait}"
"#;

#[test]
fn cpus_and_step_timeout_from_a_variant_take_effect() {
    let dir = test_dir(&[("t.toml", TYPED)]);

    let run = kennel(&[path_str(dir.path()), "-p", "test_timeout=60s"], &[]);

    let test = run.test("typed [cpus=2,wait=1500ms]");
    assert_eq!(test["status"], "FAIL", "{test}");
    let reason = test["reason"].as_str().expect("reason");
    // Step 1 passed: QEMU has a CPU with index 1. Step 2 ran out at its own
    // 1.5 s from the variant, not at the test's 60 s from `-p`.
    assert!(reason.starts_with("step 2 ("), "{reason}");
    assert!(
        reason.contains("timed out after 1s 500ms waiting for the step to pass"),
        "{reason}"
    );
}

#[test]
fn a_variant_value_that_does_not_read_is_an_error_at_its_key() {
    let dir = test_dir(&[(
        "t.toml",
        "name = \"bad\"\n[variants]\ncpus = [\"two\"]\n[machine]\ntype = \"none\"\ncpus = \"${cpus}\"\n[[step]]\nrunning = true\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "t.toml:6:8: `cpus` is \"${cpus}\", which gives \"two\" after substitution: expected an integer"
        ),
        "{}",
        run.stderr
    );
}

/// The architecture from a variant, written once as a tag: each case's
/// `arch:` tag is its own, so `-t` picks cases and the tag places the machine.
const ARCH_TAG: &str = r#"
name = "where"
tags = ["arch:${arch}"]

[variants]
arch = ["x86_64", "aarch64"]

[machine]
type = "none"

[[step]]
qmp = "query-target"
returns = { arch = "${arch}" }
"#;

#[test]
fn an_arch_tag_from_a_variant_selects_the_case_and_places_its_machine() {
    let dir = test_dir(&[("t.toml", ARCH_TAG)]);

    let run = kennel(&[path_str(dir.path()), "-t", "arch:aarch64"], &[]);

    assert_eq!(run.names(), ["where [arch=aarch64]"], "{}", run.stdout);
    let test = run.test("where [arch=aarch64]");
    assert_eq!(test["status"], "PASS", "{test}");
    assert_eq!(test["tags"], serde_json::json!(["arch:aarch64"]), "{test}");
}

/// QEMU's extra arguments from a variant whose value is an array: `-S`
/// leaves the machine stopped, which QEMU's run state shows.
const ARGS_FROM_A_VARIANT: &str = r#"
name = "args"

[variants]
extra = [["-S", "-name", "from-a-variant"]]

[machine]
type = "none"
args = "${extra}"

[[step]]
qmp = "query-status"
returns = { running = false, status = "prelaunch" }

[[step]]
qmp = "query-name"
returns = { name = "from-a-variant" }
"#;

#[test]
fn machine_args_may_be_one_variable_holding_the_whole_array() {
    let dir = test_dir(&[("t.toml", ARGS_FROM_A_VARIANT)]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("args [extra=[\"-S\",\"-name\",\"from-a-variant\"]]");
    assert_eq!(test["status"], "PASS", "{test}\n{}", run.stdout);
}
