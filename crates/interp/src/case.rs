//! One test case, from requirements to teardown.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use kennel_layout::TestDir;
use kennel_machine::{find_qemu, LogSink};
use kennel_spec::{MachineSpec, TestCase, TestFile, Value};
use kennel_vm::{Deadlines, StartRecord, TestLog, Vm, VmError, Workspace};

use crate::machines::{self, MachineEnv};
use crate::requires;
use crate::steps::StepError;
use crate::vars::StepVars;
use kennel_config::AssetPolicy;
use kennel_results::{Outcome, Status};

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

/// A machine of the test: its spec and, once launched, the machine core's [`Vm`].
pub(super) struct Slot<'a> {
    pub spec: &'a MachineSpec,
    pub vm: Option<Vm>,
}

/// The interpreter's state for one case.
pub(super) struct Interp<'a> {
    pub file: &'a TestFile,
    pub params: &'a IndexMap<String, Value>,
    pub log: TestLog,
    pub env: MachineEnv,
    pub slots: IndexMap<String, Slot<'a>>,
    pub saved: HashMap<String, Value>,
    pub assets: HashMap<String, PathBuf>,
    /// `${guest_kernel}` and `${guest_initrd}`.
    pub guest_files: Option<(PathBuf, PathBuf)>,
    pub tmp: PathBuf,
    pub deadline: Instant,
    pub timeout: Duration,
    pub asset_policy: AssetPolicy,
    pub cmdline: LogSink,
    /// The running step's own time limit, for messages.
    pub step_timeout: Option<Duration>,
    /// How the machines started, for the results (and `start.json`).
    pub machines: StartRecord,
    /// The test's log folder.
    pub logdir: PathBuf,
    /// A wait timed out (the step's or the test's time): the failure
    /// artifacts include QEMU's backtrace.
    pub timed_out_seen: std::cell::Cell<bool>,
}

/// Run one case and say how it went. Never panics on bad input; every machine
/// is stopped before this returns.
pub fn run_case(run: &CaseRun<'_>) -> Outcome {
    let file: &TestFile = &run.case.file;
    let open = |name: &str| -> LogSink {
        match std::fs::File::create(TestDir::new(run.logdir).file(name)) {
            Ok(f) => LogSink::new(Box::new(f)),
            Err(_) => LogSink::discard(),
        }
    };
    // A short absolute path: UNIX socket paths in it must fit in 108 bytes.
    let dir = TestDir::new(run.logdir);
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
    let mut interp = Interp {
        file,
        params: &run.case.params,
        log: TestLog::create(&dir.test_log()),
        env: MachineEnv {
            qemu_option: run.qemu_option.clone(),
            console_log: open(kennel_layout::CONSOLE_LOG),
            qemu_log: open(kennel_layout::QEMU_LOG),
            qmp_log: open(kennel_layout::QMP_LOG),
            several: file.machines.len() > 1,
        },
        slots: file
            .machines
            .iter()
            .map(|m| (m.name.clone(), Slot { spec: m, vm: None }))
            .collect(),
        saved: HashMap::new(),
        assets: HashMap::new(),
        guest_files: None,
        tmp,
        deadline: Instant::now() + run.timeout,
        timeout: run.timeout,
        asset_policy: run.assets,
        cmdline: open(kennel_layout::CMDLINE),
        step_timeout: None,
        machines: StartRecord::default(),
        logdir: run.logdir.to_path_buf(),
        timed_out_seen: std::cell::Cell::new(false),
    };
    interp.log.line(&format!("test: {}", run.case.name));
    interp.log.line(&format!("file: {}", file.path.display()));
    if !run.case.params.is_empty() {
        interp.log.line(&format!(
            "parameters: {}",
            Value::from(serde_json::Map::from_iter(run.case.params.clone()))
        ));
    }
    let mut outcome = interp.run();
    interp.teardown();
    interp.log.line(&format!(
        "result: {}{}",
        outcome.status,
        outcome
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    ));
    outcome.machines = std::mem::take(&mut interp.machines);
    if kennel_config::Config::get().is_ok_and(|c| c.keep_tmp) {
        if let Ok(d) = scratch {
            let _ = std::fs::remove_file(dir.scratch_note());
            let kept = d.keep();
            interp
                .log
                .line(&format!("kept scratch folder {}", kept.display()));
        }
    }
    outcome
}

