//! Issue 23: while a test is paused on its failure, each machine with a
//! display has VNC listening on a UNIX socket in its private folder; `kennel
//! attach --vnc` says where, a VNC server answers there, and it is gone once
//! the test goes on.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use kennel_testkit::{unique_marker, OutputWithin, RUN_BOUND};

use crate::debug::{paused_run, PAUSE_BOUND};
use crate::harness::*;

const HANGS_ON_A_SCREEN: &str = r#"
name = "hangs on a screen"
timeout = "60s"

[machine]
display = "std"

[[step]]
event = "RESET"
timeout = "2s"
"#;

fn attach_vnc(results: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["attach", "hangs-on-a-screen", "--vnc", "--results-dir"])
        .arg(results)
        .output_within(Duration::from_secs(60))
}

/// The RFB greeting of the server on `socket` (`RFB 003.008\n`), or why
/// there is none (no panic while the paused run waits for Enter).
fn rfb_greeting(socket: &str) -> String {
    let greet = || -> std::io::Result<String> {
        let mut stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut greeting = [0u8; 12];
        stream.read_exact(&mut greeting)?;
        Ok(String::from_utf8_lossy(&greeting).into_owned())
    };
    greet().unwrap_or_else(|e| format!("no greeting from {socket}: {e}"))
}

#[test]
fn a_paused_machine_with_a_display_has_vnc_on_a_private_socket_until_it_goes_on() {
    let dir = test_dir(&[("hangs.toml", HANGS_ON_A_SCREEN)]);
    let results = tempfile::tempdir().expect("results dir");
    let marker = unique_marker();
    let mut terminal = paused_run(dir.path(), results.path(), &marker);

    let paused = terminal.stdout().wait_for("Press Enter", PAUSE_BOUND);
    assert!(paused, "no pause came:\n{}", terminal.stdout().text());
    let attach = attach_vnc(results.path());
    let told = String::from_utf8_lossy(&attach.stdout).into_owned();
    let socket = told
        .split_whitespace()
        .find(|w| w.ends_with("/vnc.sock"))
        .unwrap_or_default()
        .to_owned();
    let greeting = rfb_greeting(&socket);
    terminal
        .stdin()
        .expect("keyboard")
        .write_all(b"\n")
        .expect("Enter");
    let ended = terminal.wait(RUN_BOUND);
    let status = ended.status;

    let screen = String::from_utf8_lossy(&ended.stdout);
    assert!(
        screen.contains("kennel attach /") // the job folder, absolute
            && screen.contains(" 001-hangs-on-a-screen --machine main --vnc"),
        "{screen}"
    );
    assert!(told.contains("vncviewer "), "{told}");
    assert_eq!(greeting, "RFB 003.008\n", "{told}");
    assert_eq!(status.code(), Some(1), "{screen}");
    let after = attach_vnc(results.path());
    assert!(
        String::from_utf8_lossy(&after.stderr).contains("has no VNC now"),
        "{}",
        String::from_utf8_lossy(&after.stderr)
    );
    assert!(!std::path::Path::new(&socket).exists());
    assert!(survivors_after(&marker, Duration::from_secs(2)).is_empty());
}
