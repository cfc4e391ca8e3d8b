//! Executables: each TAP point a result of its own.

use super::*;

#[test]
fn each_tap_point_of_an_executable_is_a_result_of_its_own() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[(
        "tests/tap.sh",
        &[Points(&[("one", Status::Pass), ("two", Status::Fail)])],
    )]);
    let tests = vec![Planned::Executable {
        path: "tests/tap.sh".into(),
    }];

    let ran = run(tests, &options(dir.path(), 1), &launcher);

    assert_eq!(
        ran.story(),
        [
            "started tests/tap.sh #1",
            "finished tests/tap.sh: one PASS",
            "finished tests/tap.sh: two FAIL"
        ]
    );
}
