//! Issue 23, keys and text: what a `type` step types reaches the shell on
//! the screen (checked through the guest channel), and `keys` switch the
//! virtual terminal, on the built-in guest with a display.

use kennel_testkit::unique_marker;

use crate::harness::*;

#[test]
fn typed_command_runs_in_the_screens_shell_and_alt_f2_switches_the_terminal() {
    let marker = unique_marker().replace('-', "_");
    let toml = format!(
        r#"name = "typed"
timeout = "120s"

[machine]
guest = "busybox"
display = "std"

[[step]]
run = "cat /sys/class/tty/tty0/active"
stdout = "tty1"

[[step]]
type = "echo Typed-{marker} > /tmp/typed\n"

[[step]]
run = "cat /tmp/typed"
stdout = "Typed-{marker}"
poll = true
timeout = "30s"

[[step]]
run = "echo second > /dev/tty2"

[[step]]
keys = ["alt-f2"]

[[step]]
run = "cat /sys/class/tty/tty0/active"
stdout = "tty2"
poll = true
timeout = "30s"
"#
    );
    let dir = test_dir(&[("typed.toml", &toml)]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.statuses(), ["PASS"], "{}", run.stdout);
}

#[test]
fn keys_on_the_wrong_terminal_do_not_reach_the_shell() {
    // The other way round: typed while tty2 is in front, the command never runs.
    let toml = r#"name = "elsewhere"
timeout = "120s"

[machine]
guest = "busybox"
display = "std"

[[step]]
run = "echo second > /dev/tty2"

[[step]]
keys = ["alt-f2"]

[[step]]
type = "touch /tmp/elsewhere\n"

[[step]]
run = "sleep 2; test -e /tmp/elsewhere"
exit_code = 1
"#;
    let dir = test_dir(&[("elsewhere.toml", toml)]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.statuses(), ["PASS"], "{}", run.stdout);
}

#[test]
fn mouse_moves_and_clicks_through_the_tablet_kennel_adds() {
    let toml = r#"name = "pointer"
timeout = "60s"

[machine]
display = "std"
tablet = true

[[step]]
mouse = { move = [100, 50], click = "left" }

[[step]]
qmp = "query-mice"
returns = [{ name = "QEMU HID Tablet", absolute = true }]

[[step]]
mouse = { move = [5000, 50] }
"#;
    let dir = test_dir(&[("pointer.toml", toml)]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("pointer");
    assert_eq!(test["status"], "ERROR", "{test}");
    let reason = test["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("step 3 (") && reason.contains("pixel 5000,50 is off the screen ("),
        "{reason}"
    );
}
