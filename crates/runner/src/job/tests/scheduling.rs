//! Which tests run together: slots, the memory budget, `exclusive`.

use super::*;

#[test]
fn a_test_needing_two_slots_runs_alone_on_two_slots() {
    let dir = tempfile::tempdir().expect("results dir");
    let tests = vec![
        case("big", "", 2, "128M"),
        case("a", "", 1, "128M"),
        case("b", "", 1, "128M"),
    ];
    // Long enough for `a` and `b` to overlap on a loaded machine.
    let long = Ends(Status::Pass, Duration::from_millis(1500));
    let launcher = Scripted::new(&[("big", &[passes()]), ("a", &[long]), ("b", &[long])]);

    let ran = run(tests, &options(dir.path(), 2), &launcher);

    assert_eq!(ran.alongside("big"), Vec::<String>::new());
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
    let launcher = Scripted::new(&[("a", &[passes()]), ("b", &[passes()])]);

    let ran = run(tests, &options(dir.path(), 4), &launcher);

    assert_eq!(ran.alongside("alone"), Vec::<String>::new());
    assert_eq!(ran.statuses(), vec![Status::Pass; 3]);
}

#[test]
fn tests_that_together_exceed_the_memory_budget_run_one_at_a_time() {
    let dir = tempfile::tempdir().expect("results dir");
    let tests = vec![case("a", "", 1, "600M"), case("b", "", 1, "600M")];
    let launcher = Scripted::new(&[("a", &[passes()]), ("b", &[passes()])]);
    let opts = JobOptions {
        memory_mib: Some(1000),
        ..options(dir.path(), 4)
    };

    let ran = run(tests, &opts, &launcher);

    assert_eq!(ran.alongside("a"), Vec::<String>::new());
    assert_eq!(ran.alongside("b"), Vec::<String>::new());
}

#[test]
fn tests_within_the_slots_and_the_budget_run_together() {
    let dir = tempfile::tempdir().expect("results dir");
    let long = Ends(Status::Pass, Duration::from_millis(1500));
    let launcher = Scripted::new(&[("a", &[long]), ("b", &[long])]);

    let ran = run(small(&["a", "b"]), &options(dir.path(), 2), &launcher);

    assert_eq!(ran.alongside("a"), vec!["b"]);
}
