//! Retries: flaky results, the attempts kept, what is not retried.

use super::*;

#[test]
fn a_failure_then_a_pass_is_flaky_and_keeps_the_first_attempt() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("t", &[fails(), passes()])]);

    let ran = run(
        vec![case("t", "retries = 2", 1, "128M")],
        &options(dir.path(), 1),
        &launcher,
    );

    let t = ran.result("t");
    assert_eq!((t.status, t.flaky, t.attempts), (Status::Pass, true, 2));
    assert_eq!(
        ran.story(),
        [
            "started t #1",
            "retrying t",
            "started t #2",
            "finished t PASS"
        ]
    );
    assert!(ran
        .report
        .job_dir
        .join(&t.logdir)
        .join("attempt-1")
        .join("test.log")
        .is_file());
}

#[test]
fn three_failures_with_two_retries_fail_after_three_attempts() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("t", &[fails(), fails(), fails()])]);
    let opts = JobOptions {
        retries: Some(2),
        ..options(dir.path(), 1)
    };

    let ran = run(small(&["t"]), &opts, &launcher);

    let t = ran.result("t");
    assert_eq!((t.status, t.flaky, t.attempts), (Status::Fail, false, 3));
    assert_eq!(t.reason.as_deref(), Some("scripted FAIL"));
    assert_eq!(
        ran.story()
            .iter()
            .filter(|s| s.starts_with("retrying"))
            .count(),
        2
    );
}

#[test]
fn a_skip_is_not_retried() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("t", &[Ends(Status::Skip, Duration::ZERO), passes()])]);

    let ran = run(
        vec![case("t", "retries = 2", 1, "128M")],
        &options(dir.path(), 1),
        &launcher,
    );

    assert_eq!(
        (ran.result("t").status, ran.result("t").attempts),
        (Status::Skip, 1)
    );
}

#[test]
fn an_attempt_that_cannot_start_is_an_error() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("t", &[Unstartable])]);

    let ran = run(small(&["t"]), &options(dir.path(), 1), &launcher);

    let t = ran.result("t");
    assert_eq!(t.status, Status::Error);
    assert_eq!(
        t.reason.as_deref(),
        Some("cannot start the test process scripted")
    );
}
