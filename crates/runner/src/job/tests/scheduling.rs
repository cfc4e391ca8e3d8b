//! Which tests run together: slots, the memory budget, `exclusive`.
//!
//! The tests that must not overlap last long enough that they would, were the
//! rule broken (each also has a test that may share the machine, and does:
//! the durations overlap). Overlaps are read from what the scripted test
//! processes recorded, start to end, not from wall-clock totals.

use super::*;

/// Long enough for tests started together to overlap on a loaded machine.
fn long() -> Act {
    Ends(Status::Pass, Duration::from_millis(1500))
}

#[test]
fn a_test_needing_two_slots_runs_alone_on_two_slots() {
    let dir = tempfile::tempdir().expect("results dir");
    let tests = vec![
        case("big", "", 2, "128M"),
        case("a", "", 1, "128M"),
        case("b", "", 1, "128M"),
    ];
    let launcher = Scripted::new(&[("big", &[long()]), ("a", &[long()]), ("b", &[long()])]);

    let ran = run(tests, &options(dir.path(), 2), &launcher);

    assert_eq!(launcher.ran_alongside("big"), Vec::<String>::new());
    assert_eq!(ran.alongside("big"), Vec::<String>::new());
    assert_eq!(launcher.ran_alongside("a"), vec!["b"]);
    assert_eq!(ran.alongside("a"), vec!["b"]);
    assert_eq!(ran.statuses(), vec![Status::Pass; 3]);
}

#[test]
fn an_exclusive_test_runs_alone() {
    let dir = tempfile::tempdir().expect("results dir");
    let tests = vec![
        case("a", "", 1, "128M"),
        case("alone", "exclusive = true", 1, "128M"),
        case("b", "", 1, "128M"),
    ];
    let launcher = Scripted::new(&[("a", &[long()]), ("alone", &[long()]), ("b", &[long()])]);

    let ran = run(tests, &options(dir.path(), 4), &launcher);

    assert_eq!(launcher.ran_alongside("alone"), Vec::<String>::new());
    assert_eq!(ran.alongside("alone"), Vec::<String>::new());
    // `a` and `b` share the machine: had `alone` been started with them,
    // it would have overlapped them.
    assert_eq!(
        launcher.ran_alongside("a"),
        vec!["b"],
        "{:?}",
        launcher.log()
    );
    assert_eq!(ran.statuses(), vec![Status::Pass; 3]);
}

#[test]
fn tests_that_together_exceed_the_memory_budget_run_one_at_a_time() {
    let dir = tempfile::tempdir().expect("results dir");
    // Each costs 600 MiB and QEMU's 64 MiB: two do not fit in 1000 MiB; the
    // small one (128 + 64 MiB) fits beside either.
    let tests = vec![
        case("a", "", 1, "600M"),
        case("b", "", 1, "600M"),
        case("small", "", 1, "128M"),
    ];
    let launcher = Scripted::new(&[("a", &[long()]), ("b", &[long()]), ("small", &[long()])]);
    let opts = JobOptions {
        memory_mib: Some(1000),
        ..options(dir.path(), 4)
    };

    let ran = run(tests, &opts, &launcher);

    let log = launcher.log();
    assert!(
        !launcher.ran_alongside("a").contains(&"b".to_string()),
        "{log:?}"
    );
    assert!(
        !launcher.ran_alongside("b").contains(&"a".to_string()),
        "{log:?}"
    );
    // The small test fits beside `a`, and overlaps it: the durations would
    // have made `a` and `b` overlap had the budget been ignored.
    assert_eq!(launcher.ran_alongside("a"), vec!["small"], "{log:?}");
    assert_eq!(ran.statuses(), vec![Status::Pass; 3]);
}

#[test]
fn tests_within_the_slots_and_the_budget_run_together() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("a", &[long()]), ("b", &[long()])]);

    let ran = run(small(&["a", "b"]), &options(dir.path(), 2), &launcher);

    assert_eq!(launcher.ran_alongside("a"), vec!["b"]);
    assert_eq!(ran.alongside("a"), vec!["b"]);
}
