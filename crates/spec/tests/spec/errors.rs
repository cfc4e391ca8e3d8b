//! Each load error names file:line:column and says what was expected.

use crate::{load, load_err};

#[test]
fn toml_syntax_error_points_at_the_offending_character() {
    let err = load_err("[machine]\ntype = \n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:8: string values must be quoted, expected literal string"
    );
}

#[test]
fn duplicate_key_is_a_syntax_error() {
    let err = load_err("[machine]\n[[step]]\nqmp = 'a'\nqmp = 'b'\n");

    assert_eq!(err, "tests/qmp/t.toml:4:1: duplicate key");
}

#[test]
fn unknown_top_level_key_is_named_with_the_expected_keys() {
    let err = load_err("name = \"x\"\ntimout = \"3s\"\n[machine]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:1: unknown field `timout`, expected one of `name`, `description`, \
         `tags`, `covers`, `timeout`, `retries`, `exclusive`, `requires`, `machine`, `machines`, `variants`, `assets`, `step`, `network`"
    );
}

#[test]
fn unknown_machine_key_is_named() {
    let err = load_err("[machine]\ncpu = 4\n");

    assert!(
        err.starts_with("tests/qmp/t.toml:2:1: unknown field `cpu`, expected one of `arch`,"),
        "{err}"
    );
}

#[test]
fn unknown_step_key_is_named() {
    let err = load_err("[machine]\n\n[[step]]\nqmp = \"stop\"\n  retruns = {}\n");

    assert!(
        err.starts_with("tests/qmp/t.toml:5:3: unknown field `retruns`, expected one of `on`,"),
        "{err}"
    );
}

#[test]
fn unknown_key_in_a_nested_table_is_named() {
    let err = load_err("[machine]\n[[step]]\nqmp = \"x\"\nerror = { klass = \"GenericError\" }\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:11: unknown field `klass`, expected one of `class`, `desc`, `desc_contains`, `desc_regex`"
    );
}

#[test]
fn wrong_type_points_at_the_value() {
    let err = load_err("[machine]\nmemory = 512\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:10: invalid type: integer `512`, expected a string"
    );
}

#[test]
fn steps_without_a_machine_are_refused() {
    let err = load_err("name = \"x\"\n\n[[step]]\nrunning = true\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:3:1: test has steps but no machine: add a `[machine]` table"
    );
}

#[test]
fn several_machines_without_main_need_on() {
    let err = load_err("[machines.a]\n[machines.b]\n[[step]]\non = \"a\"\nrunning = true\n[[step]]\nrunning = true\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:6:1: step needs `on`: there are several machines (`a`, `b`) and none is named `main`"
    );
}

#[test]
fn on_naming_an_unknown_machine_is_refused() {
    let err = load_err("[machine]\n[[step]]\non = \"dst\"\nrunning = true\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:1: step targets unknown machine `dst` (machines: `main`)"
    );
}

#[test]
fn step_without_kind_is_refused() {
    let err = load_err("[machine]\n[[step]]\ntimeout = \"1s\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:1: step has no kind: expected one of `qmp`, `hmp`, `event`, `console`, \
         `console_regex`, `send`, `exec`, `run`, `output`, `running`, `launch`, `exit`, `shutdown`, `kill`, \
         `screendump`, `screen`, `keys`, `type`, `mouse`, `screen_text`, `migrate`, `link`"
    );
}

#[test]
fn step_with_two_kinds_is_refused() {
    let err = load_err("[machine]\n\n[[step]]\nconsole = \"login:\"\nqmp = \"stop\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:3:1: step has two kinds: `qmp` and `console`"
    );
}

#[test]
fn option_of_another_kind_is_refused() {
    let err = load_err("[machine]\n[[step]]\nqmp = \"stop\"\ncontains = \"x\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:1: key `contains` does not apply to a `qmp` step \
         (its own keys: `args`, `returns`, `returns_exact`, `error`)"
    );
}

#[test]
fn machine_and_machines_cannot_be_combined() {
    let err = load_err("[machine]\n\n[machines.dst]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:3:1: `[machine]` and `[machines.dst]` cannot be combined: \
         use `[machines.main]` and `[machines.dst]`"
    );
}

