//! Screens on real QEMU: the built-in guest with `display = "std"` writes a
//! line to its VGA console, a `screen` step matches the example's reference
//! of it; the same reference for other text FAILs with the score and keeps
//! the last screen, the reference and the diff, which report.html shows.

use crate::harness::*;

/// The reference of the example (`examples/screen`): its first line.
fn reference() -> String {
    workspace()
        .join("examples/screen/refs/vga-line.png")
        .display()
        .to_string()
}

/// A test writing `line` at the top of the screen, then looking for the
/// reference's line there.
fn screen_test(line: &str) -> String {
    format!(
        r#"
name = "screen"
tags = ["arch:x86_64"]
timeout = "120s"

[machine]
guest = "busybox"
display = "std"

[[step]]
run = "printf '\\033[2J\\033[H' > /dev/tty1; echo '{line}' > /dev/tty1"

[[step]]
screen = "{}"
region = [0, 0, 320, 16]
timeout = "3s"
"#,
        reference()
    )
}

#[test]
fn the_example_matches_the_line_on_its_vga_console() {
    let run = kennel(&["examples/screen"], &[]);

    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.statuses(), ["PASS"]);
}

#[test]
fn another_line_fails_with_the_score_and_keeps_screen_reference_and_diff() {
    let dir = test_dir(&[(
        "screen.toml",
        &screen_test("kennel sees another line entirely"),
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("screen");
    assert_eq!(test["status"], "FAIL", "{test}");
    let reason = test["reason"].as_str().expect("reason");
    assert!(
        reason.contains("timed out after 3s waiting for the screen to match")
            && reason.contains("(best score 0.")
            && reason
                .contains("with region [0, 0, 320, 16] found at [0, 0] of the 1024x768 screen"),
        "{reason}"
    );
    let logdir = run.job_dir().join(test["logdir"].as_str().expect("logdir"));
    let report = std::fs::read_to_string(run.job_dir().join("report.html")).expect("report.html");
    for part in ["last", "reference", "diff"] {
        let name = format!("screen-line13-{part}.png");
        assert!(
            logdir.join(&name).is_file(),
            "{name} in {}",
            logdir.display()
        );
        assert!(
            report.contains(&format!(
                "<img src=\"{}/{name}\"",
                test["logdir"].as_str().unwrap_or_default()
            )),
            "{name} inline in report.html"
        );
    }
}

/// `kennel screen ARGS` run from the workspace root.
fn kennel_screen(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kennel"))
        .arg("screen")
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("run kennel screen")
}

#[test]
fn an_accepted_screen_becomes_the_reference_and_the_step_passes() {
    let dir = test_dir(&[]);
    let own = dir.path().join("ref.png");
    std::fs::copy(reference(), &own).expect("copy the reference");
    let test = screen_test("kennel sees another line entirely").replace(&reference(), "ref.png");
    std::fs::write(dir.path().join("accept.toml"), test).expect("write the test");
    let failed = kennel(&[path_str(dir.path())], &[]);
    assert_eq!(failed.test("screen")["status"], "FAIL");

    let accepted = kennel_screen(&["accept", path_str(&failed.job_dir()), "screen"]);
    let again = kennel(&[path_str(dir.path())], &[]);

    assert!(accepted.status.success(), "{accepted:?}");
    assert_eq!(again.test("screen")["status"], "PASS", "{}", again.stdout);
}

#[test]
fn crop_cuts_a_rectangle_and_refuses_one_outside_the_image() {
    let dir = test_dir(&[]);
    let out = dir.path().join("line.png");

    let cropped = kennel_screen(&["crop", &reference(), "0,0,320,16", "-o", path_str(&out)]);
    let outside = kennel_screen(&["crop", &reference(), "1000,0,320,16", "-o", path_str(&out)]);

    assert!(cropped.status.success(), "{cropped:?}");
    assert_eq!(
        kennel_screen::read_image(&out).expect("a png").dimensions(),
        (320, 16)
    );
    assert!(!outside.status.success());
    assert!(
        String::from_utf8_lossy(&outside.stderr)
            .contains("[1000, 0, 320, 16] is outside the 1024x768 image"),
        "{outside:?}"
    );
}
