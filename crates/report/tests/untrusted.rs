//! What people read shows the escape sequences of untrusted text written out
//! (`kennel_config::text::visible`): a guest, a test process or a TAP producer
//! cannot retitle the window, clear the screen or hide a failure.

mod common;

use std::time::{Duration, SystemTime};

use kennel_report::{summary_text, Reporter, Terminal};
use kennel_results::ResultsFile;
use kennel_runner::{EventKind, Outcome, RunEvent, Status};
use serde_json::json;

const NAME: &str = "t.sh: pass\u{202e}liaf";
const REASON: &str = "not ok 1 - \x1b]0;PWNED-TITLE\x07\x1b[2J\x1b[31mred\rok";

fn event(kind: EventKind) -> RunEvent {
    RunEvent {
        timestamp: SystemTime::UNIX_EPOCH,
        elapsed: Duration::ZERO,
        kind,
    }
}

fn assert_nothing_to_obey(text: &str) {
    assert!(
        !text.contains(['\x1b', '\x07', '\r', '\u{202e}']),
        "{}",
        text.escape_debug()
    );
}

#[test]
fn terminal_shows_names_reasons_detail_and_notes_escaped() {
    let hostile = common::result(
        1,
        NAME,
        Status::Fail,
        0.0,
        1.0,
        0,
        json!({"reason": REASON, "detail": format!("{REASON}\n\u{9b}2Jsecond line")}),
    );
    let mut term = Terminal::new(Vec::new(), true);

    term.report(&event(EventKind::TestRetrying {
        index: 0,
        name: NAME.to_string(),
        outcome: Outcome::with(Status::Fail, REASON),
    }));
    term.report(&event(EventKind::Note {
        text: format!("from the test: {REASON}"),
    }));
    term.report(&event(EventKind::TestFinished {
        index: 0,
        result: hostile,
    }));

    let text = String::from_utf8(term.take_output()).expect("UTF-8");
    assert_nothing_to_obey(&text);
    let shown = r"not ok 1 - \x1b]0;PWNED-TITLE\x07\x1b[2J\x1b[31mred\x0dok";
    assert_eq!(text.matches(shown).count(), 3, "{text}");
    assert_eq!(text.matches(r"t.sh: pass\u{202e}liaf").count(), 2, "{text}");
    assert!(text.contains(r"             \u{9b}2Jsecond line"), "{text}");
}

#[test]
fn summary_text_shows_names_and_reasons_escaped() {
    let mut file: ResultsFile = serde_json::from_value(json!({
        "kennel_version": "0.1.0", "job_id": common::JOB_ID,
        "started": "2026-11-25T03:15:00Z", "duration_s": 1.5,
        "summary": {"total": 1, "pass": 0, "fail": 1, "error": 0, "skip": 0, "interrupted": 0},
        "tests": []
    }))
    .expect("a valid results file");
    file.tests.push(common::result(
        1,
        NAME,
        Status::Fail,
        0.0,
        1.0,
        0,
        json!({"reason": REASON}),
    ));

    let text = summary_text(&file);

    assert_nothing_to_obey(&text);
    assert!(text.contains(r"t.sh: pass\u{202e}liaf"), "{text}");
    assert!(
        text.contains(r"             not ok 1 - \x1b]0;PWNED-TITLE\x07\x1b[2J\x1b[31mred\x0dok"),
        "{text}"
    );
}

/// A job of `tests` tests journalled into `dir`: test 0 fails with `REASON`
/// and a `test.log` holding escape sequences; test 1 is a skip named `NAME`
/// with `REASON`; the others pass.
fn hostile_job(dir: &std::path::Path, tests: usize) {
    use kennel_runner::{JournalEntry, JournalWriter};
    let job = kennel_layout::JobDir::new(dir);
    let mut journal = JournalWriter::create(&job.journal()).expect("journal");
    let mut append = |e: JournalEntry| journal.append(&e).expect("append");
    append(JournalEntry::Job {
        job_id: common::JOB_ID.into(),
        started: "2026-11-25T03:15:00Z".into(),
        total: tests,
        options: None,
    });
    let results: Vec<_> = (0..tests)
        .map(|i| {
            let (name, status, extra) = match i {
                0 => (
                    "failing".to_owned(),
                    Status::Fail,
                    json!({"reason": REASON}),
                ),
                1 => (NAME.to_owned(), Status::Skip, json!({"reason": REASON})),
                _ => (format!("passing-{i:03}"), Status::Pass, json!({})),
            };
            common::result(i + 1, &name, status, 0.0, 0.1, 0, extra)
        })
        .collect();
    for (index, t) in results.iter().enumerate() {
        let logdir = dir.join(&t.logdir);
        std::fs::create_dir_all(&logdir).expect("log folder");
        std::fs::write(logdir.join("test.log"), format!("log: {REASON}\n")).expect("log");
        append(JournalEntry::Planned {
            index,
            test: t.clone(),
        });
    }
    for (index, t) in results.into_iter().enumerate() {
        append(JournalEntry::Started { index });
        append(JournalEntry::Finished { index, test: t });
        append(JournalEntry::Ended { index });
    }
    append(JournalEntry::Done {
        interrupted: false,
        duration_s: 1.0,
    });
}

fn report_html(tests: usize) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    hostile_job(dir.path(), tests);
    let errors = kennel_report::rebuild(dir.path()).expect("rebuilt");
    assert!(errors.is_empty(), "{errors:?}");
    std::fs::read_to_string(dir.path().join("report.html")).expect("report.html")
}

const REASON_IN_HTML: &str = r"not ok 1 - \x1b]0;PWNED-TITLE\x07\x1b[2J\x1b[31mred";

#[test]
fn report_html_shows_names_reasons_and_logs_escaped() {
    let html = report_html(3);

    // A carriage return is layout on the page (a `<pre>` shows it as such).
    assert!(
        !html.contains(['\x1b', '\x07', '\u{202e}']),
        "{}",
        html.escape_debug()
    );
    // The failure's and the skip's reasons (under the name and in the
    // timeline bar's title), and every test.log.
    assert_eq!(html.matches(REASON_IN_HTML).count(), 2 * 2 + 3, "{html}");
    let reason = format!("<div class=\"reason\">{REASON_IN_HTML}\rok</div>");
    assert_eq!(html.matches(&reason).count(), 2, "{html}");
    assert!(
        html.contains(&format!("log: {REASON_IN_HTML}\rok\n")),
        "{html}"
    );
    assert!(html.contains(r"t.sh: pass\u{202e}liaf"), "{html}");
}

#[test]
fn a_big_jobs_table_data_shows_names_and_reasons_escaped() {
    // Over the page's inline limit: the skip is a row of a compact table's JSON.
    let html = report_html(120);

    assert!(
        !html.contains(['\x1b', '\x07', '\u{202e}']),
        "{}",
        html.escape_debug()
    );
    // In the JSON, each `\` of the written-out form is escaped once more.
    let row = format!(
        r#""t.sh: pass\\u{{202e}}liaf","{}\ro"#,
        REASON_IN_HTML.replace('\\', r"\\")
    );
    assert!(html.contains(&row), "{html}");
}
