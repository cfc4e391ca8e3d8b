//! report.html: escaped, one timeline bar per test, logs inline and capped.

mod common;

fn job() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    common::write_job(dir.path(), common::JOB_ID, 0.0);
    dir
}

fn page(dir: &tempfile::TempDir) -> String {
    std::fs::read_to_string(dir.path().join("report.html")).expect("report.html")
}

fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

#[test]
fn every_test_name_appears_escaped() {
    let dir = job();

    let html = page(&dir);

    for t in common::results() {
        assert!(html.contains(&escaped(&t.name)), "{} missing", t.name);
    }
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("stop and cont &lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[test]
fn timeline_has_one_bar_per_test() {
    let dir = job();

    let html = page(&dir);

    assert_eq!(html.matches("<rect class=\"bar ").count(), 6);
    assert_eq!(html.matches("class=\"lane-label\"").count(), 2);
    assert!(html.contains("<rect class=\"bar fail\""));
}

#[test]
fn page_is_self_contained() {
    let dir = job();

    let html = page(&dir);

    assert!(html.starts_with("<!DOCTYPE html>"));
    for external in ["src=\"http", "href=\"http", "@import", "<link "] {
        assert!(!html.contains(external), "page loads {external}");
    }
}

#[test]
fn failures_come_first_and_each_row_has_a_filter_group() {
    let dir = job();

    let html = page(&dir);

    let groups: Vec<&str> = html
        .match_indices("data-group=\"")
        .skip(4) // the four filter buttons
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            &rest[..rest.find('"').unwrap_or(0)]
        })
        .collect();
    assert_eq!(
        groups,
        ["failed", "failed", "failed", "passed", "passed", "skipped"]
    );
}

#[test]
fn logs_are_inline_escaped_with_links() {
    let dir = job();

    let html = page(&dir);

    assert!(html.contains("<code>test.log</code>"));
    assert!(html.contains("<code>cmdline</code>"));
    assert!(html.contains("&lt;b&gt;&amp;amp;&lt;/b&gt;"));
    assert!(html.contains("href=\"tests/002-migration-completes/test.log\""));
    assert!(
        !html.contains("<code>qmp.log</code>"),
        "a log never written is not shown"
    );
}

#[test]
fn a_long_log_shows_its_tail_with_a_note() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logdir = dir
        .path()
        .join("tests/001-boot-reaches-a-login-prompt-machine-pc");
    std::fs::create_dir_all(&logdir).expect("mkdir");
    let mut big = String::from("FIRST LINE\n");
    for i in 0..40_000 {
        big.push_str(&format!("console line {i:06}\n"));
    }
    big.push_str("LAST LINE\n");
    std::fs::write(logdir.join("console.log"), &big).expect("write");

    common::write_job(dir.path(), common::JOB_ID, 0.0);
    let html = page(&dir);

    assert!(html.contains("LAST LINE"));
    assert!(!html.contains("FIRST LINE"));
    assert!(html.contains("showing the last 256 KiB of"));
}

/// The log folder of the fixture's failing test (`migration completes`).
fn failing_logdir(dir: &std::path::Path) -> std::path::PathBuf {
    let logdir = dir.join("tests/002-migration-completes");
    std::fs::create_dir_all(&logdir).expect("mkdir");
    logdir
}

#[test]
fn a_rust_tests_stderr_and_stdout_are_shown() {
    // Issue 11: a Rust test's panic message (in stderr.log) was missing from the report.
    let dir = tempfile::tempdir().expect("tempdir");
    let logdir = failing_logdir(dir.path());
    std::fs::write(
        logdir.join("stderr.log"),
        "thread 'main' panicked at tests/x.rs:3:5:\nthe answer is not 41\n",
    )
    .expect("write");
    std::fs::write(logdir.join("stdout.log"), "running 1 test\n").expect("write");

    common::write_job(dir.path(), common::JOB_ID, 0.0);
    let html = page(&dir);

    assert!(html.contains("<code>stderr.log</code>"));
    assert!(html.contains("the answer is not 41"));
    assert!(html.contains("<code>stdout.log</code>"));
    assert!(html.contains("running 1 test"));
}

#[test]
fn an_empty_stderr_is_not_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(failing_logdir(dir.path()).join("stderr.log"), "").expect("write");

    common::write_job(dir.path(), common::JOB_ID, 0.0);

    assert!(!page(&dir).contains("<code>stderr.log</code>"));
}

#[test]
fn earlier_attempts_are_linked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let retried = &common::results()[3];
    assert_eq!(retried.attempts, 2);
    let attempt = dir.path().join(&retried.logdir).join("attempt-1");
    std::fs::create_dir_all(&attempt).expect("mkdir");
    std::fs::write(attempt.join("test.log"), "first try\n").expect("write");

    common::write_job(dir.path(), common::JOB_ID, 0.0);

    let link = format!("href=\"{}/attempt-1/\"", retried.logdir.display());
    assert!(page(&dir).contains(&link), "no {link}");
}

#[test]
fn a_test_s_last_jobs_show_as_a_strip_with_a_flake_badge() {
    let root = tempfile::tempdir().expect("tempdir");
    for i in 1..=3 {
        let id = format!("20261208T00000{i}-0000abcd");
        let dir = root.path().join(format!("job-{id}"));
        common::write_job(&dir, &id, 0.0);
        if i == 2 {
            // The first passing test failed in the second job: pass, fail, pass.
            let path = dir.join("results.json");
            let text = std::fs::read_to_string(&path).expect("results.json");
            std::fs::write(
                &path,
                text.replacen(r#""status": "PASS""#, r#""status": "FAIL""#, 1),
            )
            .expect("rewrite");
        }
    }
    let alone = tempfile::tempdir().expect("tempdir");
    common::write_job(alone.path(), common::JOB_ID, 0.0);

    let html =
        std::fs::read_to_string(root.path().join("job-20261208T000003-0000abcd/report.html"))
            .expect("report.html");

    // Each test ran in the three jobs: a strip of three outcomes.
    assert!(
        html.contains(r#"<span class="past" title="its last 3 jobs, oldest first"><i class="oP"></i><i class="oP"></i><i class="oP"></i></span>"#),
        "no strip of three passes"
    );
    assert!(html.contains(r#"<i class="oF"></i><i class="oF"></i><i class="oF"></i>"#));
    assert!(html.contains(r#"<i class="oP"></i><i class="oF"></i><i class="oP"></i>"#));
    assert_eq!(
        html.matches(">flaky 67%</span>").count(),
        1,
        "one test flipped twice"
    );
    assert!(
        !page(&alone).contains(r#"class="past""#),
        "a job alone has no strip"
    );
}
