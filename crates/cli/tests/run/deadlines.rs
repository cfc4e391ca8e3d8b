//! The deadline rule of the test format, wait by wait, against real QEMU: a
//! wait ends by the deadline of the step that needs it (its own `timeout` when
//! shorter than what is left of the test's) and then FAILs; only the test's
//! `timeout` gives INTERRUPTED. A guest that dies or panics ends the wait at once.

use crate::harness::*;

/// Run one test file; its result entry and how long kennel took.
fn outcome(toml: &str) -> (Value, Duration) {
    let dir = test_dir(&[("t.toml", toml)]);
    let run = kennel(&[path_str(dir.path())], &[]);
    let results = run.results();
    (results["tests"][0].clone(), run.elapsed)
}

fn reason(test: &Value) -> &str {
    test["reason"].as_str().expect("reason")
}

/// A built-in guest whose kernel finds no init and panics; `panic` picks
/// what the kernel does then (`-1`: reboot, which `-no-reboot` turns into
/// QEMU exiting; `0`: halt, QEMU stays).
fn panicking_guest(test_timeout: &str, panic: &str, console_fail: &str, step: &str) -> String {
    format!(
        "name = \"t\"\ntags = [\"arch:x86_64\"]\ntimeout = \"{test_timeout}\"\n\n[machine]\nguest = \"busybox\"\nappend = \"rdinit=/nonexistent panic={panic}\"\n{console_fail}\n\n[[step]]\n{step}\n"
    )
}

#[test]
fn guest_whose_kernel_panics_and_exits_fails_its_first_step_at_once_with_the_panic_line() {
    // The step's 100 s are far beyond a panic, even on a loaded machine: ending
    // before them is ending at once.
    let (test, elapsed) = outcome(&panicking_guest(
        "150s",
        "-1",
        "",
        "run = \"true\"\ntimeout = \"100s\"",
    ));

    assert_eq!(test["status"], "FAIL", "{test}");
    assert!(reason(&test).starts_with("step 1 ("), "{test}");
    assert!(
        reason(&test).contains("Kernel panic - not syncing: VFS"),
        "{test}"
    );
    assert!(elapsed < Duration::from_secs(100), "{elapsed:?}");
}

#[test]
fn guest_whose_kernel_panics_and_halts_fails_as_soon_as_the_console_shows_it() {
    let (test, elapsed) = outcome(&panicking_guest(
        "150s",
        "0",
        "",
        "run = \"true\"\ntimeout = \"100s\"",
    ));

    assert_eq!(test["status"], "FAIL", "{test}");
    assert!(
        reason(&test).contains("its console showed \"Kernel panic - not syncing\""),
        "{test}"
    );
    assert!(elapsed < Duration::from_secs(100), "{elapsed:?}");
}

#[test]
fn guest_that_never_comes_up_fails_at_the_step_timeout_not_the_tests() {
    // The step's 15 s leave a loaded machine (or a slower QEMU) time to print
    // the panic; the test's own 90 s are far off.
    let (test, _) = outcome(&panicking_guest(
        "90s",
        "0",
        "console_fail = []",
        "run = \"true\"\ntimeout = \"15s\"",
    ));

    assert_eq!(test["status"], "FAIL", "{test}");
    assert!(reason(&test).starts_with("step 1 ("), "{test}");
    assert!(reason(&test).contains("did not come up"), "{test}");
    assert!(reason(&test).contains("console: ["), "{test}");
}

#[test]
fn guest_that_never_comes_up_is_interrupted_only_by_the_test_timeout() {
    let (test, _) = outcome(&panicking_guest(
        "6s",
        "0",
        "console_fail = []",
        "run = \"true\"",
    ));

    assert_eq!(test["status"], "INTERRUPTED", "{test}");
    assert!(reason(&test).contains("did not come up"), "{test}");
}

const GUEST: &str = "name = \"t\"\ntags = [\"arch:x86_64\"]\n[machine]\nguest = \"busybox\"\n";

