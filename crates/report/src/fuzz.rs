//! Fuzz target for rebuilding a job's results from its journal (see the
//! `kennel-fuzz` crate): the journal a dead runner, a full disk or anyone
//! with the folder left behind.

use kennel_fuzz::Target;
use kennel_layout::JobDir;

use crate::{load_results, rebuild};

#[global_allocator]
static ALLOCATOR: kennel_fuzz::CountingAllocator = kennel_fuzz::CountingAllocator;

const TOKENS: &[&[u8]] = &[
    b"{\"kind\":\"job\",\"job_id\":\"j\",\"started\":\"2026-12-07T21:57:55Z\",\"total\":3}\n",
    b"{\"kind\":\"started\",\"index\":1}\n",
    b"{\"kind\":\"ended\",\"index\":0}\n",
    b"{\"kind\":\"done\",\"interrupted\":true,\"duration_s\":-1}\n",
    b"\"reason\":\"\\u001b]0;PWNED\\u0007\\u0000]]>\"",
    b"\"name\":\"<&>\\\"'\"",
    b"\"status\":\"ERROR\"",
    b"\"logdir\":\"../../etc\"",
    b"\\ud800",
];

/// Whatever the journal holds, the rebuilt `junit.xml` is well-formed XML and
/// `results.json` reads back; a journal that says nothing is an error.
#[test]
fn fuzz_journal_rebuild() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let job = JobDir::new(dir.path());
    Target::new("journal_rebuild")
        .dictionary(TOKENS)
        .run(|input| {
            for file in [job.results_json(), job.junit_xml(), job.job_log()] {
                let _ = std::fs::remove_file(file);
            }
            std::fs::write(job.journal(), input).expect("write the journal");
            if rebuild(dir.path()).is_err() {
                return;
            }
            if let Ok(junit) = std::fs::read_to_string(job.junit_xml()) {
                if let Err(e) = roxmltree::Document::parse(&junit) {
                    panic!(
                        "junit.xml is not XML ({e}):\n{}",
                        kennel_fuzz::excerpt(junit.as_bytes(), 2000)
                    );
                }
            }
            if job.results_json().exists() {
                load_results(dir.path()).expect("the rebuilt results.json reads back");
            }
        });
}

/// Found by `fuzz_journal_rebuild`: a result whose `duration_s` is 1e26
/// made the JUnit writer panic converting it to a `Duration`, and no end-of-job
/// file was written.
#[test]
fn a_duration_past_what_a_duration_holds_still_rebuilds() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let job = JobDir::new(dir.path());
    let test = "{\"name\":\"t\",\"file\":\"t.toml\",\"variant\":{},\"tags\":[],\"status\":\"PASS\",\"reason\":\"\",\"flaky\":false,\"duration_s\":1e26,\"logdir\":\"tests/001-t\",\"attempts\":1,\"start_s\":0.0,\"slot\":0}";
    let journal = format!(
        "{{\"kind\":\"job\",\"job_id\":\"j\",\"started\":\"2026-12-07T21:57:55Z\",\"total\":1}}\n\
         {{\"kind\":\"planned\",\"index\":0,\"test\":{test}}}\n\
         {{\"kind\":\"finished\",\"index\":0,\"test\":{test}}}\n\
         {{\"kind\":\"ended\",\"index\":0}}\n\
         {{\"kind\":\"done\",\"interrupted\":false,\"duration_s\":1.0}}\n"
    );
    std::fs::write(job.journal(), journal).expect("write the journal");
    let errors = rebuild(dir.path()).expect("rebuild");
    assert!(errors.is_empty(), "{errors:?}");
    let junit = std::fs::read_to_string(job.junit_xml()).expect("junit.xml");
    assert!(junit.contains("name=\"t\""), "{junit}");
}

/// Found by `fuzz_journal_rebuild`: a result claiming 2147483648 attempts
/// made `report.html` look for two billion `attempt-N` folders.
#[test]
fn a_result_claiming_billions_of_attempts_rebuilds_at_once() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let job = JobDir::new(dir.path());
    let test = "{\"name\":\"t\",\"file\":\"t.toml\",\"variant\":{},\"tags\":[],\"status\":\"FAIL\",\"reason\":\"r\",\"flaky\":false,\"duration_s\":1.0,\"logdir\":\"tests/001-t\",\"attempts\":2147483648,\"start_s\":0.0,\"slot\":0}";
    let journal = format!(
        "{{\"kind\":\"job\",\"job_id\":\"j\",\"started\":\"2026-12-07T21:57:55Z\",\"total\":1}}\n\
         {{\"kind\":\"planned\",\"index\":0,\"test\":{test}}}\n\
         {{\"kind\":\"finished\",\"index\":0,\"test\":{test}}}\n\
         {{\"kind\":\"ended\",\"index\":0}}\n\
         {{\"kind\":\"done\",\"interrupted\":false,\"duration_s\":1.0}}\n"
    );
    std::fs::write(job.journal(), journal).expect("write the journal");
    std::fs::create_dir_all(dir.path().join("tests/001-t/attempt-1")).expect("attempt-1");
    let started = std::time::Instant::now();
    let errors = rebuild(dir.path()).expect("rebuild");
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        started.elapsed().as_secs() < 30,
        "took {:?}",
        started.elapsed()
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    assert!(
        html.contains("attempt-1/"),
        "the one earlier attempt is linked"
    );
}

/// Found by `fuzz_journal_rebuild`: a result on slot 2147483648 made the
/// timeline of `report.html` allocate a lane for every slot before it.
#[test]
fn a_result_on_slot_two_billion_is_drawn_on_the_last_lane() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let job = JobDir::new(dir.path());
    let test = "{\"name\":\"t\",\"file\":\"t.toml\",\"variant\":{},\"tags\":[],\"status\":\"PASS\",\"reason\":\"\",\"flaky\":false,\"duration_s\":1.0,\"logdir\":\"tests/001-t\",\"attempts\":1,\"start_s\":0.0,\"slot\":2147483648}";
    let journal = format!(
        "{{\"kind\":\"job\",\"job_id\":\"j\",\"started\":\"2026-12-07T21:57:55Z\",\"total\":1}}\n\
         {{\"kind\":\"planned\",\"index\":0,\"test\":{test}}}\n\
         {{\"kind\":\"finished\",\"index\":0,\"test\":{test}}}\n\
         {{\"kind\":\"ended\",\"index\":0}}\n\
         {{\"kind\":\"done\",\"interrupted\":false,\"duration_s\":1.0}}\n"
    );
    std::fs::write(job.journal(), journal).expect("write the journal");
    let errors = rebuild(dir.path()).expect("rebuild");
    assert!(errors.is_empty(), "{errors:?}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    assert!(html.contains("slot 255"), "the last lane is drawn");
    assert!(!html.contains("slot 256"), "no lane past the last");
}
