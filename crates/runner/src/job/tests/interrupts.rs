//! Timeouts, the job timeout and Ctrl-C: killed attempts, what is retried and skipped.

use super::*;

#[test]
fn an_attempt_past_its_timeout_is_killed_and_interrupted() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("t", &[Hangs])]);
    let opts = JobOptions {
        timeout_factor: 0.2,
        ..options(dir.path(), 1)
    };
    let started = Instant::now();

    let ran = run(
        vec![case("t", "timeout = \"1s\"", 1, "128M")],
        &opts,
        &launcher,
    );

    let t = ran.result("t");
    assert_eq!(t.status, Status::Interrupted);
    assert_eq!(
        t.reason.as_deref(),
        Some("the test process did not finish within its timeout (200ms) plus 0s, and was killed; last test.log line: started")
    );
    assert_eq!(launcher.log(), ["start t", "kill t"]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn an_attempt_killed_at_its_timeout_is_retried() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("t", &[Hangs, passes()])]);
    let opts = JobOptions {
        timeout_factor: 0.2,
        ..options(dir.path(), 1)
    };

    let ran = run(
        vec![case("t", "timeout = \"1s\"\nretries = 1", 1, "128M")],
        &opts,
        &launcher,
    );

    let t = ran.result("t");
    assert_eq!((t.status, t.flaky, t.attempts), (Status::Pass, true, 2));
}

#[test]
fn the_job_timeout_interrupts_the_running_test_and_skips_the_rest() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("hangs", &[Hangs])]);
    let opts = JobOptions {
        job_timeout: Some(Duration::from_millis(300)),
        ..options(dir.path(), 1)
    };
    let started = Instant::now();

    let ran = run(small(&["hangs", "next"]), &opts, &launcher);

    assert_eq!(ran.statuses(), [Status::Interrupted, Status::Skip]);
    assert_eq!(
        ran.result("hangs").reason.as_deref(),
        Some("the job's timeout was reached")
    );
    assert_eq!(
        ran.result("next").reason.as_deref(),
        Some("not run: the job's timeout was reached")
    );
    assert_eq!(launcher.log(), ["start hangs", "kill hangs"]);
    assert!(!ran.report.interrupted);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

/// A test process killed at its timeout writes no result: how its machines
/// started comes from the `start.json` they left.
#[test]
fn a_killed_test_still_says_how_its_machines_started() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("warm", &[HangsAfterWarmStart])]);
    let opts = JobOptions {
        timeout_factor: 0.2,
        ..options(dir.path(), 1)
    };

    let ran = run(
        vec![case("warm", "timeout = \"1s\"", 1, "128M")],
        &opts,
        &launcher,
    );

    let t = ran.result("warm");
    assert_eq!(t.status, Status::Interrupted);
    assert_eq!(t.machines.start, Some(kennel_results::StartKind::Warm));
    assert_eq!(t.machines.template.as_deref(), Some("1a2b"));
}

#[test]
fn ctrl_c_interrupts_the_running_test_without_retrying_and_skips_the_rest() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("pressed", &[PressesCtrlC])]);
    let tests = vec![
        case("pressed", "retries = 3", 1, "128M"),
        case("next", "", 1, "128M"),
    ];

    let ran = run(tests, &options(dir.path(), 1), &launcher);

    let t = ran.result("pressed");
    assert_eq!((t.status, t.attempts), (Status::Interrupted, 1));
    assert_eq!(t.reason.as_deref(), Some("interrupted by the user"));
    assert_eq!(
        ran.result("next").reason.as_deref(),
        Some("not run: interrupted by the user")
    );
    assert_eq!(launcher.log(), ["start pressed", "kill pressed"]);
    assert!(ran.report.interrupted);
    assert!(matches!(
        ran.events.last(),
        Some(EventKind::JobFinished {
            interrupted: true,
            ..
        })
    ));
}

#[test]
fn ctrl_c_stops_every_running_test() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("hangs", &[Hangs]), ("pressed", &[PressesCtrlC])]);

    let ran = run(
        small(&["hangs", "pressed"]),
        &options(dir.path(), 2),
        &launcher,
    );

    assert_eq!(ran.statuses(), [Status::Interrupted, Status::Interrupted]);
    assert_eq!(ran.report.summary.interrupted, 2);
}
