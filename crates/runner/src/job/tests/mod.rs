//! The job's scheduling, retries, fail-fast, timeouts and interrupts, driven by a
//! scripted [`Launcher`]: no `kennel` binary, no QEMU. Scripted attempts last tens
//! of milliseconds; bounds on the wall clock are seconds (the machine may be loaded).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use std::path::PathBuf;

use kennel_config::CaseArgs;

use super::*;
use crate::discover::{logdir_for, CaseEntry, Planned, PlannedTest};
use crate::error::RunnerError;
use crate::event::{EventKind, Outcome, RunEvent, Status, TestResult};
use crate::executable::{ExecResult, ExecRun};
use crate::test_process::TestCommand;

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

    /// The tests whose processes were running at some moment while `name`'s
    /// was, as the processes themselves recorded it (from each start to its
    /// end or kill, in the order they happened).
    fn ran_alongside(&self, name: &str) -> Vec<String> {
        let mut running: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        for entry in self.log() {
            let Some((what, who)) = entry.split_once(' ') else {
                continue;
            };
            match what {
                "start" if who == name => seen.extend(running.iter().cloned()),
                "start" if running.iter().any(|r| r == name) => seen.push(who.to_string()),
                _ => {}
            }
            match what {
                "start" => running.push(who.to_string()),
                "end" | "kill" => running.retain(|r| r != who),
                _ => {}
            }
        }
        seen.sort();
        seen.dedup();
        seen
    }
}

impl Launcher for Scripted {
    fn start(
        &self,
        args: &CaseArgs,
        _command: &TestCommand,
    ) -> Result<Box<dyn TestProcess>, RunnerError> {
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
            let mut machines = kennel_results::StartRecord::default();
            machines.add_start(
                "main",
                kennel_results::StartKind::Warm,
                Some("1a2b"),
                "tcg".into(),
                &[],
                false,
            );
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
        let name = run.command.program.display().to_string();
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

pub(crate) fn options(results_dir: &Path, jobs: usize) -> JobOptions {
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
        settings: Default::default(),
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

mod executables;
mod fail_fast;
mod interrupts;
mod retries;
mod scheduling;