#[test]
fn bad_test_timeout_points_at_the_value() {
    let err = load_err("timeout = \"30\"\n[machine]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:1:11: bad duration \"30\": time unit needed, for example 30sec or 30ms \
         (expected e.g. \"30s\", \"2m\", \"1500ms\", \"1m30s\")"
    );
}

#[test]
fn numeric_timeout_is_refused() {
    let err = load_err("[machine]\n[[step]]\nkill = true\ntimeout = 30\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:11: expected a duration string such as \"30s\", \"2m\" or \"1500ms\", found integer 30"
    );
}

#[test]
fn bad_regex_is_refused_at_load() {
    let err = load_err("[machine]\n[[step]]\nconsole_regex = \"(unclosed\"\n");

    assert!(
        err.starts_with("tests/qmp/t.toml:3:17: bad regex: regex parse error:"),
        "{err}"
    );
}

#[test]
fn regex_with_a_reference_is_compiled_later() {
    let test = load("[machine]\n[[step]]\nconsole_regex = \"(${open}\"\n");

    assert_eq!(test.steps.len(), 1);
}

#[test]
fn machine_expecting_exit_cannot_be_targeted() {
    let err = load_err("[machine]\nexpect_exit = { code = 1 }\n\n[[step]]\nrunning = false\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:1: step targets machine `main`, which has `expect_exit`: \
         no step may target such a machine"
    );
}

#[test]
fn exit_step_takes_no_timeout_inside() {
    let err = load_err("[machine]\n[[step]]\nexit = { code = 1, timeout = \"3s\" }\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:3:8: `timeout` goes on the step, not inside `exit`"
    );
}

#[test]
fn plain_and_regex_forms_cannot_be_combined() {
    let err = load_err("[machine]\nexpect_exit = { stderr = \"a\", stderr_regex = \"b\" }\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:46: `stderr` and `stderr_regex` cannot be combined: expected one"
    );
}

#[test]
fn qmp_expectations_cannot_be_combined() {
    let err = load_err("[machine]\n[[step]]\nqmp = \"x\"\nreturns = {}\nerror = {}\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:1: `returns` and `error` cannot be combined in a `qmp` step: expected one"
    );
}

#[test]
fn typed_value_written_as_plain_text_is_refused() {
    let err = load_err("[machine]\ncpus = \"4\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:8: expected a positive integer or a string holding `${name}`, found string \"4\""
    );
}

#[test]
fn unterminated_reference_is_refused() {
    let err = load_err("[machine]\nargs = [\"-m\", \"${mem\"]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:15: `${` without a closing `}` (write `$${` for a literal `${`) in \"${mem\""
    );
}

#[test]
fn poll_on_a_console_step_is_refused() {
    let err = load_err("[machine]\n[[step]]\nconsole = \"x\"\npoll = true\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:1: `poll` does not apply to a `console` step (only to `qmp`, `hmp`, `run`, `output`, `running`)"
    );
}

#[test]
fn save_on_a_step_without_value_is_refused() {
    let err = load_err("[machine]\n[[step]]\nsend = \"x\"\nsave = { a = \"\" }\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:8: `save` does not apply to a `send` step \
         (only to `qmp`, `hmp`, `event`, `run`, `console_regex`, `screen`, which produce a value)"
    );
}

#[test]
fn save_needs_a_json_pointer() {
    let err = load_err("[machine]\n[[step]]\nqmp = \"x\"\nsave = { a = \"0/x\" }\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:8: `save.a` = \"0/x\" is not a JSON pointer: expected \"\" or a path starting with `/`, like \"/0/qom-path\""
    );
}

#[test]
fn undeclared_asset_is_refused_at_load() {
    let err = load_err("[machine]\n\n[[step]]\nrun = \"ls ${asset:disk}\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:7: unknown variable `${asset:disk}`: there is no `[assets.disk]` table"
    );
}

#[test]
fn unknown_variable_is_refused_unless_a_parameter_sets_it() {
    let test = load("[machine]\n\n[[step]]\nrun = \"echo ${foo}\"\n");

    let err = test.check_vars(&[]).expect_err("foo is unknown");

    assert_eq!(
        err.to_string(),
        "tests/qmp/t.toml:4:7: unknown variable `${foo}`: not a variant, a `-p` parameter, a built-in \
         (`tmp`, `dir`, `guest_kernel`, `guest_initrd`) or a value saved by an earlier step"
    );
    test.check_vars(&["foo".to_owned()])
        .expect("-p foo=... defines it");
}