#[test]
fn console_wait_fails_at_the_step_timeout() {
    let (test, elapsed) = outcome(&format!(
        "timeout = \"60s\"\n{GUEST}\n[[step]]\nrun = \"true\"\n[[step]]\nconsole = \"never printed\"\ntimeout = \"3s\"\n"
    ));

    assert_eq!(test["status"], "FAIL", "{test}");
    assert!(
        reason(&test).contains(
            "/t.toml:9, console \"never printed\"): timed out after 3s waiting for \"never printed\" on console of main"
        ),
        "{test}"
    );
    // A lower bound only: load makes a run slower, never faster.
    assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
}

#[test]
fn console_wait_is_interrupted_by_the_test_timeout() {
    let (test, _) = outcome(&format!(
        "timeout = \"15s\"\n{GUEST}\n[[step]]\nconsole = \"never printed\"\n"
    ));

    assert_eq!(test["status"], "INTERRUPTED", "{test}");
}

#[test]
fn guest_command_fails_at_the_step_timeout() {
    let (test, elapsed) = outcome(&format!(
        "timeout = \"60s\"\n{GUEST}\n[[step]]\nrun = \"true\"\n[[step]]\nrun = \"sleep 100\"\ntimeout = \"3s\"\n"
    ));

    // The built-in guest's commands go through its agent (built beside kennel).
    // A first step waits for the guest, so that its boot does not eat this step's time.
    assert_eq!(test["status"], "FAIL", "{test}");
    assert!(
        reason(&test).contains(
            "/t.toml:9, run sleep 100): timed out after 3s waiting for `sleep 100` to finish in the guest"
        ),
        "{test}"
    );
    // A lower bound only: load makes a run slower, never faster.
    assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
}

#[test]
fn guest_command_is_interrupted_by_the_test_timeout() {
    let (test, _) = outcome(&format!(
        "timeout = \"15s\"\n{GUEST}\n[[step]]\nrun = \"sleep 100\"\n"
    ));

    assert_eq!(test["status"], "INTERRUPTED", "{test}");
}

#[test]
fn console_command_fails_at_the_step_timeout() {
    let (test, elapsed) = outcome(&format!(
        "timeout = \"60s\"\n{GUEST}channel = \"console\"\n\n[[step]]\nrun = \"true\"\n[[step]]\nexec = \"sleep 100\"\nexpect = \"never printed\"\ntimeout = \"3s\"\n"
    ));

    assert_eq!(test["status"], "FAIL", "{test}");
    assert!(
        reason(&test).contains(
            "/t.toml:10, exec sleep 100): timed out after 3s waiting for \"never printed\" on console of main"
        ),
        "{test}"
    );
    // A lower bound only: load makes a run slower, never faster.
    assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
}

const PAUSED: &str = "name = \"t\"\n[machine]\ntype = \"none\"\nargs = [\"-nodefaults\", \"-S\"]\n";

#[test]
fn polling_step_fails_at_its_timeout() {
    let (test, elapsed) = outcome(&format!(
        "timeout = \"30s\"\n{PAUSED}\n[[step]]\nqmp = \"query-status\"\nreturns = {{ status = \"running\" }}\npoll = true\ntimeout = \"1s\"\n"
    ));

    assert_eq!(test["status"], "FAIL", "{test}");
    assert!(
        reason(&test).contains(
            "/t.toml:7, qmp query-status): timed out after 1s waiting for the step to pass ("
        ),
        "{test}"
    );
    assert!(reason(&test).contains("attempts"), "{test}");
    // A lower bound only: load makes a run slower, never faster.
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
}

#[test]
fn polling_step_is_interrupted_by_the_test_timeout() {
    let (test, _) = outcome(&format!(
        "timeout = \"2s\"\n{PAUSED}\n[[step]]\nqmp = \"query-status\"\nreturns = {{ status = \"running\" }}\npoll = true\n"
    ));

    assert_eq!(test["status"], "INTERRUPTED", "{test}");
}

