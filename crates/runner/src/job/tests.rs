//! The job's scheduling, retries, fail-fast, timeouts and interrupts, driven by a
//! scripted [`Launcher`]: no `kennel` binary, no QEMU. Scripted attempts last tens
//! of milliseconds; bounds on the wall clock are seconds (the machine may be loaded).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use super::*;
use crate::discover::{logdir_for, CaseEntry};
use crate::executable::{ExecResult, ExecRun};

/// What one scripted attempt does.
#[derive(Debug, Clone, Copy)]
enum Act {
    /// Ends by itself after this long with this status.
    Ends(Status, Duration),
    /// Runs until it is killed.
    Hangs,
    /// Starts its machine warm (its `start.json`), then runs until it is killed.
    HangsAfterWarmStart,
    /// Sets the job's interrupt flag, as Ctrl-C does, then runs until it is killed.
    PressesCtrlC,
    /// Cannot be started.
    Unstartable,
    /// An executable printing these TAP test points.
    Points(&'static [(&'static str, Status)]),
}

use Act::*;

fn passes() -> Act {
    Ends(Status::Pass, Duration::from_millis(20))
}

fn fails() -> Act {
    Ends(Status::Fail, Duration::from_millis(20))
}

/// A launcher playing each test's attempts from a script, keyed by a case's file stem
/// or an executable's path (a test without a script passes).
struct Scripted {
    script: Mutex<HashMap<String, VecDeque<Act>>>,
    interrupt: Arc<AtomicBool>,
    /// `start NAME`, `kill NAME`, `end NAME`, in the order they happened.
    log: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    fn new(script: &[(&str, &[Act])]) -> Scripted {
        Scripted {
            script: Mutex::new(
                script
                    .iter()
                    .map(|(name, acts)| (name.to_string(), acts.iter().copied().collect()))
                    .collect(),
            ),
            interrupt: Arc::new(AtomicBool::new(false)),
            log: Arc::default(),
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }
}

impl Launcher for Scripted {
    fn start(&self, args: &ChildArgs) -> Result<Box<dyn TestProcess>, RunnerError> {
        let name = args
            .file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let act = self
            .script
            .lock()
            .expect("script")
            .get_mut(&name)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Ends(Status::Pass, Duration::ZERO));
        if let Unstartable = act {
            return Err(RunnerError::Spawn {
                exe: "scripted".into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        if let PressesCtrlC = act {
            self.interrupt.store(true, Ordering::SeqCst);
        }
        std::fs::write(args.logdir.join("test.log"), "started\n").expect("test.log");
        if let HangsAfterWarmStart = act {
            let mut machines = kennel_vm::StartRecord::default();
            let warm = kennel_vm::Start::Warm {
                template: "1a2b".into(),
            };
            machines.add_start("main", &warm, "tcg".into(), &[], false);
            machines.write(&args.logdir).expect("start.json");
        }
        self.log.lock().expect("log").push(format!("start {name}"));
        Ok(Box::new(ScriptedProcess {
            name,
            act,
            started: Instant::now(),
            log: Arc::clone(&self.log),
        }))
    }

    fn grace(&self) -> Duration {
        Duration::ZERO
    }

    fn run_executable(&self, run: &ExecRun<'_>, on_result: &mut dyn FnMut(ExecResult)) {
        for r in self.scripted_executable(run) {
            on_result(r);
        }
    }
}

impl Scripted {
    fn scripted_executable(&self, run: &ExecRun<'_>) -> Vec<ExecResult> {
        let name = run.path.display().to_string();
        let act = self
            .script
            .lock()
            .expect("script")
            .get_mut(&name)
            .and_then(VecDeque::pop_front);
        self.log.lock().expect("log").push(format!("run {name}"));
        let result = |point: Option<&str>, status| ExecResult {
            point: point.map(str::to_string),
            outcome: match status {
                Status::Pass => Outcome::pass(),
                status => Outcome::with(status, format!("scripted {status}")),
            },
            at_s: 0.0,
            duration_s: 0.0,
        };
        match act {
            Some(Points(points)) => points
                .iter()
                .map(|(point, status)| result(Some(point), *status))
                .collect(),
            Some(Ends(status, _)) => vec![result(None, status)],
            None => vec![result(None, Status::Pass)],
            Some(other) => panic!("{other:?} is not scripted for executables"),
        }
    }
}

struct ScriptedProcess {
    name: String,
    act: Act,
    started: Instant,
    log: Arc<Mutex<Vec<String>>>,
}

impl TestProcess for ScriptedProcess {
    fn wait_until(&mut self, deadline: Instant) -> bool {
        let (until, ends) = match self.act {
            Ends(_, after) if self.started + after <= deadline => (self.started + after, true),
            _ => (deadline, false),
        };
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        ends
    }

    fn kill(self: Box<Self>) {
        self.log
            .lock()
            .expect("log")
            .push(format!("kill {}", self.name));
    }

    fn finish(self: Box<Self>) -> Outcome {
        self.log
            .lock()
            .expect("log")
            .push(format!("end {}", self.name));
        match self.act {
            Ends(Status::Pass, _) => Outcome::pass(),
            Ends(status, _) => Outcome::with(status, format!("scripted {status}")),
            _ => Outcome::with(Status::Error, "ended without an end in the script"),
        }
    }
}

/// A test file of one case with one machine (`cpus`, `memory`) and the given top-level keys.
fn case(name: &str, top: &str, cpus: u32, memory: &str) -> Planned {
    let text = format!(
        "name = \"{name}\"\n{top}\n[machine]\ntype = \"none\"\ncpus = {cpus}\nmemory = \"{memory}\"\n\n[[step]]\nrunning = true\n"
    );
    let path = Path::new("tests").join(format!("{name}.toml"));
    let file = kennel_spec::load_str(&path, &text)
        .expect("valid test")
        .expect("a test");
    let case = Arc::new(file)
        .cases(&IndexMap::new())
        .expect("cases")
        .into_iter()
        .next()
        .expect("one case");
    Planned::Case {
        case: Arc::new(CaseEntry::of(&case)),
        case_index: 0,
    }
}

fn plan(tests: Vec<Planned>) -> Vec<PlannedTest> {
    tests
        .into_iter()
        .enumerate()
        .map(|(index, what)| PlannedTest {
            index,
            what,
            logdir: logdir_for(index, "unit"),
            args: Vec::new(),
        })
        .collect()
}

/// Small tests: one vCPU, 128 MiB.
fn small(names: &[&str]) -> Vec<Planned> {
    names.iter().map(|n| case(n, "", 1, "128M")).collect()
}

fn options(results_dir: &Path, jobs: usize) -> JobOptions {
    JobOptions {
        jobs,
        overrides: IndexMap::new(),
        timeout_factor: 1.0,
        results_dir: results_dir.to_path_buf(),
        qemu: None,
        retries: None,
        fail_fast: false,
        exe: PathBuf::from("/nonexistent/kennel"),
        job_id: "unit".into(),
        job_timeout: None,
        memory_mib: Some(64 * 1024),
        assets: Default::default(),
        record: None,
    }
}

/// What a job did: its report and every event, in order.
struct Ran {
    report: JobReport,
    events: Vec<EventKind>,
}

impl Ran {
    /// The results of the `TestFinished` events, in plan order.
    fn results(&self) -> Vec<TestResult> {
        let mut finished: Vec<(usize, TestResult)> = self
            .events
            .iter()
            .filter_map(|e| match e {
                EventKind::TestFinished { index, result } => Some((*index, result.clone())),
                _ => None,
            })
            .collect();
        finished.sort_by_key(|(i, _)| *i);
        finished.into_iter().map(|(_, r)| r).collect()
    }

    fn result(&self, name: &str) -> TestResult {
        self.results()
            .into_iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no result for {name}"))
    }

    fn statuses(&self) -> Vec<Status> {
        self.results().iter().map(|r| r.status).collect()
    }

    /// `started NAME #N`, `retrying NAME`, `finished NAME STATUS`.
    fn story(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                EventKind::TestStarted { name, attempt, .. } => {
                    Some(format!("started {name} #{attempt}"))
                }
                EventKind::TestRetrying { name, .. } => Some(format!("retrying {name}")),
                EventKind::TestFinished { result, .. } => {
                    Some(format!("finished {} {}", result.name, result.status))
                }
                _ => None,
            })
            .collect()
    }

