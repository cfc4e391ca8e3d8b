//! One test case, from requirements to teardown: what a case owns ([`Case`])
//! and the order of its phases ([`Case::run`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kennel_config::AssetPolicy;
use kennel_layout::TestDir;
use kennel_machine::LogSink;
use kennel_results::{Outcome, StartRecord, Status};
use kennel_spec::{TestCase, TestFile, Value};
use kennel_vm::{TestLog, Vm};

use crate::context::{Context, TestClock};
use crate::machines::MachineEnv;
use crate::running::{MachineLauncher, VmLauncher};
use crate::slots::Slots;
use crate::steps::{run_step, StepError};
use crate::vars::Saved;

/// What the test process needs to run one case.
pub struct CaseRun<'a> {
    /// The case (file and variant).
    pub case: &'a TestCase,
    /// The test's log folder (created by the caller).
    pub logdir: &'a Path,
    /// `--qemu`.
    pub qemu_option: Option<PathBuf>,
    /// The effective test timeout (after `--timeout-factor`).
    pub timeout: Duration,
    /// How assets may be fetched.
    pub assets: AssetPolicy,
}

/// How a case launches its machines.
pub(crate) struct Launching<'a> {
    /// Launches a machine and waits for its guest.
    pub launcher: &'a dyn MachineLauncher,
    /// Where the machines log, and the run's options that shape them.
    pub env: MachineEnv,
    /// The test's `cmdline` file.
    pub cmdline: LogSink,
}

/// What one case owns while it runs: its machines, the values its steps
/// saved, its log and the record of how its machines started; and what its
/// steps read ([`Context`]).
pub(crate) struct Case<'a> {
    /// What the steps read.
    pub ctx: Context<'a>,
    /// The test's machines.
    pub slots: Slots<'a>,
    /// The values saved by the steps so far (`save`).
    pub saved: Saved,
    /// The test's `test.log`.
    pub log: TestLog,
    /// How the machines started, for the results (and `start.json`).
    pub started: StartRecord,
    /// How machines are launched.
    pub launching: Launching<'a>,
    /// The test's networks (`[[network]]`): their hubs run until the case
    /// is dropped, after its machines stopped.
    pub networks: kennel_vm::network::Networks,
}

/// Run one case and say how it went. Never panics on bad input; every machine
/// is stopped before this returns.
pub fn run_case(run: &CaseRun<'_>) -> Outcome {
    run_case_with(run, &VmLauncher)
}

/// [`run_case`], launching the machines with `launcher`.
pub(crate) fn run_case_with(run: &CaseRun<'_>, launcher: &dyn MachineLauncher) -> Outcome {
    let dir = TestDir::new(run.logdir);
    // A short absolute path: UNIX socket paths in it must fit in 108 bytes.
    let scratch = kennel_machine::private_dir::private_tempdir(kennel_layout::SCRATCH_PREFIX);
    let tmp = match &scratch {
        Ok(d) => {
            // Told to the runner, which removes it if this process is killed.
            let _ = std::fs::write(dir.scratch_note(), d.path().as_os_str().as_encoded_bytes());
            d.path().to_path_buf()
        }
        Err(_) => {
            let t = dir.scratch_fallback();
            let _ = std::fs::create_dir_all(&t);
            t
        }
    };
    let mut case = Case::open(run, launcher, tmp);
    let file = case.ctx.file;
    case.log.line(&format!("test: {}", run.case.name));
    case.log.line(&format!("file: {}", file.path.display()));
    if !run.case.params.is_empty() {
        case.log.line(&format!(
            "parameters: {}",
            Value::from(serde_json::Map::from_iter(run.case.params.clone()))
        ));
    }
    let mut outcome = case.run();
    case.teardown();
    case.log.line(&format!(
        "result: {}{}",
        outcome.status,
        outcome
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    ));
    outcome.machines = std::mem::take(&mut case.started);
    if kennel_config::Config::get().is_ok_and(|c| c.keep_tmp) {
        if let Ok(d) = scratch {
            let _ = std::fs::remove_file(dir.scratch_note());
            let kept = d.keep();
            case.log
                .line(&format!("kept scratch folder {}", kept.display()));
        }
    }
    outcome
}