#[test]
fn unknown_variable_in_a_machine_points_at_its_table() {
    let test = load(
        "[variants]\nmem = [\"1G\"]\n\n[machines.main]\nmemory = \"${mem}\"\ncpus = \"${cpus}\"\n",
    );

    let err = test.check_vars(&[]).expect_err("cpus is unknown");

    assert!(
        err.to_string()
            .starts_with("tests/qmp/t.toml:4:1: unknown variable `${cpus}`:"),
        "{err}"
    );
}

#[test]
fn saved_value_is_usable_in_later_steps_only() {
    let test = load(
        "[machine]\n[[step]]\nrun = \"echo ${path}\"\n[[step]]\nqmp = \"x\"\nsave = { path = \"/0\" }\n",
    );

    let err = test.check_vars(&[]).expect_err("used before saved");

    assert_eq!(
        err.to_string(),
        "tests/qmp/t.toml:3:7: unknown variable `${path}`: it is saved by a later step (line 4); \
         saved values are usable in later steps only"
    );
}

#[test]
fn references_inside_qmp_values_are_checked() {
    let test = load("[machine]\n[[step]]\nqmp = \"x\"\nargs = { id = [\"${nope}\"] }\n");

    let err = test.check_vars(&[]).expect_err("nope is unknown");

    assert!(
        err.to_string().contains("unknown variable `${nope}`"),
        "{err}"
    );
}

#[test]
fn display_must_be_known_and_the_error_lists_the_devices() {
    let err = load_err("[machine]\nguest = \"busybox\"\ndisplay = \"vga\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:3:11: unknown display \"vga\": expected one of `std`, `virtio`, `cirrus`, `ramfb`, `bochs`"
    );
}

#[test]
fn channel_must_be_known() {
    let err = load_err("[machine]\nchannel = \"serial\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:11: unknown channel \"serial\": expected one of `agent`, `ssh`, `console`"
    );
}

#[test]
fn bad_version_requirement_points_at_the_value() {
    let err = load_err("[requires]\nqemu_version = \"~7\"\n[machine]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:16: bad version requirement \"~7\": `~7` is not a version like 7.2 or 7.2.0 \
         (expected e.g. \">=7.2\", \"<8.1.0\", \"=7.2\", \">=7, <9\")"
    );
}

#[test]
fn variant_without_values_is_refused() {
    let err = load_err("[variants]\ncpus = []\n[machine]\n");

    assert_eq!(err, "tests/qmp/t.toml:2:8: variant `cpus` has no values");
}

#[test]
fn asset_without_source_is_refused() {
    let err = load_err("[machine]\n[assets.k]\nsha256 = \"00\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:1: asset `k` needs `url`, `path` or `cloud`"
    );
}

#[test]
fn cloud_asset_with_a_url_is_refused() {
    let err = load_err(
        "[machine]
[assets.k]
cloud = \"debian 12 amd64\"
url = \"http://x/y\"
",
    );

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:7: asset `k` has `cloud` and `url`/`path`: expected one"
    );
}

#[test]
fn launch_false_with_expect_exit_is_refused() {
    let err = load_err("[machine]\nlaunch = false\nexpect_exit = {}\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:1:1: machine `main` has `expect_exit` and `launch = false`, but no step may launch it"
    );
}

#[test]
fn kill_false_is_refused() {
    let err = load_err("[machine]\n[[step]]\nkill = false\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:3:8: `kill = false` is not a step: write `kill = true` to kill the machine"
    );
}

#[test]
fn error_exposes_file_and_position() {
    let err = kennel_spec::load_str(std::path::Path::new("a.toml"), "[machine]\nx = 1\n")
        .expect_err("unknown key");

    assert_eq!(err.file(), std::path::Path::new("a.toml"));
    assert_eq!(err.position(), Some((2, 1)));
}

#[test]
fn single_step_table_is_refused() {
    let err = load_err("[machine]\n[step]\nkill = true\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:1: `step` must be an array of tables: write `[[step]]`, not `[step]`"
    );
}