    /// The tests that ran at some moment while `name` ran.
    fn alongside(&self, name: &str) -> Vec<String> {
        let mut running: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        for e in &self.events {
            match e {
                EventKind::TestStarted { name: n, .. } if !running.contains(n) => {
                    if n == name {
                        seen.extend(running.iter().cloned());
                    } else if running.iter().any(|r| r == name) {
                        seen.push(n.clone());
                    }
                    running.push(n.clone());
                }
                EventKind::TestFinished { result, .. } => running.retain(|r| *r != result.name),
                _ => {}
            }
        }
        seen.sort();
        seen.dedup();
        seen
    }
}

fn run(tests: Vec<Planned>, opts: &JobOptions, launcher: &Scripted) -> Ran {
    let mut events = Vec::new();
    let report = run_job_with(
        &plan(tests),
        opts,
        launcher,
        &launcher.interrupt,
        &mut |e: &RunEvent| events.push(e.kind.clone()),
    )
    .expect("job runs");
    Ran { report, events }
}

// --- Scheduling -------------------------------------------------------------------

#[test]
fn a_test_needing_two_slots_runs_alone_on_two_slots() {
    let dir = tempfile::tempdir().expect("results dir");
    let tests = vec![
        case("big", "", 2, "128M"),
        case("a", "", 1, "128M"),
        case("b", "", 1, "128M"),
    ];
    // Long enough for `a` and `b` to overlap on a loaded machine.
    let long = Ends(Status::Pass, Duration::from_millis(1500));
    let launcher = Scripted::new(&[("big", &[passes()]), ("a", &[long]), ("b", &[long])]);

    let ran = run(tests, &options(dir.path(), 2), &launcher);

    assert_eq!(ran.alongside("big"), Vec::<String>::new());
    assert_eq!(ran.alongside("a"), vec!["b"]);
    assert_eq!(ran.statuses(), vec![Status::Pass; 3]);
}

#[test]
fn an_exclusive_test_runs_alone() {
    let dir = tempfile::tempdir().expect("results dir");
    let tests = vec![
        case("a", "", 1, "128M"),
        case("alone", "exclusive = true", 1, "128M"),
        case("b", "", 1, "128M"),
    ];
    let launcher = Scripted::new(&[("a", &[passes()]), ("b", &[passes()])]);

    let ran = run(tests, &options(dir.path(), 4), &launcher);

    assert_eq!(ran.alongside("alone"), Vec::<String>::new());
    assert_eq!(ran.statuses(), vec![Status::Pass; 3]);
}

#[test]
fn tests_that_together_exceed_the_memory_budget_run_one_at_a_time() {
    let dir = tempfile::tempdir().expect("results dir");
    let tests = vec![case("a", "", 1, "600M"), case("b", "", 1, "600M")];
    let launcher = Scripted::new(&[("a", &[passes()]), ("b", &[passes()])]);
    let opts = JobOptions {
        memory_mib: Some(1000),
        ..options(dir.path(), 4)
    };

    let ran = run(tests, &opts, &launcher);

    assert_eq!(ran.alongside("a"), Vec::<String>::new());
    assert_eq!(ran.alongside("b"), Vec::<String>::new());
}

#[test]
fn tests_within_the_slots_and_the_budget_run_together() {
    let dir = tempfile::tempdir().expect("results dir");
    let long = Ends(Status::Pass, Duration::from_millis(1500));
    let launcher = Scripted::new(&[("a", &[long]), ("b", &[long])]);

    let ran = run(small(&["a", "b"]), &options(dir.path(), 2), &launcher);

    assert_eq!(ran.alongside("a"), vec!["b"]);
}

// --- Retries ----------------------------------------------------------------------

#[test]
fn a_failure_then_a_pass_is_flaky_and_keeps_the_first_attempt() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("t", &[fails(), passes()])]);

    let ran = run(
        vec![case("t", "retries = 2", 1, "128M")],
        &options(dir.path(), 1),
        &launcher,
    );

    let t = ran.result("t");
    assert_eq!((t.status, t.flaky, t.attempts), (Status::Pass, true, 2));
    assert_eq!(
        ran.story(),
        [
            "started t #1",
            "retrying t",
            "started t #2",
            "finished t PASS"
        ]
    );
    assert!(ran
        .report
        .job_dir
        .join(&t.logdir)
        .join("attempt-1")
        .join("test.log")
        .is_file());
}

