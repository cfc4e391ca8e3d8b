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
