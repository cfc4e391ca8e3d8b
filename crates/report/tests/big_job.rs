//! The end-of-job files of a big job, written from its journal: every test in each
//! file, and a `report.html` that inlines the failure's logs but only links the
//! logs of its many passing tests, listed as data its script shows page by page.

mod common;

use std::path::Path;

use kennel_runner::{JournalEntry, JournalWriter, Status};
use serde_json::json;

const TESTS: usize = 150;
const FAILING: usize = 77;
/// A passing test whose name would end the page's script if written raw.
const SCRIPT_ENDING: usize = 5;
const SCRIPT_ENDING_NAME: &str = "status-005 </script><!--";

/// A finished job of [`TESTS`] tests, all passing but test [`FAILING`] (0-based), each
/// with a `test.log` naming it; only the journal, as a runner killed before it wrote
/// the end-of-job files leaves it.
fn big_job(dir: &Path) {
    let job = kennel_layout::JobDir::new(dir);
    let mut journal = JournalWriter::create(&job.journal()).expect("journal");
    let mut append = |e: JournalEntry| journal.append(&e).expect("append");
    append(JournalEntry::Job {
        job_id: common::JOB_ID.into(),
        started: "2026-11-25T03:15:00Z".into(),
        total: TESTS,
        options: None,
    });
    let tests: Vec<_> = (0..TESTS)
        .map(|i| {
            let name = match i {
                SCRIPT_ENDING => SCRIPT_ENDING_NAME.to_string(),
                _ => format!("status-{i:03}"),
            };
            let (status, extra) = if i == FAILING {
                (Status::Fail, json!({"reason": "the guest said no"}))
            } else {
                (Status::Pass, json!({}))
            };
            // Two slots, each busy from the start to the end.
            let start_s = (i / 2) as f64 * 0.1;
            common::result(i + 1, &name, status, start_s, 0.1, i % 2, extra)
        })
        .collect();
    for (index, t) in tests.iter().enumerate() {
        let logdir = dir.join(&t.logdir);
        std::fs::create_dir_all(&logdir).expect("log folder");
        std::fs::write(logdir.join("test.log"), format!("log of {}\n", t.name)).expect("log");
        append(JournalEntry::Planned {
            index,
            test: t.clone(),
        });
    }
    for (index, t) in tests.into_iter().enumerate() {
        append(JournalEntry::Started { index });
        append(JournalEntry::Finished { index, test: t });
        append(JournalEntry::Ended { index });
    }
    append(JournalEntry::Done {
        interrupted: false,
        duration_s: 15.0,
    });
}

#[test]
fn every_file_of_a_big_job_holds_every_test() {
    let dir = tempfile::tempdir().expect("tempdir");
    big_job(dir.path());

    let errors = kennel_report::rebuild(dir.path()).expect("rebuilt");

    assert!(errors.is_empty(), "{errors:?}");
    let results = kennel_results::ResultsFile::read(dir.path()).expect("results.json");
    assert_eq!(results.tests.len(), TESTS);
    assert_eq!(results.summary.fail, 1);
    assert_eq!(results.tests[FAILING].status, Status::Fail);
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit.xml");
    let doc = roxmltree::Document::parse(&junit).expect("well-formed junit.xml");
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, TESTS);
    assert_eq!(doc.root_element().attribute("failures"), Some("1"));
    let tap = std::fs::read_to_string(dir.path().join("results.tap")).expect("results.tap");
    assert!(tap.starts_with(&format!("TAP version 13\n1..{TESTS}\n")));
    assert_eq!(tap.matches("\nnot ok ").count(), 1);
    // Nothing of the spool the files were written from is left.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("job folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn report_html_of_many_passing_tests_inlines_only_the_failures_logs_and_links_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    big_job(dir.path());

    kennel_report::rebuild(dir.path()).expect("rebuilt");

    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    // The failure in full: its reason and its log inline.
    assert!(html.contains("the guest said no"));
    assert!(html.contains(&format!("log of status-{FAILING:03}")));
    // The passing tests: no log inline, a row each in the data the page's script
    // shows a page at a time: number, time, name, reason, folder, test.log.
    assert!(!html.contains("log of status-000"));
    assert!(!html.contains("log of status-149"));
    assert!(html.contains(&format!("passed ({})", TESTS - 1)));
    let rows = html
        .split_once("<script type=\"application/json\" class=\"rows\">")
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(json, _)| json)
        .expect("the passing tests' rows");
    let rows: Vec<serde_json::Value> = serde_json::from_str(rows).expect("rows are JSON");
    assert_eq!(rows.len(), TESTS - 1);
    assert_eq!(
        rows[0],
        json!([
            1,
            "0.100s",
            "status-000",
            null,
            "tests/001-status-000/",
            "tests/001-status-000/test.log"
        ])
    );
    assert_eq!(rows[TESTS - 2][0], TESTS);
    assert_eq!(rows[SCRIPT_ENDING][2], SCRIPT_ENDING_NAME);
    assert!(!html.contains(SCRIPT_ENDING_NAME));
    // A few bars for the passing runs, not one per test; the failure has its own.
    let bars = html.matches("<rect class=\"bar ").count();
    assert!(bars < TESTS / 10, "{bars} bars");
    assert_eq!(html.matches("<rect class=\"bar fail\"").count(), 1);
}
