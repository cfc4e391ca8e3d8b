//! Fail-fast: what runs after the first failure.

use super::*;

#[test]
fn fail_fast_on_one_slot_runs_nothing_after_the_first_failure() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("a", &[fails()])]);
    let opts = JobOptions {
        fail_fast: true,
        ..options(dir.path(), 1)
    };

    let ran = run(small(&["a", "b", "c"]), &opts, &launcher);

    assert_eq!(ran.statuses(), [Status::Fail, Status::Skip, Status::Skip]);
    assert_eq!(
        ran.result("c").reason.as_deref(),
        Some("not run: --fail-fast stopped the job after a failure")
    );
    assert_eq!(ran.result("c").attempts, 0);
    assert_eq!(launcher.log(), ["start a", "end a"]);
    assert!(!ran.report.interrupted);
}

#[test]
fn fail_fast_lets_the_tests_already_running_finish() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[
        ("fails", &[fails()]),
        ("slow", &[Ends(Status::Pass, Duration::from_secs(1))]),
    ]);
    let opts = JobOptions {
        fail_fast: true,
        ..options(dir.path(), 2)
    };

    let ran = run(small(&["fails", "slow", "later"]), &opts, &launcher);

    assert_eq!(ran.statuses(), [Status::Fail, Status::Pass, Status::Skip]);
}

#[test]
fn fail_fast_stops_the_job_after_a_failing_executable() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("tests/fails.sh", &[fails()])]);
    let tests = vec![
        Planned::Executable {
            path: "tests/fails.sh".into(),
        },
        case("next", "", 1, "128M"),
    ];
    let opts = JobOptions {
        fail_fast: true,
        ..options(dir.path(), 1)
    };

    let ran = run(tests, &opts, &launcher);

    assert_eq!(ran.statuses(), [Status::Fail, Status::Skip]);
    assert_eq!(launcher.log(), ["run tests/fails.sh"]);
}
