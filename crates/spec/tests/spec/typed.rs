//! One rule for typed values: a key taking a number, boolean or duration also
//! takes a string holding `${...}`, rendered with the case's variants and `-p`
//! parameters and read as that type; what it gives is checked like a literal.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use kennel_spec::{StepKind, Templ, TestCase, Value};
use serde_json::json;

use crate::load;

/// The cases of a text that must load, with `-p` parameters.
fn cases_with(text: &str, params: &[(&str, Value)]) -> Vec<TestCase> {
    let overrides: IndexMap<String, Value> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    Arc::new(load(text)).cases(&overrides).expect("cases")
}

fn cases(text: &str) -> Vec<TestCase> {
    cases_with(text, &[])
}

/// The first line of the error of expanding a text that loads into cases.
fn case_err(text: &str) -> String {
    let err = Arc::new(load(text))
        .cases(&IndexMap::new())
        .expect_err("a case does not read");
    err.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn top_level_timeout_retries_and_exclusive_take_the_variant() {
    let cases = cases(
        "timeout = \"${t}\"\nretries = \"${n}\"\nexclusive = \"${alone}\"\n\
         [variants]\nt = [\"5s\", \"2m\"]\nn = [3]\nalone = [true]\n[machine]\n",
    );

    let timeouts: Vec<Duration> = cases.iter().map(|c| c.file.timeout).collect();
    assert_eq!(timeouts, [Duration::from_secs(5), Duration::from_secs(120)]);
    assert_eq!(cases[0].file.retries, 3);
    assert!(cases[0].file.exclusive);
}

#[test]
fn a_template_with_text_around_the_reference_reads_after_substitution() {
    let cases = cases("timeout = \"${t}s\"\n[variants]\nt = [7]\n[machine]\n");

    assert_eq!(cases[0].file.timeout, Duration::from_secs(7));
}

#[test]
fn machine_cpus_console_launch_arch_and_accel_take_the_variant() {
    let cases = cases_with(
        "[variants]\ncpus = [2]\non = [false]\nlater = [false]\na = [\"aarch64\"]\n\
         [machine]\ncpus = \"${cpus}\"\nconsole = \"${on}\"\nlaunch = \"${later}\"\n\
         arch = \"${a}\"\naccel = \"tcg${none}\"\n[[step]]\nlaunch = true\n",
        &[("none", json!(""))],
    );
    let machine = &cases[0].file.machines[0];

    assert_eq!(machine.cpus, Some(Templ::Lit(2)));
    assert_eq!(machine.console, Some(false));
    assert!(!machine.launch);
    assert_eq!(machine.arch, Some(Templ::Lit("aarch64".to_owned())));
    assert_eq!(machine.accel, Some(Templ::Lit("tcg".to_owned())));
}

#[test]
fn expect_exit_code_and_timeout_take_the_variant() {
    let cases = cases(
        "[variants]\nrc = [1]\nwait = [\"3s\"]\n\
         [machine]\nexpect_exit = { code = \"${rc}\", timeout = \"${wait}\" }\n",
    );
    let exit = cases[0].file.machines[0]
        .expect_exit
        .clone()
        .expect("expect_exit");

    assert_eq!(exit.code, Some(Templ::Lit(1)));
    assert_eq!(exit.timeout, Some(Duration::from_secs(3)));
}

#[test]
fn step_timeout_poll_running_and_exit_codes_take_the_variant() {
    let cases = cases(
        "[variants]\nt = [\"9s\"]\nagain = [true]\nalive = [false]\nrc = [2]\n\
         [machine]\n\
         [[step]]\nrun = \"true\"\ntimeout = \"${t}\"\npoll = \"${again}\"\nexit_code = \"${rc}\"\n\
         [[step]]\nrunning = \"${alive}\"\n\
         [[step]]\nexit = { code = \"${rc}\" }\n\
         [[step]]\nshutdown = { code = \"${rc}\" }\n",
    );
    let steps = &cases[0].file.steps;

    assert_eq!(steps[0].timeout, Some(Duration::from_secs(9)));
    assert!(steps[0].poll);
    let StepKind::Run { exit_code, .. } = &steps[0].kind else {
        panic!("a run step")
    };
    assert_eq!(*exit_code, Some(Templ::Lit(2)));
    assert_eq!(steps[1].kind, StepKind::Running(false));
    let StepKind::Exit(exit) = &steps[2].kind else {
        panic!("an exit step")
    };
    assert_eq!(exit.code, Some(Templ::Lit(2)));
    assert_eq!(
        steps[3].kind,
        StepKind::Shutdown {
            code: Some(Templ::Lit(2))
        }
    );
}

#[test]
fn launch_and_kill_steps_take_the_variant() {
    let cases = cases(
        "[variants]\nyes = [true]\n[machine]\nlaunch = false\n\
         [[step]]\nlaunch = \"${yes}\"\n[[step]]\nkill = \"${yes}\"\n",
    );

    assert_eq!(cases[0].file.steps[0].kind, StepKind::Launch);
    assert_eq!(cases[0].file.steps[1].kind, StepKind::Kill);
}

#[test]
fn asset_uncompress_takes_the_variant() {
    let cases = cases(
        "[variants]\nxz = [true]\n[assets.k]\npath = \"k.xz\"\nuncompress = \"${xz}\"\n[machine]\n",
    );

    assert!(cases[0].file.assets["k"].uncompress);
}

#[test]
fn a_parameter_sets_a_typed_value() {
    let cases = cases_with(
        "[machine]\ncpus = \"${cpus}\"\n[[step]]\nrunning = true\ntimeout = \"${t}\"\n",
        &[("cpus", json!(3)), ("t", json!("1m"))],
    );

    assert_eq!(cases[0].file.machines[0].cpus, Some(Templ::Lit(3)));
    assert_eq!(
        cases[0].file.steps[0].timeout,
        Some(Duration::from_secs(60))
    );
}

#[test]
fn the_file_as_loaded_lists_its_typed_templates_and_keeps_the_defaults() {
    let test = load("timeout = \"${t}\"\n[variants]\nt = [\"5s\"]\n[machine]\ncpus = \"${t}\"\n");

    let positions: Vec<_> = test.typed.iter().map(|t| t.position()).collect();
    assert_eq!(positions, [Some((1, 11)), Some((5, 8))]);
    assert_eq!(test.timeout, kennel_spec::DEFAULT_TIMEOUT);
}

#[test]
fn a_file_without_typed_templates_shares_itself_with_its_cases() {
    let test = Arc::new(load(
        "[variants]\nm = [\"pc\"]\n[machine]\ntype = \"${m}\"\n",
    ));

    let cases = test.cases(&IndexMap::new()).expect("cases");

    assert!(Arc::ptr_eq(&cases[0].file, &test));
}

#[test]
fn a_value_that_does_not_read_names_the_key_the_text_and_the_type() {
    let err = case_err(
        "[variants]\nt = [\"soon\"]\n[machine]\n[[step]]\nrunning = true\ntimeout = \"${t}\"\n",
    );

    assert_eq!(
        err,
        "tests/qmp/t.toml:6:11: `timeout` is \"${t}\", which gives \"soon\" after substitution: \
         expected a duration such as \"30s\", \"2m\" or \"1500ms\""
    );
}

#[test]
fn a_count_that_does_not_read_names_the_integer_type() {
    let err = case_err("retries = \"${n}\"\n[variants]\nn = [\"two\"]\n[machine]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:1:11: `retries` is \"${n}\", which gives \"two\" after substitution: expected an integer"
    );
}

#[test]
fn a_boolean_that_does_not_read_names_the_boolean_type() {
    let err = case_err("[variants]\nc = [1]\n[machine]\nconsole = \"${c}\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:11: `console` is \"${c}\", which gives \"1\" after substitution: expected `true` or `false`"
    );
}

#[test]
fn zero_cpus_from_a_variant_is_the_literals_error() {
    let err = case_err("[variants]\ncpus = [0]\n[machine]\ncpus = \"${cpus}\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:8: expected a positive integer, found 0"
    );
}

#[test]
fn exit_code_beyond_255_from_a_variant_is_the_literals_error() {
    let err = case_err(
        "[variants]\nrc = [256]\n[machine]\n[[step]]\nrun = \"true\"\nexit_code = \"${rc}\"\n",
    );

    assert_eq!(
        err,
        "tests/qmp/t.toml:6:13: expected an exit code from 0 to 255 or a string holding `${name}`, found integer 256"
    );
}

#[test]
fn negative_retries_from_a_variant_is_the_literals_error() {
    let err = case_err("retries = \"${n}\"\n[variants]\nn = [-1]\n[machine]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:1:11: `retries` is a count: expected an integer from 0 to 4294967295, found -1"
    );
}

#[test]
fn launch_false_from_a_variant_is_the_literals_error() {
    let err = case_err("[variants]\nl = [false]\n[machine]\n[[step]]\nlaunch = \"${l}\"\n");

    assert!(
        err.starts_with("tests/qmp/t.toml:5:10: `launch = false` is not a step"),
        "{err}"
    );
}

#[test]
fn poll_from_a_variant_on_a_step_that_cannot_poll_is_the_literals_error() {
    let err = case_err(
        "[variants]\np = [true]\n[machine]\n[[step]]\nevent = \"STOP\"\npoll = \"${p}\"\n",
    );

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:1: `poll` does not apply to a `event` step \
         (only to `qmp`, `hmp`, `run`, `output`, `running`)"
    );
}

