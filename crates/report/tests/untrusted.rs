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
