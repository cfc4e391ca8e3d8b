//! Snapshots of what people read: the terminal, `kennel report`, `results.tap`.

mod common;

use std::path::Path;

use kennel_report::{load_results, summary_text, Reporter, Terminal};

#[test]
fn terminal_prints_a_line_per_test_with_reasons_and_a_closing_count() {
    let mut out = Vec::new();
    {
        let mut term = Terminal::new(&mut out, false);
        for e in common::events(Path::new("kennel-results/job-20261125T031500-3f9a2c1d")) {
            term.report(&e);
        }
    }
    insta::assert_snapshot!(String::from_utf8_lossy(&out));
}

#[test]
fn verbose_terminal_also_prints_notes() {
    let mut out = Vec::new();
    {
        let mut term = Terminal::new(&mut out, true);
        for e in common::events(Path::new("kennel-results/job-20261125T031500-3f9a2c1d")) {
            term.report(&e);
        }
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("kennel: hangs forever: main runs under TCG\n"));
}

#[test]
fn summary_text_lists_tests_reasons_and_the_closing_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::write_job(dir.path(), common::JOB_ID, 0.0);
    let file = load_results(dir.path()).expect("results.json");

    insta::assert_snapshot!(summary_text(&file));
}

#[test]
fn results_tap_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::write_job(dir.path(), common::JOB_ID, 0.0);

    let tap = std::fs::read_to_string(dir.path().join("results.tap")).expect("results.tap");

    insta::assert_snapshot!(tap);
}
