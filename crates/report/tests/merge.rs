//! `kennel report merge`: shard job folders joined into one.

mod common;

use std::path::PathBuf;

use kennel_report::{load_results, merge, ReportError};

#[test]
fn two_shards_become_one_job_with_renumbered_logs() {
    let root = tempfile::tempdir().expect("tempdir");
    let a = common::write_job(&root.path().join("a"), "20261125T031500-aaaaaaaa", 0.0);
    let b = common::write_job(&root.path().join("b"), "20261125T031510-bbbbbbbb", 10.0);
    let out = root.path().join("merged");

    let job = merge(&[a.clone(), b.clone()], &out).expect("merge");

    let file = load_results(&job).expect("merged results.json");
    assert_ne!(file.job_id, "20261125T031500-aaaaaaaa");
    assert_eq!(
        job.file_name().and_then(|n| n.to_str()),
        Some(format!("job-{}", file.job_id).as_str())
    );
    assert_eq!(file.tests.len(), 12);
    assert_eq!(file.summary.total, 12);
    assert_eq!(
        (file.summary.pass, file.summary.fail, file.summary.error),
        (4, 2, 2)
    );
    assert_eq!((file.summary.skip, file.summary.interrupted), (2, 2));
    assert_eq!(file.started, "2026-11-25T03:15:00Z");
    assert_eq!(file.duration_s, 15.7);
    let names: Vec<&str> = file.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names[0], "boot reaches a login prompt [machine=pc]");
    assert_eq!(names[6], "boot reaches a login prompt [machine=pc]");
    assert_eq!(
        file.tests[7].logdir,
        PathBuf::from("tests/008-migration-completes")
    );
    assert_eq!(file.tests[7].start_s, 10.003);
    assert_eq!(
        file.tests[7].slot, 3,
        "the second shard's slots follow the first's"
    );
    let copied = std::fs::read_to_string(job.join("tests/008-migration-completes/test.log"))
        .expect("copied log");
    assert_eq!(copied, "test: migration completes\n<b>&amp;</b>\n");
    for name in [
        "results.json",
        "junit.xml",
        "results.tap",
        "report.html",
        "job.log",
    ] {
        assert!(job.join(name).is_file(), "{name} missing");
    }
    let log = std::fs::read_to_string(job.join("job.log")).expect("job.log");
    assert!(log.contains("merged from 2 job folders"));
    assert!(log.contains(&format!("merged {}", a.display())));
    assert_eq!(
        std::fs::read_link(out.join("latest")).expect("latest"),
        PathBuf::from(job.file_name().expect("name"))
    );
    let html = std::fs::read_to_string(job.join("report.html")).expect("report.html");
    assert_eq!(html.matches("<rect class=\"bar ").count(), 12);
}

#[test]
fn a_folder_without_results_json_is_refused_and_nothing_is_written() {
    let root = tempfile::tempdir().expect("tempdir");
    let a = common::write_job(&root.path().join("a"), common::JOB_ID, 0.0);
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let out = root.path().join("merged");

    let err = merge(&[a, empty.clone()], &out).expect_err("refused");

    assert!(matches!(&err, ReportError::NoResults { dir, .. } if *dir == empty));
    assert!(err.to_string().contains("no results.json"), "{err}");
    assert!(!out.exists());
}

#[test]
fn nothing_to_merge_is_an_error() {
    let root = tempfile::tempdir().expect("tempdir");

    let err = merge(&[], root.path()).expect_err("refused");

    assert!(matches!(err, ReportError::NothingToMerge));
}