impl<'a> Case<'a> {
    /// The case `run`, its logs open in its log folder, its scratch folder
    /// `tmp`, nothing launched yet.
    fn open(run: &'a CaseRun<'a>, launcher: &'a dyn MachineLauncher, tmp: PathBuf) -> Case<'a> {
        let file: &TestFile = &run.case.file;
        let dir = TestDir::new(run.logdir);
        let open = |name: &str| -> LogSink {
            match std::fs::File::create(dir.file(name)) {
                Ok(f) => LogSink::new(Box::new(f)),
                Err(_) => LogSink::discard(),
            }
        };
        let log = TestLog::create(&dir.test_log());
        let networks = kennel_vm::network::Networks::new(&tmp, run.logdir, log.clone());
        Case {
            networks,
            ctx: Context {
                file,
                params: &run.case.params,
                clock: TestClock::starting_now(run.timeout),
                tmp,
                logdir: run.logdir.to_path_buf(),
                asset_policy: run.assets,
                assets: HashMap::new(),
                guest_files: None,
            },
            slots: Slots::of(file),
            saved: HashMap::new(),
            log,
            started: StartRecord::default(),
            launching: Launching {
                launcher,
                env: MachineEnv {
                    qemu_option: run.qemu_option.clone(),
                    console_log: open(kennel_layout::CONSOLE_LOG),
                    qemu_log: open(kennel_layout::QEMU_LOG),
                    qmp_log: open(kennel_layout::QMP_LOG),
                    several: file.machines.len() > 1,
                },
                cmdline: open(kennel_layout::CMDLINE),
            },
        }
    }

    /// Assets, the built-in guest's files, requirements, the machines
    /// launched from the start, then every step in order.
    fn run(&mut self) -> Outcome {
        if let Err(outcome) = self.resolve_assets() {
            return *outcome;
        }
        if let Err(e) = self.prepare_guest_files() {
            return e.into_outcome();
        }
        match self.unmet_requirement() {
            Ok(None) => {}
            Ok(Some(reason)) => {
                self.log.line(&format!("skip: {reason}"));
                return Outcome::with(Status::Skip, reason);
            }
            Err(e) => return e.into_outcome(),
        }
        if let Err(e) = self.start_networks() {
            return e.into_outcome();
        }
        if let Err(e) = self.launch_declared() {
            return e.into_outcome();
        }
        for index in 0..self.ctx.file.steps.len() {
            if let Err(e) = self.step(index) {
                return e.into_outcome();
            }
        }
        Outcome::pass()
    }

    /// Start the hubs of the test's networks, and number the machines that
    /// join them in the order the file declares them.
    fn start_networks(&mut self) -> Result<(), StepError> {
        let file = self.ctx.file;
        let failed =
            |e: kennel_vm::network::NetworkError| StepError::Error(kennel_machine::error_chain(&e));
        for network in &file.networks {
            self.networks
                .declare(&network.name, network.capture)
                .map_err(failed)?;
        }
        for machine in file.machines.iter().filter(|m| !m.networks.is_empty()) {
            self.networks.number(&machine.name).map_err(failed)?;
        }
        Ok(())
    }

    /// Launch the machines declared with `launch = true` (the default).
    fn launch_declared(&mut self) -> Result<(), StepError> {
        for name in self.slots.names() {
            // A `migrate` step's destination is started by the step.
            if !self.slots.spec(&name)?.launch || self.migrates_into(&name) {
                continue;
            }
            let need = self.first_need(&name);
            let until = match need {
                Some((_, Some(timeout))) => Instant::now() + timeout,
                _ => self.ctx.clock.deadline,
            };
            let time = self.ctx.clock.until(until, None);
            if let Err(e) = self.launch(&name, &time) {
                // The step that needed the guest is the one that fails.
                return Err(match need {
                    Some((index, _)) => e.prefixed(&self.step_label(index)),
                    None => e,
                });
            }
        }
        Ok(())
    }

    /// Whether a `migrate` step of the test migrates into machine `name`.
    fn migrates_into(&self, name: &str) -> bool {
        self.ctx
            .file
            .steps
            .iter()
            .any(|s| matches!(&s.kind, kennel_spec::StepKind::Migrate(m) if m.to == name))
    }

    /// Run step `index`, log how it went and check the consoles after it.
    fn step(&mut self, index: usize) -> Result<(), StepError> {
        let file = self.ctx.file;
        let step = &file.steps[index];
        let label = self.step_label(index);
        self.log.line(&format!("{label}: start"));
        let started = Instant::now();
        if let Err(e) = run_step(self, step) {
            let e = e.prefixed(&label);
            self.log.line(&format!("{label}: {e}"));
            self.failed(&e);
            return Err(e);
        }
        self.log.line(&format!(
            "{label}: pass ({} ms)",
            started.elapsed().as_millis()
        ));
        if let Some(e) = self.console_failure() {
            let e = e.prefixed(&label);
            self.log.line(&e.to_string());
            self.failed(&e);
            return Err(e);
        }
        Ok(())
    }

    /// "step 2 (file:line, run uname -r)", for reasons.
    fn step_label(&self, index: usize) -> String {
        let file = self.ctx.file;
        let step = &file.steps[index];
        format!(
            "step {} ({}:{}, {})",
            index + 1,
            file.path.display(),
            step.line,
            step.describe()
        )
    }

    /// The first step on machine `name`, and its own timeout: the wait for
    /// the machine's guest is bounded by that step (the contract's deadline
    /// rule), so a guest that never comes up FAILs that step in its own time
    /// instead of using up the test's.
    fn first_need(&self, name: &str) -> Option<(usize, Option<Duration>)> {
        self.ctx
            .file
            .steps
            .iter()
            .enumerate()
            .find(|(_, step)| step.on == name)
            .map(|(index, step)| (index, step.timeout))
    }

    /// A console that showed one of its machine's failure patterns.
    fn console_failure(&self) -> Option<StepError> {
        for (name, vm) in self.slots.launched_ref() {
            if let Ok(c) = vm.console() {
                if let Some(p) = c.failed() {
                    return Some(StepError::Fail(format!(
                        "console of `{name}` showed {p:?}; last lines:\n{}",
                        c.last_lines(15)
                    )));
                }
            }
        }
        None
    }

    /// A step failed: collect the failure artifacts of every live machine
    /// (unless turned off) before teardown.
    /// Then, with `--pause-on-failure`, keep them up until resumed.
    fn failed(&mut self, e: &StepError) {
        if matches!(e, StepError::Skip(_)) {
            return;
        }
        let debug = kennel_vm::debug_settings();
        let what = kennel_vm::Artifacts {
            timed_out: self.ctx.clock.timed_out_seen(),
        };
        if debug.artifacts {
            for (name, vm) in self.slots.launched_mut() {
                for f in vm.collect_artifacts(&self.ctx.logdir, what) {
                    self.log
                        .line(&format!("failure artifact of `{name}`: {}", f.display()));
                }
            }
        }
        if debug.pause_on_failure {
            let live: Vec<&Vm> = self
                .slots
                .launched_ref()
                .filter_map(|(_, vm)| vm.as_vm())
                .collect();
            self.log.line("paused on the failure (--pause-on-failure)");
            kennel_vm::pause_on_failure(&self.ctx.logdir, &e.to_string(), &live);
            self.log.line("resumed");
        }
    }

    /// Stop every machine still running.
    fn teardown(&mut self) {
        for (_, vm) in self.slots.launched_mut() {
            vm.stop();
        }
        self.networks.stop();
    }
}
