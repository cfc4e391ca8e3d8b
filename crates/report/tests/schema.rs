//! The results contract: every key of results.json, junit.xml and results.tap
//! parsed back as CI would.

mod common;

use kennel_runner::Status;

fn job() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    common::write_job(dir.path(), common::JOB_ID, 0.0);
    dir
}

#[test]
fn results_json_has_every_key_of_the_contract() {
    let dir = job();

    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("results.json")).expect("read"))
            .expect("json");

    for key in [
        "kennel_version",
        "job_id",
        "started",
        "duration_s",
        "summary",
        "tests",
    ] {
        assert!(v.get(key).is_some(), "results.json lacks {key}");
    }
    for key in ["total", "pass", "fail", "error", "skip", "interrupted"] {
        assert!(v["summary"].get(key).is_some(), "summary lacks {key}");
    }
    let tests = v["tests"].as_array().expect("tests array");
    assert_eq!(tests.len(), 6);
    for t in tests {
        for key in [
            "name",
            "file",
            "variant",
            "tags",
            "status",
            "reason",
            "flaky",
            "duration_s",
            "logdir",
        ] {
            assert!(t.get(key).is_some(), "test {} lacks {key}", t["name"]);
        }
    }
    assert_eq!(v["job_id"], common::JOB_ID);
    assert_eq!(v["started"], "2026-11-25T03:15:00Z");
    assert_eq!(v["duration_s"], 5.7);
    assert_eq!(
        v["summary"],
        serde_json::json!({"total": 6, "pass": 2, "fail": 1, "error": 1, "skip": 1, "interrupted": 1})
    );
    let statuses: Vec<&str> = tests.iter().filter_map(|t| t["status"].as_str()).collect();
    assert_eq!(
        statuses,
        ["PASS", "FAIL", "SKIP", "PASS", "INTERRUPTED", "ERROR"]
    );
    assert!(tests
        .iter()
        .all(|t| t["status"] == "PASS" || t["reason"].is_string()));
}

#[test]
fn junit_xml_has_a_testcase_per_test_with_failure_error_skipped() {
    let dir = job();
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit.xml");

    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");

    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 6);
    let child = |case: &roxmltree::Node, tag: &str| case.children().any(|c| c.has_tag_name(tag));
    for (case, expected) in cases.iter().zip(common::results()) {
        assert_eq!(case.attribute("name"), Some(expected.name.as_str()));
        let (failure, error, skipped) = match expected.status {
            Status::Pass => (false, false, false),
            Status::Fail => (true, false, false),
            Status::Error | Status::Interrupted => (false, true, false),
            Status::Skip => (false, false, true),
        };
        assert_eq!(child(case, "failure"), failure, "{}", expected.name);
        assert_eq!(child(case, "error"), error, "{}", expected.name);
        assert_eq!(child(case, "skipped"), skipped, "{}", expected.name);
    }
}

#[test]
fn results_tap_plan_matches_and_directives_follow_status() {
    let dir = job();
    let tap = std::fs::read_to_string(dir.path().join("results.tap")).expect("results.tap");

    let mut lines = tap.lines();
    assert_eq!(lines.next(), Some("TAP version 13"));
    let plan = lines.next().expect("plan line");
    let points: Vec<&str> = tap
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("not ok "))
        .collect();
    assert_eq!(plan, format!("1..{}", points.len()));
    for (n, (point, expected)) in points.iter().zip(common::results()).enumerate() {
        let not_ok = matches!(
            expected.status,
            Status::Fail | Status::Error | Status::Interrupted
        );
        let prefix = if not_ok { "not ok" } else { "ok" };
        assert!(
            point.starts_with(&format!("{prefix} {} - ", n + 1)),
            "{point}"
        );
        assert_eq!(
            point.contains(" # SKIP"),
            expected.status == Status::Skip,
            "{point}"
        );
    }
}

/// The `<testcase>` named `name` in `junit.xml` text: (system-out, system-err).
fn junit_output(xml: &str, name: &str) -> (Option<String>, Option<String>) {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
        .expect("the test case");
    let text = |tag: &str| {
        case.children()
            .find(|c| c.has_tag_name(tag))
            .map(|c| c.text().unwrap_or("").to_string())
    };
    (text("system-out"), text("system-err"))
}

#[test]
fn junit_xml_carries_a_failures_logs_in_system_out_and_err() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logdir = dir.path().join("tests/002-migration-completes");
    std::fs::create_dir_all(&logdir).expect("mkdir");
    std::fs::write(logdir.join("stderr.log"), "thread 'main' panicked: boom\n").expect("write");
    std::fs::write(logdir.join("console.log"), "Linux version 6.1\n").expect("write");

    common::write_job(dir.path(), common::JOB_ID, 0.0);
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit.xml");
    let (out, err) = junit_output(&xml, "migration completes");

    let out = out.expect("system-out");
    assert!(out.contains("==> test.log <=="), "{out}");
    assert!(out.contains("Linux version 6.1"), "{out}");
    let err = err.expect("system-err");
    assert!(err.contains("==> stderr.log <=="), "{err}");
    assert!(err.contains("thread 'main' panicked: boom"), "{err}");
}

#[test]
fn junit_xml_has_no_logs_for_a_pass() {
    let dir = job();
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit.xml");

    let (out, err) = junit_output(&xml, "boot reaches a login prompt [machine=pc]");

    assert_eq!((out, err), (None, None));
}

#[test]
fn junit_xml_holds_only_the_tail_of_a_long_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logdir = dir.path().join("tests/002-migration-completes");
    std::fs::create_dir_all(&logdir).expect("mkdir");
    let mut big = String::from("FIRST LINE\n");
    for i in 0..10_000 {
        big.push_str(&format!("stderr line {i:06}\n"));
    }
    big.push_str("LAST LINE\n");
    std::fs::write(logdir.join("stderr.log"), &big).expect("write");

    common::write_job(dir.path(), common::JOB_ID, 0.0);
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit.xml");
    let err = junit_output(&xml, "migration completes")
        .1
        .expect("system-err");

    assert!(err.contains("LAST LINE"));
    assert!(!err.contains("FIRST LINE"));
    assert!(err.len() < 20 * 1024, "{}", err.len());
}

#[test]
fn results_json_reads_back_as_the_contract_type_and_writes_the_same_bytes() {
    let dir = job();
    let text = std::fs::read_to_string(dir.path().join("results.json")).expect("read");

    let file = kennel_results::ResultsFile::read(dir.path()).expect("a ResultsFile");

    let rewritten = serde_json::to_string_pretty(&file).expect("JSON");
    assert_eq!(rewritten, text);
}

#[test]
fn every_json_event_line_reads_back_as_the_contract_type_with_every_key() {
    use kennel_report::Reporter;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut out = Vec::new();
    {
        let mut json = kennel_report::JsonEvents::new(&mut out);
        for e in common::events(dir.path()) {
            json.report(&e);
        }
    }
    let text = String::from_utf8(out).expect("UTF-8");

    for line in text.lines() {
        let event: kennel_results::JsonEvent = serde_json::from_str(line).expect(line);
        let as_read: serde_json::Value = serde_json::from_str(line).expect(line);
        assert_eq!(serde_json::to_value(&event).expect("JSON"), as_read);
    }
    assert_eq!(text.lines().count(), common::events(dir.path()).len());
}