#[test]
fn three_failures_with_two_retries_fail_after_three_attempts() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("t", &[fails(), fails(), fails()])]);
    let opts = JobOptions {
        retries: Some(2),
        ..options(dir.path(), 1)
    };

    let ran = run(small(&["t"]), &opts, &launcher);

    let t = ran.result("t");
    assert_eq!((t.status, t.flaky, t.attempts), (Status::Fail, false, 3));
    assert_eq!(t.reason.as_deref(), Some("scripted FAIL"));
    assert_eq!(
        ran.story()
            .iter()
            .filter(|s| s.starts_with("retrying"))
            .count(),
        2
    );
}

#[test]
fn a_skip_is_not_retried() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("t", &[Ends(Status::Skip, Duration::ZERO), passes()])]);

    let ran = run(
        vec![case("t", "retries = 2", 1, "128M")],
        &options(dir.path(), 1),
        &launcher,
    );

    assert_eq!(
        (ran.result("t").status, ran.result("t").attempts),
        (Status::Skip, 1)
    );
}

#[test]
fn an_attempt_that_cannot_start_is_an_error() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("t", &[Unstartable])]);

    let ran = run(small(&["t"]), &options(dir.path(), 1), &launcher);

    let t = ran.result("t");
    assert_eq!(t.status, Status::Error);
    assert_eq!(
        t.reason.as_deref(),
        Some("cannot start the test process scripted")
    );
}