#[test]
fn empty_machines_table_is_refused() {
    let err = load_err("[machines]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:1:1: `[machines]` holds no machine: expected `[machines.<name>]` tables"
    );
}

#[test]
fn non_table_where_a_table_is_expected_says_what_is_expected() {
    let err = load_err("[machine]\n[[step]]\nshutdown = true\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:3:12: invalid type: boolean `true`, expected a table like { code = 0 }"
    );
}

#[test]
fn qmp_arguments_must_be_a_table() {
    let err = load_err("[machine]\n[[step]]\nqmp = \"x\"\nargs = [1]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:8: `args` must be a table (or a string that is exactly one `${name}`), found array"
    );
}

#[test]
fn ssh_channel_without_cloud_init_is_refused() {
    let err = load_err("[machine]\nchannel = \"ssh\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:11: `channel = \"ssh\"` needs `cloud_init` (it makes the guest's user and key)"
    );
}

/// Issue 11: an exit status is a byte, and `code = 4294967296` matched exit 0
/// (the runner compared `code as i32`). Exit codes outside 0..=255 are load
/// errors at the value.
#[test]
fn shutdown_code_outside_a_byte_is_a_load_error_at_the_value() {
    let err = load_err("[machine]\n[[step]]\nshutdown = { code = 4294967296 }\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:3:21: expected an exit code from 0 to 255 or a string \
         holding `${name}`, found integer 4294967296"
    );
}

#[test]
fn exit_codes_outside_a_byte_are_refused_in_every_place() {
    let exit = load_err("[machine]\n[[step]]\nexit = { code = 256 }\n");
    let expect_exit = load_err("[machine]\nexpect_exit = { code = -1 }\n");
    let run =
        load_err("[machine]\nguest = \"busybox\"\n[[step]]\nrun = \"true\"\nexit_code = 300\n");

    assert!(
        exit.starts_with("tests/qmp/t.toml:3:17: expected an exit code from 0 to 255"),
        "{exit}"
    );
    assert!(
        expect_exit.starts_with("tests/qmp/t.toml:2:24: expected an exit code from 0 to 255"),
        "{expect_exit}"
    );
    assert!(
        run.starts_with("tests/qmp/t.toml:5:13: expected an exit code from 0 to 255"),
        "{run}"
    );
}

#[test]
fn exit_codes_from_0_to_255_load() {
    let test =
        crate::load("[machine]\n[[step]]\nshutdown = { code = 255 }\n[[step]]\nlaunch = true\n");

    assert_eq!(test.steps.len(), 2);
}

#[test]
fn a_covers_entry_outside_the_repository_is_an_error_at_its_place() {
    let err = load_err("covers = [\"hw/net/*\", \"../x.c\"]\n[machine]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:1:23: `covers` entry \"../x.c\" has `..`: `covers` paths are \
         relative to the repository's top"
    );
}

#[test]
fn covers_are_loaded_as_written() {
    let test = load("covers = [\"hw/net/virtio-net.c\", \"hw/net/\"]\n[machine]\n");

    assert_eq!(test.covers, ["hw/net/virtio-net.c", "hw/net/"]);
}

#[test]
fn firmware_and_tpm_must_be_known_and_the_errors_list_the_choices() {
    let err = load_err("[machine]\nguest = \"busybox\"\nfirmware = \"efi\"\n");
    assert_eq!(
        err,
        "tests/qmp/t.toml:3:12: unknown firmware \"efi\": expected one of `bios`, `uefi`"
    );

    let err = load_err("[machine]\nguest = \"busybox\"\ntpm = \"3\"\n");
    assert_eq!(
        err,
        "tests/qmp/t.toml:3:7: unknown tpm \"3\": expected one of `2.0`, `1.2`"
    );
}

#[test]
fn firmware_and_tpm_load_as_written() {
    let test = load("[machine]\nguest = \"busybox\"\nfirmware = \"uefi\"\ntpm = \"2.0\"\n");
    assert_eq!(test.machines[0].firmware.as_deref(), Some("uefi"));
    assert_eq!(test.machines[0].tpm.as_deref(), Some("2.0"));
}
