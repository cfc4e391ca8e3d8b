//! Text from a guest or a test process is untrusted: the terminal shows its
//! escape sequences written out (`kennel_config::text::visible`), never obeys
//! them, while the results files keep the exact text.

use std::path::Path;
use std::process::Command;

use crate::harness::*;

/// What the guest prints: set the window title, clear the screen, turn red.
const HOSTILE: &str = "\x1b]0;PWNED-TITLE\x07\x1b[2J\x1b[31mred";
/// The same, as kennel shows it.
const SHOWN: &str = r"\x1b]0;PWNED-TITLE\x07\x1b[2J\x1b[31mred";

/// Neither ESC nor BEL: nothing a terminal would obey.
fn assert_nothing_to_obey(what: &str, text: &str) {
    assert!(
        !text.contains(['\x1b', '\x07']),
        "{what} holds raw escape bytes:\n{}",
        text.escape_debug()
    );
}

/// `kennel report JOB`'s stdout.
fn kennel_report(job: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .arg("report")
        .arg(job)
        .output_within(RUN_BOUND);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The guest's output is in the failure's detail lines, which the terminal
/// prints and `kennel report` does not (its reason line is pinned by
/// [`untrusted_tap_point_is_shown_escaped_by_kennel_run_and_kennel_report`]).
#[test]
fn untrusted_guest_output_is_shown_escaped_in_the_terminal_and_kept_exact_in_results() {
    let dir = test_dir(&[(
        "t.toml",
        r#"
name = "hostile"
tags = ["arch:x86_64"]
timeout = "120s"

[machine]
guest = "busybox"

[[step]]
run = '''printf '\033]0;PWNED-TITLE\007\033[2J\033[31mred\n'; exit 3'''
"#,
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("hostile");
    assert_eq!(test["status"], "FAIL", "{test}");
    assert_nothing_to_obey("kennel run's stdout", &run.stdout);
    assert!(run.stdout.contains(SHOWN), "{}", run.stdout);
    let detail = test["detail"].as_str().expect("detail");
    assert!(detail.contains(HOSTILE), "{}", detail.escape_debug());
    let junit = std::fs::read_to_string(run.job_dir().join("junit.xml")).expect("junit.xml");
    assert_nothing_to_obey("junit.xml", &junit);
}

#[test]
fn untrusted_tap_point_is_shown_escaped_by_kennel_run_and_kennel_report() {
    let dir = test_dir(&[(
        "hostile.sh",
        "#!/bin/sh\nprintf '1..1\\nnot ok 1 - \\033]0;PWNED-TITLE\\007\\033[2J\\033[31mred\\n'\n",
    )]);
    let script = dir.path().join("hostile.sh");
    let mut perms = std::fs::metadata(&script).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).expect("chmod");

    let run = kennel(&[path_str(&script)], &[]);

    assert_nothing_to_obey("kennel run's stdout", &run.stdout);
    assert!(run.stdout.contains(SHOWN), "{}", run.stdout);
    let report = kennel_report(&run.job_dir());
    assert_nothing_to_obey("kennel report's stdout", &report);
    assert!(report.contains(SHOWN), "{report}");
    let results = run.results();
    let test = &results["tests"][0];
    assert_eq!(test["status"], "FAIL", "{test}");
    let name = test["name"].as_str().expect("name");
    assert!(name.contains(HOSTILE), "{}", name.escape_debug());
    let reason = test["reason"].as_str().expect("reason");
    assert!(reason.contains(HOSTILE), "{}", reason.escape_debug());
}