impl<'a> Interp<'a> {
    fn vars(&self) -> StepVars<'_> {
        StepVars {
            saved: &self.saved,
            params: self.params,
            tmp: &self.tmp,
            dir: &self.file.dir,
            assets: &self.assets,
            guest: self.guest_files.as_ref(),
        }
    }

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
        let names: Vec<String> = self.slots.keys().cloned().collect();
        for name in names {
            if self.slots[&name].spec.launch {
                let need = self.first_need(&name);
                let until = match need {
                    Some((_, Some(timeout))) => (Instant::now() + timeout).min(self.deadline),
                    _ => self.deadline,
                };
                if let Err(e) = self.launch(&name, until) {
                    // The step that needed the guest is the one that fails.
                    let e = match need {
                        Some((index, _)) => e.prefixed(&self.step_label(index)),
                        None => e,
                    };
                    return e.into_outcome();
                }
            }
        }
        for (i, step) in self.file.steps.iter().enumerate() {
            let label = self.step_label(i);
            self.log.line(&format!("{label}: start"));
            let started = Instant::now();
            match self.run_step(step) {
                Ok(()) => self.log.line(&format!(
                    "{label}: pass ({} ms)",
                    started.elapsed().as_millis()
                )),
                Err(e) => {
                    let e = e.prefixed(&label);
                    self.log.line(&format!("{label}: {}", e.verdict_text()));
                    self.failed(&e);
                    return e.into_outcome();
                }
            }
            if let Some(e) = self.console_failure() {
                let e = e.prefixed(&label);
                self.log.line(&e.verdict_text());
                self.failed(&e);
                return e.into_outcome();
            }
        }
        Outcome::pass()
    }

    /// "step 2 (file:line, run uname -r)", for reasons.
    fn step_label(&self, index: usize) -> String {
        let step = &self.file.steps[index];
        format!(
            "step {} ({}:{}, {})",
            index + 1,
            self.file.path.display(),
            step.line,
            step.describe()
        )
    }

    /// The first step on machine `name`, and its own timeout: the wait for
    /// the machine's guest is bounded by that step (the contract's deadline
    /// rule), so a guest that never comes up FAILs that step in its own time
    /// instead of using up the test's.
    fn first_need(&self, name: &str) -> Option<(usize, Option<Duration>)> {
        self.file
            .steps
            .iter()
            .enumerate()
            .find(|(_, step)| step.on == name)
            .map(|(index, step)| (index, step.timeout))
    }

    /// Fetch (or find in the cache) and verify every declared asset.
    fn resolve_assets(&mut self) -> Result<(), Box<Outcome>> {
        if self.file.assets.is_empty() {
            return Ok(());
        }
        for (name, spec) in &self.file.assets {
            let spec = spec.render(&self.vars()).map_err(|e| {
                Box::new(Outcome::with(
                    Status::Error,
                    format!("in `[assets.{name}]`: {e}"),
                ))
            })?;
            let path =
                kennel_vm::resolve_asset(&spec, &self.file.dir, &self.asset_policy, &self.log)
                    .map_err(|e| {
                        let status = if e.is_skip() {
                            Status::Skip
                        } else {
                            Status::Error
                        };
                        Box::new(Outcome::with(status, kennel_machine::error_chain(&e)))
                    })?;
            self.assets.insert(name.clone(), path);
        }
        Ok(())
    }

    /// Why the test SKIPs; a `[requires]` whose values do not render is an ERROR.
    fn unmet_requirement(&self) -> Result<Option<String>, StepError> {
        self.file
            .requires
            .render(&self.vars())
            .map_err(|e| StepError::Error(format!("in `[requires]`: {e}")))?;
        Ok(skip_reason(
            self.file,
            &self.vars(),
            self.env.qemu_option.as_deref(),
        ))
    }

    /// Launch one declared machine through the machine core, and wait for its
    /// guest; checks `expect_exit` right away.
    /// Every wait ends by `until`: the test's deadline, or the deadline of the
    /// step that needs the machine when that comes first.
    pub(super) fn launch(&mut self, name: &str, until: Instant) -> Result<(), StepError> {
        let vars = self.vars();
        let slot = &self.slots[name];
        let mut desc = machines::desc(slot.spec, &vars, &self.env, &self.file.dir)
            .map_err(StepError::Error)?;
        desc.warm = machines::may_start_warm(slot.spec, self.file);
        let expect_exit = slot.spec.expect_exit.clone();
        let workspace = Workspace {
            scratch: self.tmp.clone(),
            log: self.log.clone(),
            cmdline: self.cmdline.clone(),
            several: self.env.several,
            logdir: self.logdir.clone(),
        };
        let launched_at = Instant::now();
        let vm = kennel_vm::prepare(desc, &workspace)
            .and_then(|plan| {
                plan.start(Deadlines {
                    until: until.min(self.deadline),
                    test_until: self.deadline,
                    timeout: self.timeout,
                })
            })
            .map_err(|e| self.not_ready(name, e))?;
        vm.record_start(&mut self.machines, self.env.several);
        // Also for the runner, should this process be killed before its result.
        let _ = self.machines.write(&self.logdir);
        if let Some(slot) = self.slots.get_mut(name) {
            slot.vm = Some(vm);
        }
        if let Some(expect) = expect_exit {
            let limit = expect.timeout.unwrap_or(Duration::from_secs(30));
            let deadline = (launched_at + limit).min(self.deadline);
            self.check_exit(name, &expect, deadline)?;
        }
        Ok(())
    }

    /// The verdict for a machine that could not be made ready.
    fn not_ready(&self, name: &str, e: VmError) -> StepError {
        let late = Instant::now() >= self.deadline;
        let why = kennel_machine::error_chain(&e);
        match e {
            VmError::Unavailable(_) => StepError::Skip(why),
            VmError::Launch { .. } if late => {
                self.timed_out(format!("machine `{name}` to launch: {why}"))
            }
            VmError::NotUp { .. } if late => StepError::Interrupted(why),
            VmError::NotUp { .. } => StepError::Fail(why),
            VmError::Prepare { .. } | VmError::Launch { .. } | VmError::Setup { .. } => {
                StepError::Error(why)
            }
        }
    }

    /// `${guest_kernel}` and `${guest_initrd}`: the built-in guest for the main
    /// machine's architecture, built only when the file uses them.
    fn prepare_guest_files(&mut self) -> Result<(), StepError> {
        let uses = |names: Vec<String>| {
            names
                .iter()
                .any(|n| n == "guest_kernel" || n == "guest_initrd")
        };
        let used = self
            .file
            .machines
            .iter()
            .any(|m| uses(kennel_spec::machine_vars(m)))
            || self
                .file
                .steps
                .iter()
                .any(|s| uses(kennel_spec::step_vars(s)));
        if !used {
            return Ok(());
        }
        let arch = self
            .file
            .machines
            .first()
            .and_then(|m| m.arch.as_ref())
            .and_then(|a| a.render(&self.vars()).ok())
            .unwrap_or_else(|| kennel_machine::host_arch().to_string());
        match kennel_vm::guest::build(&arch, None) {
            Ok(g) => {
                self.log.line(&format!(
                    "guest_kernel = {}, guest_initrd = {}",
                    g.image.kernel.display(),
                    g.image.initrd.display()
                ));
                self.guest_files = Some((g.image.kernel, g.image.initrd));
                Ok(())
            }
            Err(p) if p.is_missing() => Err(StepError::Skip(kennel_machine::error_chain(&p))),
            Err(p) => Err(StepError::Error(kennel_machine::error_chain(&p))),
        }
    }

    fn console_failure(&self) -> Option<StepError> {
        for (name, slot) in &self.slots {
            if let Some(vm) = &slot.vm {
                if let Ok(c) = vm.machine_ref().console() {
                    if let Some(p) = c.failed() {
                        return Some(StepError::Fail(format!(
                            "console of `{name}` showed {p:?}; last lines:\n{}",
                            c.last_lines(15)
                        )));
                    }
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
            timed_out: self.timed_out_seen.get(),
        };
        for slot in self.slots.values_mut() {
            let Some(vm) = slot.vm.as_mut().filter(|_| debug.artifacts) else {
                continue;
            };
            for f in vm.collect_artifacts(&self.logdir, what) {
                self.log.line(&format!(
                    "failure artifact of `{}`: {}",
                    vm.name(),
                    f.display()
                ));
            }
        }
        if debug.pause_on_failure {
            let live: Vec<&Vm> = self.slots.values().filter_map(|s| s.vm.as_ref()).collect();
            self.log.line("paused on the failure (--pause-on-failure)");
            kennel_vm::pause_on_failure(&self.logdir, &e.verdict_text(), &live);
            self.log.line("resumed");
        }
    }

    fn teardown(&mut self) {
        for slot in self.slots.values_mut() {
            if let Some(vm) = slot.vm.as_mut() {
                if vm.machine().is_running() {
                    let _ = vm.shutdown(kennel_vm::SHUTDOWN_GRACE);
                }
            }
        }
    }

    /// What a timed-out wait means: FAIL for a step timeout, INTERRUPTED for the test's.
    pub(super) fn timed_out(&self, what: String) -> StepError {
        self.timed_out_seen.set(true);
        if Instant::now() >= self.deadline {
            StepError::Interrupted(format!(
                "test timeout ({}) reached while waiting for {what}",
                humantime::format_duration(self.timeout)
            ))
        } else {
            let after = self
                .step_timeout
                .map(|t| format!(" after {}", humantime::format_duration(round_ms(t))))
                .unwrap_or_default();
            StepError::Fail(format!("timed out{after} waiting for {what}"))
        }
    }
}

impl StepError {
    fn into_outcome(self) -> Outcome {
        match self {
            StepError::Fail(m) => Outcome::with(Status::Fail, m),
            StepError::Error(m) => Outcome::with(Status::Error, m),
            StepError::Interrupted(m) => Outcome::with(Status::Interrupted, m),
            StepError::Skip(m) => Outcome::with(Status::Skip, m),
        }
    }

    fn prefixed(self, label: &str) -> StepError {
        match self {
            StepError::Fail(m) => StepError::Fail(format!("{label}: {m}")),
            StepError::Error(m) => StepError::Error(format!("{label}: {m}")),
            StepError::Interrupted(m) => StepError::Interrupted(format!("{label}: {m}")),
            StepError::Skip(m) => StepError::Skip(m),
        }
    }

    fn verdict_text(&self) -> String {
        match self {
            StepError::Fail(m) => format!("fail: {m}"),
            StepError::Error(m) => format!("error: {m}"),
            StepError::Interrupted(m) => format!("interrupted: {m}"),
            StepError::Skip(m) => format!("skip: {m}"),
        }
    }
}

/// A duration to whole milliseconds, for messages.
fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis().try_into().unwrap_or(u64::MAX))
}

