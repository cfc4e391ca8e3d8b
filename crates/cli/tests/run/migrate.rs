//! Issue 25: migration in one step. A running built-in guest migrated by a
//! `migrate` step answers on the destination; a migration QEMU refuses or
//! fails gives QEMU's reason; one that never completes FAILs at the step's
//! deadline with the last `query-migrate` and is cancelled; two machines
//! described differently are refused at load. The harness checks that
//! nothing is left running after each run.

use crate::harness::*;

/// Two bare machines (no guest) and one `migrate` step with `options`.
fn bare_pair(name: &str, options: &str, timeout: &str) -> String {
    format!(
        r#"
name = "{name}"
tags = ["arch:x86_64"]
timeout = "60s"

[machines.src]
memory = "64M"
args = ["-nodefaults"]

[machines.dst]
memory = "64M"
args = ["-nodefaults"]

[[step]]
migrate = {{ from = "src", to = "dst"{options} }}
timeout = "{timeout}"
"#
    )
}

/// The text of `file` (`test.log`, `qmp.log`) of every test of `run`'s job, joined.
fn joined_logs(run: &Run, file: &str) -> String {
    std::fs::read_dir(run.job_dir().join("tests"))
        .expect("tests/")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path().join(file)).unwrap_or_default())
        .collect()
}

/// `examples/migration/guest_migration.toml` named `name`, with `from` replaced by `to`.
fn guest_example_as(name: &str, from: &str, to: &str) -> String {
    let example =
        std::fs::read_to_string(workspace().join("examples/migration/guest_migration.toml"))
            .expect("the example");
    assert!(example.contains(from), "{from:?} not in the example");
    example.replace(from, to).replace(
        "name = \"a running guest migrates and answers on the destination\"",
        &format!("name = \"{name}\""),
    )
}

#[test]
fn a_running_guest_migrated_in_one_step_answers_on_the_destination() {
    let run = kennel(&["examples/migration"], &[]);

    assert_eq!(run.code, 0, "{}", run.stdout);
    let guest = run.test("a running guest migrates and answers on the destination");
    assert_eq!(guest["status"], "PASS", "{guest}");
    let bare = run.test("migration between two machines completes");
    assert_eq!(bare["status"], "PASS", "{bare}");
    let logs = joined_logs(&run, "test.log");
    assert!(
        logs.contains("machine `b` boots (cold): `incoming`: it waits for an incoming migration"),
        "{logs}"
    );
    assert!(logs.contains("its agent channel answers on `b`"), "{logs}");
}

#[test]
fn each_transport_completes_a_migration() {
    for transport in ["unix", "tcp", "exec"] {
        let options = format!(", transport = \"{transport}\"");
        let dir = test_dir(&[("t.toml", &bare_pair("over", &options, "30s"))]);

        let run = kennel(&[path_str(dir.path())], &[]);

        let test = run.test("over");
        assert_eq!(test["status"], "PASS", "{transport}: {test}");
    }
}

#[test]
fn a_capability_qemu_does_not_know_fails_with_qemus_words() {
    let options = ", capabilities = [\"no-such-capability\"]";
    let dir = test_dir(&[("t.toml", &bare_pair("bad cap", options, "30s"))]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("bad cap");
    assert_eq!(test["status"], "FAIL", "{test}");
    let reason = test["reason"].as_str().expect("reason");
    assert!(
        reason.contains("refused `migrate-set-capabilities")
            && reason.contains("'no-such-capability'"),
        "{reason}"
    );
}

#[test]
fn a_migration_qemu_fails_gives_qemus_reason() {
    // multifd needs a socket: over `exec:` the source fails the migration.
    let options = ", transport = \"exec\", capabilities = [\"multifd\"]";
    let dir = test_dir(&[("t.toml", &bare_pair("multifd exec", options, "30s"))]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("multifd exec");
    assert_eq!(test["status"], "FAIL", "{test}");
    let reason = test["reason"].as_str().expect("reason");
    // QEMU 7.2 fails the migration it started; QEMU 10 refuses to start it.
    let failed =
        reason.contains("the migration from `src` to `dst` failed: ") && reason.contains("multifd");
    let refused = reason.contains("machine `src` refused `migrate")
        && reason.contains("Migration requires multi-channel URIs");
    assert!(failed || refused, "{reason}");
}

#[test]
fn a_migration_that_never_completes_fails_at_the_deadline_and_is_cancelled() {
    // Paused before the switchover, a migration waits for `migrate-continue`,
    // which nobody sends (a bandwidth limit is not enough: QEMU 10 sends the
    // bare machine's zero pages past it).
    let options = ", capabilities = [\"pause-before-switchover\"]";
    let dir = test_dir(&[("t.toml", &bare_pair("slow", options, "3s"))]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("slow");
    assert_eq!(test["status"], "FAIL", "{test}");
    let reason = test["reason"].as_str().expect("reason");
    assert!(
        reason.contains("did not complete by its deadline")
            && reason.contains("status pre-switchover")
            && reason.contains("cancelled"),
        "{reason}"
    );
    let qmp = joined_logs(&run, "qmp.log");
    assert!(qmp.contains("\"execute\":\"migrate_cancel\""), "{qmp}");
}

#[test]
fn a_destination_described_differently_is_refused_at_load() {
    let text = bare_pair("differs", "", "30s").replacen("memory = \"64M\"", "memory = \"128M\"", 1);
    let dir = test_dir(&[("t.toml", &text)]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("t.toml:")
            && run
                .stderr
                .contains("machine `dst` is not described like `src`, which migrates into it: `memory` differ"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_console_shell_moves_with_the_guest_too() {
    let text = guest_example_as(
        "console",
        "guest = \"busybox\"",
        "guest = \"busybox\"\nchannel = \"console\"",
    );
    let dir = test_dir(&[("t.toml", &text)]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("console");
    assert_eq!(test["status"], "PASS", "{test}");
    let log = joined_logs(&run, "test.log");
    assert!(log.contains("its console channel answers on `b`"), "{log}");
}

#[test]
fn a_postcopy_migration_moves_the_guest_and_says_so() {
    let text = guest_example_as(
        "postcopy",
        "migrate = { from = \"a\", to = \"b\" }",
        "migrate = { from = \"a\", to = \"b\", postcopy = true }",
    );
    let dir = test_dir(&[("t.toml", &text)]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("postcopy");
    let reason = test["reason"].as_str().unwrap_or_default();
    if reason.contains("Postcopy is not supported") {
        // No userfaultfd for QEMU here: QEMU refuses `postcopy-ram`.
        kennel_testkit::missing(&format!("postcopy: {reason}"));
        return;
    }
    assert_eq!(test["status"], "PASS", "{test}");
    let log = joined_logs(&run, "test.log");
    assert!(
        log.contains(" in postcopy") && log.contains("its agent channel answers on `b`"),
        "{log}"
    );
}
