//! The lifecycle steps on a scripted machine: `shutdown`, `kill`, `running`,
//! `exit`.

use super::*;

#[test]
fn shutdown_passes_when_qemu_exits_with_the_expected_code() {
    let toml = r#"[machine]
type = "none"

[[step]]
shutdown = { code = 0 }

[[step]]
running = false
"#;

    let outcome = run(toml, Script::new(), AMPLE);

    assert_eq!(verdict(&outcome), (Status::Pass, ""));
}

#[test]
fn shutdown_expecting_another_code_fails_naming_both() {
    let toml = r#"[machine]
type = "none"

[[step]]
shutdown = { code = 3 }
"#;

    let outcome = run(toml, Script::new(), AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, shutdown): expected QEMU to exit with code 3 after `quit`, got \
             exit code 0; output:"
        )
    );
}

#[test]
fn a_machine_that_has_exited_cannot_be_shut_down() {
    let toml = r#"[machine]
type = "none"

[[step]]
kill = true

[[step]]
shutdown = {}
"#;

    let outcome = run(toml, Script::new(), AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Error,
            "step 2 (t.toml:7, shutdown): cannot shut down: QEMU has exited (killed by signal 9 \
             (SIGKILL))"
        )
    );
}

#[test]
fn a_running_machine_is_not_expected_to_have_stopped() {
    let toml = r#"[machine]
type = "none"

[[step]]
running = false
"#;

    let outcome = run(toml, Script::new(), AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, running = false): expected QEMU not to be running, but it is"
        )
    );
}

#[test]
fn waiting_for_qemu_to_exit_by_itself_fails_at_the_step_timeout() {
    let toml = r#"[machine]
type = "none"

[[step]]
exit = { code = 0 }
timeout = "200ms"
"#;

    let outcome = run(toml, Script::new(), AMPLE);

    assert_eq!(
        verdict(&outcome),
        (
            Status::Fail,
            "step 1 (t.toml:4, exit): timed out after 200ms waiting for QEMU `main` to exit by \
             itself; it is still running; output:"
        )
    );
}
