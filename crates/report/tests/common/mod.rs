//! A scripted job for the reporters: every status, a retry, a flaky pass, fixed times.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use kennel_report::Reporter;
use kennel_runner::{EventKind, Outcome, RunEvent, Status, Summary, TestResult};
use serde_json::json;

/// 2026-11-25T03:15:00Z.
pub const JOB_START_UNIX: u64 = 1_795_576_500;
pub const JOB_ID: &str = "20261125T031500-3f9a2c1d";
pub const SCRIPT_NAME: &str = "stop and cont <script>alert(1)</script>";

/// A test result with fixed times; `extra` overrides fields (`reason`, `detail`, ...).
pub fn result(
    n: usize,
    name: &str,
    status: Status,
    start_s: f64,
    duration_s: f64,
    slot: usize,
    extra: serde_json::Value,
) -> TestResult {
    let mut v = json!({
        "name": name,
        "file": format!("tests/t{n}.toml"),
        "variant": {},
        "tags": ["quick"],
        "status": status,
        "reason": null,
        "flaky": false,
        "duration_s": duration_s,
        "logdir": format!("tests/{n:03}-{}", slug(name)),
        "attempts": 1,
        "start_s": start_s,
        "slot": slot,
    });
    if let (Some(obj), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in extra {
            obj.insert(k.clone(), x.clone());
        }
    }
    serde_json::from_value(v).expect("a valid TestResult")
}

use kennel_testkit::slug;

/// The job's six tests, in job order.
pub fn results() -> Vec<TestResult> {
    vec![
        result(
            1,
            "boot reaches a login prompt [machine=pc]",
            Status::Pass,
            0.002,
            1.25,
            0,
            json!({"variant": {"machine": "pc"}, "accel": {"main": "kvm"}}),
        ),
        result(
            2,
            "migration completes",
            Status::Fail,
            0.003,
            5.5,
            1,
            json!({
                "reason": "step 3 (tests/t2.toml:20, wait-event MIGRATION): no event in 5s",
                "detail": "step 3 (tests/t2.toml:20, wait-event MIGRATION): no event in 5s\nlast console lines:\n  [    0.10] Booting Linux\n  [    0.20] Kernel panic - not syncing",
            }),
        ),
        result(
            3,
            "needs kvm",
            Status::Skip,
            1.26,
            0.0,
            0,
            json!({"reason": "requires kvm: /dev/kvm is missing"}),
        ),
        result(
            4,
            SCRIPT_NAME,
            Status::Pass,
            1.27,
            0.8,
            0,
            json!({"flaky": true, "attempts": 2}),
        ),
        result(
            5,
            "hangs forever",
            Status::Interrupted,
            2.1,
            2.0,
            0,
            json!({
                "reason": "timeout of 2s ran out waiting for console pattern `login:`",
                "accel": {"main": "tcg (auto: KVM not usable, falling back to TCG)"},
            }),
        ),
        result(
            6,
            "qemu refuses the device",
            Status::Error,
            5.51,
            0.1,
            1,
            json!({"reason": "QEMU exited with status 1 before the QMP greeting"}),
        ),
    ]
}

fn at(elapsed_s: f64, kind: EventKind) -> RunEvent {
    let elapsed = Duration::from_secs_f64(elapsed_s);
    RunEvent {
        timestamp: SystemTime::UNIX_EPOCH + Duration::from_secs(JOB_START_UNIX) + elapsed,
        elapsed,
        kind,
    }
}

fn started(index: usize, attempt: u32) -> EventKind {
    EventKind::TestStarted {
        index,
        name: results()[index].name.clone(),
        attempt,
    }
}

fn finished(index: usize) -> EventKind {
    EventKind::TestFinished {
        index,
        result: results()[index].clone(),
    }
}

/// The job as the runner would report it on two slots, writing into `job_dir`,
/// starting `shift_s` seconds after [`JOB_START_UNIX`] with id `job_id`.
pub fn events_at(job_dir: &Path, job_id: &str, shift_s: f64) -> Vec<RunEvent> {
    let mut summary = Summary::default();
    for r in results() {
        summary.add(r.status);
    }
    let script = vec![
        (
            0.0,
            EventKind::JobStarted {
                job_id: job_id.to_string(),
                job_dir: job_dir.to_path_buf(),
                total: 6,
                jobs: 2,
            },
        ),
        (0.002, started(0, 1)),
        (0.003, started(1, 1)),
        (1.252, finished(0)),
        (1.26, started(2, 1)),
        (1.261, finished(2)),
        (1.27, started(3, 1)),
        (
            1.5,
            EventKind::TestRetrying {
                index: 3,
                name: SCRIPT_NAME.to_string(),
                outcome: Outcome::with(Status::Fail, "STOP event did not arrive in 0.2s"),
            },
        ),
        (1.51, started(3, 2)),
        (2.07, finished(3)),
        (2.1, started(4, 1)),
        (
            2.2,
            EventKind::Note {
                text: "hangs forever: main runs under TCG".to_string(),
            },
        ),
        (4.1, finished(4)),
        (5.503, finished(1)),
        (5.51, started(5, 1)),
        (5.61, finished(5)),
        (
            5.7,
            EventKind::JobFinished {
                summary,
                interrupted: false,
            },
        ),
    ];
    script
        .into_iter()
        .map(|(t, kind)| {
            let mut e = at(t, kind);
            e.timestamp += Duration::from_secs_f64(shift_s);
            e
        })
        .collect()
}

/// The job with the fixture's id, starting at [`JOB_START_UNIX`].
pub fn events(job_dir: &Path) -> Vec<RunEvent> {
    events_at(job_dir, JOB_ID, 0.0)
}

/// Run the scripted job through a `ResultsDir` into `job_dir`, with a
/// `test.log` and `cmdline` in every test's log folder.
pub fn write_job(job_dir: &Path, job_id: &str, shift_s: f64) -> PathBuf {
    for r in results() {
        let d = job_dir.join(&r.logdir);
        std::fs::create_dir_all(&d).expect("log folder");
        std::fs::write(
            d.join("test.log"),
            format!("test: {}\n<b>&amp;</b>\n", r.name),
        )
        .expect("test.log");
        std::fs::write(d.join("cmdline"), "qemu-system-x86_64 -machine pc\n").expect("cmdline");
    }
    let mut rd = kennel_report::ResultsDir::new();
    for e in events_at(job_dir, job_id, shift_s) {
        rd.report(&e);
    }
    assert!(rd.errors().is_empty(), "{:?}", rd.errors());
    job_dir.to_path_buf()
}