#[test]
fn unknown_reference_in_a_typed_value_is_an_error_at_its_string() {
    let test = load("[machine]\n[[step]]\nrunning = true\ntimeout = \"${t}\"\n");

    let err = test.check_vars(&[]).expect_err("t is unknown");

    assert_eq!(err.position(), Some((4, 11)));
    assert!(
        err.message()
            .starts_with("unknown variable `${t}` in a typed value"),
        "{err}"
    );
    test.check_vars(&["t".to_owned()])
        .expect("a -p parameter defines it");
}

#[test]
fn a_built_in_in_a_typed_value_is_a_load_error_at_its_string() {
    let err = crate::load_err("[machine]\ncpus = \"${tmp}\"\n");

    assert!(
        err.starts_with("tests/qmp/t.toml:2:8: unknown variable `${tmp}` in a typed value"),
        "{err}"
    );
}

#[test]
fn a_plain_string_in_a_typed_place_is_still_refused_at_load() {
    let err = crate::load_err("exclusive = \"yes\"\n[machine]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:1:13: `exclusive` must be `true` or `false`, found string \"yes\""
    );
}

#[test]
fn strings_checked_at_load_take_the_variant_too() {
    let sum = "ab".repeat(32);
    let cases = cases(&format!(
        "[variants]\nm = [\"b\"]\nch = [\"console\"]\nsum = [\"{sum}\"]\n\
         [assets.k]\npath = \"k\"\nsha256 = \"${{sum}}\"\n\
         [machines.a]\n[machines.b]\nchannel = \"${{ch}}\"\n[[step]]\non = \"${{m}}\"\nrunning = true\n"
    ));
    let file = &cases[0].file;

    assert_eq!(file.steps[0].on, "b");
    assert_eq!(file.machines[1].channel.as_deref(), Some("console"));
    assert_eq!(
        file.assets["k"].hash,
        Some(kennel_spec::AssetHash::Sha256(sum))
    );
}

#[test]
fn a_step_on_from_a_variant_naming_no_machine_is_the_literals_error() {
    let err = case_err("[variants]\nm = [\"c\"]\n[machines.a]\n[machines.b]\n[[step]]\non = \"${m}\"\nrunning = true\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:5:1: step targets unknown machine `c` (machines: `a`, `b`)"
    );
}

#[test]
fn a_display_from_a_variant_is_checked_like_a_literal() {
    let err = case_err("[variants]\nd = [\"hdmi\"]\n[machine]\ndisplay = \"${d}\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:11: unknown display \"hdmi\": expected one of `std`, `virtio`, `cirrus`, `ramfb`, `bochs`"
    );
}

#[test]
fn a_channel_from_a_variant_is_checked_like_a_literal() {
    let err = case_err("[variants]\nch = [\"telnet\"]\n[machine]\nchannel = \"${ch}\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:11: unknown channel \"telnet\": expected one of `agent`, `ssh`, `console`"
    );
}