// --- Fail-fast --------------------------------------------------------------------

#[test]
fn fail_fast_on_one_slot_runs_nothing_after_the_first_failure() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("a", &[fails()])]);
    let opts = JobOptions {
        fail_fast: true,
        ..options(dir.path(), 1)
    };

    let ran = run(small(&["a", "b", "c"]), &opts, &launcher);

    assert_eq!(ran.statuses(), [Status::Fail, Status::Skip, Status::Skip]);
    assert_eq!(
        ran.result("c").reason.as_deref(),
        Some("not run: --fail-fast stopped the job after a failure")
    );
    assert_eq!(ran.result("c").attempts, 0);
    assert_eq!(launcher.log(), ["start a", "end a"]);
    assert!(!ran.report.interrupted);
}

#[test]
fn fail_fast_lets_the_tests_already_running_finish() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[
        ("fails", &[fails()]),
        ("slow", &[Ends(Status::Pass, Duration::from_secs(1))]),
    ]);
    let opts = JobOptions {
        fail_fast: true,
        ..options(dir.path(), 2)
    };

    let ran = run(small(&["fails", "slow", "later"]), &opts, &launcher);

    assert_eq!(ran.statuses(), [Status::Fail, Status::Pass, Status::Skip]);
}

#[test]
fn fail_fast_stops_the_job_after_a_failing_executable() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("tests/fails.sh", &[fails()])]);
    let tests = vec![
        Planned::Executable {
            path: "tests/fails.sh".into(),
        },
        case("next", "", 1, "128M"),
    ];
    let opts = JobOptions {
        fail_fast: true,
        ..options(dir.path(), 1)
    };

    let ran = run(tests, &opts, &launcher);

    assert_eq!(ran.statuses(), [Status::Fail, Status::Skip]);
    assert_eq!(launcher.log(), ["run tests/fails.sh"]);
}

// --- Executables ------------------------------------------------------------------

#[test]
fn each_tap_point_of_an_executable_is_a_result_of_its_own() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[(
        "tests/tap.sh",
        &[Points(&[("one", Status::Pass), ("two", Status::Fail)])],
    )]);
    let tests = vec![Planned::Executable {
        path: "tests/tap.sh".into(),
    }];

    let ran = run(tests, &options(dir.path(), 1), &launcher);

    assert_eq!(
        ran.story(),
        [
            "started tests/tap.sh #1",
            "finished tests/tap.sh: one PASS",
            "finished tests/tap.sh: two FAIL"
        ]
    );
}

// --- Timeouts and interrupts ------------------------------------------------------