/// Why a test would SKIP before it launches anything (`[requires]`, with
/// `${...}` substituted from `vars`, or no QEMU for an architecture the test is
/// tagged for); `None` when it can run. `kennel list` shows this too.
pub fn skip_reason(
    file: &TestFile,
    vars: &dyn kennel_spec::Vars,
    qemu: Option<&Path>,
) -> Option<String> {
    let requires = match file.requires.render(vars) {
        Ok(r) => r,
        Err(e) => return Some(format!("`[requires]` does not render: {e}")),
    };
    let main = file
        .machines
        .iter()
        .find(|m| m.name == "main")
        .or_else(|| file.machines.first())?;
    let arch = main
        .arch
        .as_ref()
        .and_then(|a| a.render(vars).ok())
        .unwrap_or_else(|| kennel_machine::host_arch().to_string());
    let explicit = main
        .binary
        .as_ref()
        .and_then(|b| b.render(vars).ok())
        .map(PathBuf::from);
    let binary = find_qemu(&arch, explicit.as_deref(), qemu).ok();
    let arch_tagged =
        file.tags.iter().any(|t| t == &format!("arch:{arch}")) || requires.arch.contains(&arch);
    if binary.is_none() && arch_tagged {
        return Some(format!(
            "no QEMU binary for {arch} (qemu-system-{arch} not found)"
        ));
    }
    let binary_for = |a: &str| find_qemu(a, None, qemu).is_ok();
    requires::unmet(
        &requires,
        binary.as_ref().map(|b| b.path.as_path()),
        &binary_for,
    )
}
