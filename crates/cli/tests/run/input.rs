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

const READS_THE_SCREEN: &str = r#"name = "reads"
timeout = "120s"

[machine]
guest = "busybox"
display = "std"

[[step]]
run = "printf '\\033[2J\\033[H' > /dev/tty1; echo 'Welcome to kennel screens' > /dev/tty1"

[[step]]
screen_text = "Welcome to kennel"
region = [0, 0, 400, 32]
timeout = "30s"

[[step]]
screen_text = "Goodbye"
region = [0, 0, 400, 32]
timeout = "3s"
"#;

#[test]
fn screen_text_finds_a_line_and_a_miss_says_what_tesseract_read() {
    if kennel_testkit::need_command("tesseract", "tesseract-ocr").is_none() {
        return;
    }
    let dir = test_dir(&[("reads.toml", READS_THE_SCREEN)]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("reads");
    let reason = test["reason"].as_str().unwrap_or_default();
    assert_eq!(test["status"], "FAIL", "{test}");
    assert!(
        reason.starts_with("step 3 (")
            && reason.contains("waiting for the screen to show \"Goodbye\""),
        "{reason}"
    );
    let detail = test.to_string();
    assert!(detail.contains("Welcome to kennel screens"), "{detail}");
}

#[test]
fn screen_text_without_tesseract_skips_naming_its_package() {
    let dir = test_dir(&[("reads.toml", READS_THE_SCREEN)]);
    let bin = tempfile::tempdir().expect("a PATH without tesseract");
    let qemu = kennel_config::which("qemu-system-x86_64").expect("QEMU");
    std::os::unix::fs::symlink(&qemu, bin.path().join("qemu-system-x86_64")).expect("link");

    let run = kennel(&[path_str(dir.path())], &[("PATH", path_str(bin.path()))]);

    let test = run.test("reads");
    assert_eq!(test["status"], "SKIP", "{test}");
    assert!(
        test["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("tesseract is not installed (Debian package tesseract-ocr)"),
        "{test}"
    );
}