#[test]
fn an_attempt_past_its_timeout_is_killed_and_interrupted() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("t", &[Hangs])]);
    let opts = JobOptions {
        timeout_factor: 0.2,
        ..options(dir.path(), 1)
    };
    let started = Instant::now();

    let ran = run(
        vec![case("t", "timeout = \"1s\"", 1, "128M")],
        &opts,
        &launcher,
    );

    let t = ran.result("t");
    assert_eq!(t.status, Status::Interrupted);
    assert_eq!(
        t.reason.as_deref(),
        Some("the test process did not finish within its timeout (200ms) plus 0s, and was killed; last test.log line: started")
    );
    assert_eq!(launcher.log(), ["start t", "kill t"]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn an_attempt_killed_at_its_timeout_is_retried() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("t", &[Hangs, passes()])]);
    let opts = JobOptions {
        timeout_factor: 0.2,
        ..options(dir.path(), 1)
    };

    let ran = run(
        vec![case("t", "timeout = \"1s\"\nretries = 1", 1, "128M")],
        &opts,
        &launcher,
    );

    let t = ran.result("t");
    assert_eq!((t.status, t.flaky, t.attempts), (Status::Pass, true, 2));
}

#[test]
fn the_job_timeout_interrupts_the_running_test_and_skips_the_rest() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("hangs", &[Hangs])]);
    let opts = JobOptions {
        job_timeout: Some(Duration::from_millis(300)),
        ..options(dir.path(), 1)
    };
    let started = Instant::now();

    let ran = run(small(&["hangs", "next"]), &opts, &launcher);

    assert_eq!(ran.statuses(), [Status::Interrupted, Status::Skip]);
    assert_eq!(
        ran.result("hangs").reason.as_deref(),
        Some("the job's timeout was reached")
    );
    assert_eq!(
        ran.result("next").reason.as_deref(),
        Some("not run: the job's timeout was reached")
    );
    assert_eq!(launcher.log(), ["start hangs", "kill hangs"]);
    assert!(!ran.report.interrupted);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

/// A test process killed at its timeout writes no result: how its machines
/// started comes from the `start.json` they left.
#[test]
fn a_killed_test_still_says_how_its_machines_started() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("warm", &[HangsAfterWarmStart])]);
    let opts = JobOptions {
        timeout_factor: 0.2,
        ..options(dir.path(), 1)
    };

    let ran = run(
        vec![case("warm", "timeout = \"1s\"", 1, "128M")],
        &opts,
        &launcher,
    );

    let t = ran.result("warm");
    assert_eq!(t.status, Status::Interrupted);
    assert_eq!(t.machines.start.as_deref(), Some("warm"));
    assert_eq!(t.machines.template.as_deref(), Some("1a2b"));
}

#[test]
fn ctrl_c_interrupts_the_running_test_without_retrying_and_skips_the_rest() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("pressed", &[PressesCtrlC])]);
    let tests = vec![
        case("pressed", "retries = 3", 1, "128M"),
        case("next", "", 1, "128M"),
    ];

    let ran = run(tests, &options(dir.path(), 1), &launcher);

    let t = ran.result("pressed");
    assert_eq!((t.status, t.attempts), (Status::Interrupted, 1));
    assert_eq!(t.reason.as_deref(), Some("interrupted by the user"));
    assert_eq!(
        ran.result("next").reason.as_deref(),
        Some("not run: interrupted by the user")
    );
    assert_eq!(launcher.log(), ["start pressed", "kill pressed"]);
    assert!(ran.report.interrupted);
    assert!(matches!(
        ran.events.last(),
        Some(EventKind::JobFinished {
            interrupted: true,
            ..
        })
    ));
}

#[test]
fn ctrl_c_stops_every_running_test() {
    let dir = tempfile::tempdir().expect("results dir");
    let launcher = Scripted::new(&[("hangs", &[Hangs]), ("pressed", &[PressesCtrlC])]);

    let ran = run(
        small(&["hangs", "pressed"]),
        &options(dir.path(), 2),
        &launcher,
    );

    assert_eq!(ran.statuses(), [Status::Interrupted, Status::Interrupted]);
    assert_eq!(ran.report.summary.interrupted, 2);
}