#[test]
fn exit_wait_fails_at_the_step_timeout() {
    let (test, elapsed) = outcome(&format!(
        "timeout = \"30s\"\n{PAUSED}\n[[step]]\nexit = {{ code = 0 }}\ntimeout = \"1s\"\n"
    ));

    assert_eq!(test["status"], "FAIL", "{test}");
    assert!(
        reason(&test).contains(
            "/t.toml:7, exit): timed out after 1s waiting for QEMU `main` to exit by itself"
        ),
        "{test}"
    );
    // A lower bound only: load makes a run slower, never faster.
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
}

#[test]
fn exit_wait_is_interrupted_by_the_test_timeout() {
    let (test, _) = outcome(&format!(
        "timeout = \"2s\"\n{PAUSED}\n[[step]]\nexit = {{ code = 0 }}\n"
    ));

    assert_eq!(test["status"], "INTERRUPTED", "{test}");
}

/// A machine that boots nothing (a paused q35) with a cloud-init seed: the
/// cheapest real QEMU whose guest never phones home and has no SSH server.
fn cloud_machine(test_timeout: &str, step_timeout: &str) -> String {
    format!(
        "name = \"t\"\ntags = [\"arch:x86_64\"]\ntimeout = \"{test_timeout}\"\n\n[machine]\ntype = \"q35\"\nargs = [\"-nodefaults\", \"-S\"]\ncloud_init = true\n\n[[step]]\nrunning = true\ntimeout = \"{step_timeout}\"\n"
    )
}

#[test]
fn phone_home_wait_fails_at_the_step_timeout_naming_the_wait() {
    let (test, _) = outcome(&cloud_machine("90s", "4s"));

    assert_eq!(test["status"], "FAIL", "{test}");
    assert!(reason(&test).starts_with("step 1 ("), "{test}");
    assert!(
        reason(&test).contains("did not come up: no phone-home from instance"),
        "{test}"
    );
}

#[test]
fn ssh_wait_after_the_phone_home_fails_at_the_step_timeout_naming_the_wait() {
    let dir = test_dir(&[("t.toml", &cloud_machine("90s", "6s"))]);

    let run = kennel_while(&[path_str(dir.path())], &[], phone_home_for_the_guest);

    let test = &run.results()["tests"][0];
    assert_eq!(test["status"], "FAIL", "{test}");
    assert!(reason(test).starts_with("step 1 ("), "{test}");
    assert!(
        reason(test).contains("the guest phoned home but SSH on 127.0.0.1:"),
        "{test}"
    );
}

/// Phone home from the host for the guest of the run's only test, the way
/// cloud-init would: the instance id and seed come from its `test.log`, the
/// URL from the seed's user-data. Gives up quietly after 30 s (the test then
/// fails on its reason).
fn phone_home_for_the_guest(results: &Path) {
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if let Some((port, path)) = phone_home_target(results) {
            post_form(port, &path, "hostname=t");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The phone-home server's port and the request path for the test's guest.
fn phone_home_target(results: &Path) -> Option<(u16, String)> {
    let job = std::fs::read_dir(results)
        .ok()?
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("job-"))?;
    let log = std::fs::read_to_string(job.path().join("tests/001-t/test.log")).ok()?;
    let line = log.lines().find(|l| l.contains("cloud-init seed "))?;
    let seed = line.split("cloud-init seed ").nth(1)?.split(' ').next()?;
    let instance = line.split("(instance ").nth(1)?.split(')').next()?;
    let bytes = std::fs::read(seed).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let url = text.split("http://10.0.2.2:").nth(1)?;
    let (port, rest) = url.split_once('/')?;
    let token = rest.split('/').next()?;
    Some((port.parse().ok()?, format!("/{token}/{instance}")))
}

/// POST a form to `127.0.0.1:port`, ignoring the answer.
fn post_form(port: u16, path: &str, body: &str) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(request.as_bytes());
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.read_to_end(&mut Vec::new());
}
