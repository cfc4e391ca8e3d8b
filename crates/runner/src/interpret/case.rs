//! One test case, from requirements to teardown.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use kennel_machine::{find_qemu, LogSink, Machine};
use kennel_spec::{MachineSpec, TestCase, TestFile, Value};

use super::log::TestLog;
use super::machines::{self, MachineEnv};
use super::requires;
use super::steps::StepError;
use super::vars::StepVars;
use crate::event::{Outcome, Status};

/// How long a built-in guest may take to boot before it counts as not coming up.
const GUEST_BOOT_LIMIT: Duration = Duration::from_secs(120);

/// The file in a test's log folder naming its scratch folder while it exists
/// (for the runner to remove when it has to kill the test process).
pub const SCRATCH_NOTE: &str = "scratch-dir";

/// How long a machine gets to stop after QMP `quit` at the end of a test.
pub(super) const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

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

/// How a test's `[assets]` are resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssetPolicy {
    /// Never download (`--offline`, `KENNEL_NO_DOWNLOAD=1`): a missing asset SKIPs the test.
    pub offline: bool,
    /// With `offline`, a missing asset is an ERROR instead (`--require-assets`).
    pub require: bool,
    /// Accept assets without a hash (`--allow-unverified`).
    pub allow_unverified: bool,
}

/// A machine of the test: its spec and, once launched, the process.
pub(super) struct Slot<'a> {
    pub spec: &'a MachineSpec,
    pub machine: Option<Machine>,
    /// The guest agent, once it said it is ready.
    pub agent: Option<kennel_agent::AgentClient>,
    /// Commands run through the console shell so far (numbers their framing).
    pub console_commands: u64,
    /// The SSH session of a cloud-init guest, once it phoned home.
    pub ssh: Option<kennel_ssh::Session>,
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
    pub cmdline: Option<std::fs::File>,
    pub accel: IndexMap<String, String>,
    /// The running step's own time limit, for messages.
    pub step_timeout: Option<Duration>,
    /// Where the job's SSH key lives.
    pub ssh_dir: PathBuf,
    /// Timed phases, for the results.
    pub phases: IndexMap<String, f64>,
}

/// Run one case and say how it went. Never panics on bad input; every machine
/// is stopped before this returns.
pub fn run_case(run: &CaseRun<'_>) -> Outcome {
    let file: &TestFile = &run.case.file;
    let open = |name: &str| -> LogSink {
        match std::fs::File::create(run.logdir.join(name)) {
            Ok(f) => LogSink::new(Box::new(f)),
            Err(_) => LogSink::discard(),
        }
    };
    // A short absolute path: UNIX socket paths in it must fit in 108 bytes.
    let scratch = tempfile::Builder::new().prefix("kennel-tmp-").tempdir();
    let tmp = match &scratch {
        Ok(d) => {
            // Told to the runner, which removes it if this process is killed.
            let _ = std::fs::write(
                run.logdir.join(SCRATCH_NOTE),
                d.path().as_os_str().as_encoded_bytes(),
            );
            d.path().to_path_buf()
        }
        Err(_) => {
            let t = run.logdir.join("tmp");
            let _ = std::fs::create_dir_all(&t);
            t
        }
    };
    let mut interp = Interp {
        file,
        params: &run.case.params,
        log: TestLog::create(&run.logdir.join("test.log")),
        env: MachineEnv {
            qemu_option: run.qemu_option.clone(),
            console_log: open("console.log"),
            qemu_log: open("qemu.log"),
            qmp_log: open("qmp.log"),
            several: file.machines.len() > 1,
        },
        slots: file
            .machines
            .iter()
            .map(|m| {
                (
                    m.name.clone(),
                    Slot {
                        spec: m,
                        machine: None,
                        agent: None,
                        console_commands: 0,
                        ssh: None,
                    },
                )
            })
            .collect(),
        saved: HashMap::new(),
        assets: HashMap::new(),
        guest_files: None,
        tmp,
        deadline: Instant::now() + run.timeout,
        timeout: run.timeout,
        asset_policy: run.assets,
        cmdline: std::fs::File::create(run.logdir.join("cmdline")).ok(),
        accel: IndexMap::new(),
        step_timeout: None,
        ssh_dir: crate::cloud::job_key_dir(run.logdir),
        phases: IndexMap::new(),
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
    outcome.accel = std::mem::take(&mut interp.accel);
    outcome.phases = std::mem::take(&mut interp.phases);
    if std::env::var_os("KENNEL_KEEP_TMP").is_some() {
        if let Ok(d) = scratch {
            let _ = std::fs::remove_file(run.logdir.join(SCRATCH_NOTE));
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
        if let Some(reason) = self.unmet_requirement() {
            self.log.line(&format!("skip: {reason}"));
            return Outcome::with(Status::Skip, reason);
        }
        let names: Vec<String> = self.slots.keys().cloned().collect();
        for name in names {
            if self.slots[&name].spec.launch {
                if let Err(e) = self.launch(&name) {
                    return e.into_outcome();
                }
            }
        }
        for (i, step) in self.file.steps.iter().enumerate() {
            let label = format!(
                "step {} ({}:{}, {})",
                i + 1,
                self.file.path.display(),
                step.line,
                step.describe()
            );
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
                    return e.into_outcome();
                }
            }
            if let Some(e) = self.console_failure() {
                let e = e.prefixed(&label);
                self.log.line(&e.verdict_text());
                return e.into_outcome();
            }
        }
        Outcome::pass()
    }

    /// Fetch (or find in the cache) and verify every declared asset.
    fn resolve_assets(&mut self) -> Result<(), Box<Outcome>> {
        if self.file.assets.is_empty() {
            return Ok(());
        }
        let dir = match kennel_assets::Cache::default_dir() {
            Ok(d) => d,
            Err(e) => return Err(Box::new(Outcome::with(Status::Error, e.to_string()))),
        };
        let cache = kennel_assets::Cache::new(dir);
        let policy = kennel_assets::FetchPolicy {
            offline: self.asset_policy.offline,
            allow_unverified: self.asset_policy.allow_unverified,
        };
        for (name, spec) in &self.file.assets {
            let started = Instant::now();
            let resolved;
            let spec = match &spec.source {
                kennel_spec::AssetSource::Cloud(image) => {
                    let image = image
                        .render(&self.vars())
                        .map_err(|e| Box::new(Outcome::with(Status::Error, e.to_string())))?;
                    resolved =
                        crate::cloud::resolve_cloud_asset(spec, &image, self.asset_policy.offline)
                            .map_err(|e| {
                                self.log.line(&e);
                                // Offline, an image never resolved here is one not fetched yet.
                                let status =
                                    if self.asset_policy.offline && !self.asset_policy.require {
                                        Status::Skip
                                    } else {
                                        Status::Error
                                    };
                                Box::new(Outcome::with(status, e))
                            })?;
                    self.log.line(&format!(
                        "asset {name}: {image:?} is {}",
                        match &resolved.source {
                            kennel_spec::AssetSource::Url(url) => url.as_str(),
                            _ => "?",
                        }
                    ));
                    &resolved
                }
                _ => spec,
            };
            match cache.resolve(
                spec,
                &self.file.dir,
                &policy,
                &mut kennel_assets::no_progress,
            ) {
                Ok(path) => {
                    self.log.line(&format!(
                        "asset {name}: {} ({} ms)",
                        path.display(),
                        started.elapsed().as_millis()
                    ));
                    self.assets.insert(name.clone(), path);
                }
                Err(e @ kennel_assets::AssetError::NotCached { .. })
                    if !self.asset_policy.require =>
                {
                    self.log.line(&format!("asset {name}: {e}"));
                    return Err(Box::new(Outcome::with(
                        Status::Skip,
                        format!("asset `{name}` is not cached and downloads are off: {e}"),
                    )));
                }
                Err(e) => {
                    let text = crate::error_chain(&e);
                    self.log.line(&format!("asset {name}: {text}"));
                    return Err(Box::new(Outcome::with(Status::Error, text)));
                }
            }
        }
        Ok(())
    }

    fn unmet_requirement(&self) -> Option<String> {
        skip_reason(self.file, &self.vars(), self.env.qemu_option.as_deref())
    }

    /// Launch one declared machine; checks `expect_exit` right away.
    pub(super) fn launch(&mut self, name: &str) -> Result<(), StepError> {
        let vars = self.vars();
        let slot = &self.slots[name];
        let guest = match &slot.spec.guest {
            Some(g) => Some(self.prepare_guest(slot.spec, g, &vars)?),
            None => None,
        };
        let cloud = self.prepare_cloud(slot.spec, &vars)?;
        let slot = &self.slots[name];
        let mut config = machines::config(slot.spec, &vars, &self.env, guest.as_ref())
            .map_err(StepError::Error)?;
        if let Some((boot, _)) = &cloud {
            boot.apply(&mut config);
        }
        config.launch_timeout = config
            .launch_timeout
            .min(self.deadline.saturating_duration_since(Instant::now()));
        let expect_exit = slot.spec.expect_exit.clone();
        let launched_at = Instant::now();
        let machine = config.launch().map_err(|e| {
            if Instant::now() >= self.deadline {
                self.timed_out(format!("machine `{name}` to launch: {e}"))
            } else {
                StepError::Error(format!("machine `{name}`: {e}"))
            }
        })?;
        self.log.line(&format!(
            "launched `{name}` (pid {}, {}: {}) in {} ms",
            machine.pid(),
            machine.accel().accel,
            machine.accel().reason,
            launched_at.elapsed().as_millis()
        ));
        self.accel.insert(
            name.to_string(),
            format!("{} ({})", machine.accel().accel, machine.accel().reason),
        );
        if let Some(f) = self.cmdline.as_mut() {
            if self.env.several {
                let _ = writeln!(f, "# machine {name}");
            }
            let _ = writeln!(f, "{}", machine.cmdline());
        }
        if let Some(slot) = self.slots.get_mut(name) {
            slot.machine = Some(machine);
        }
        if let Some(g) = &guest {
            self.wait_for_guest(name, g, launched_at)?;
        }
        if let Some((boot, Some(key))) = &cloud {
            self.wait_for_cloud(name, boot, key, launched_at)?;
        }
        if let Some(expect) = expect_exit {
            let limit = expect.timeout.unwrap_or(Duration::from_secs(30));
            let deadline = (launched_at + limit).min(self.deadline);
            self.check_exit(name, &expect, deadline)?;
        }
        Ok(())
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
        match super::guest::prepare(&arch, None) {
            Ok(g) => {
                self.log.line(&format!(
                    "guest_kernel = {}, guest_initrd = {}",
                    g.image.kernel.display(),
                    g.image.initrd.display()
                ));
                self.guest_files = Some((g.image.kernel, g.image.initrd));
                Ok(())
            }
            Err(super::guest::GuestProblem::Missing(why)) => Err(StepError::Skip(why)),
            Err(super::guest::GuestProblem::Failed(why)) => Err(StepError::Error(why)),
        }
    }

    /// Build the built-in guest a machine asks for (`guest = "busybox"`).
    fn prepare_guest(
        &self,
        spec: &MachineSpec,
        which: &kennel_spec::Template,
        vars: &StepVars<'_>,
    ) -> Result<super::guest::BuiltGuest, StepError> {
        let which = which
            .render(vars)
            .map_err(|e| StepError::Error(e.to_string()))?;
        if which != "busybox" {
            return Err(StepError::Error(format!(
                "machine `{}`: unknown guest {which:?} (kennel has \"busybox\")",
                spec.name
            )));
        }
        let arch = match &spec.arch {
            Some(a) => a
                .render(vars)
                .map_err(|e| StepError::Error(e.to_string()))?,
            None => kennel_machine::host_arch().to_string(),
        };
        let kernel = spec
            .kernel
            .as_ref()
            .map(|k| k.render(vars))
            .transpose()
            .map_err(|e| StepError::Error(e.to_string()))?
            .map(PathBuf::from);
        let started = Instant::now();
        match super::guest::prepare(&arch, kernel.as_deref()) {
            Ok(g) => {
                self.log.line(&format!(
                    "guest for `{}`: {} kernel {} ({}), initramfs {}, {} in {} ms",
                    spec.name,
                    g.image.arch.name(),
                    g.image.kernel.display(),
                    if g.image.pvh { "PVH" } else { "as shipped" },
                    g.image.initrd.display(),
                    if g.image.from_cache {
                        "from the cache"
                    } else {
                        "built"
                    },
                    started.elapsed().as_millis()
                ));
                if let Some(n) = &g.note {
                    self.log.line(n);
                }
                Ok(g)
            }
            Err(super::guest::GuestProblem::Missing(why)) => Err(StepError::Skip(why)),
            Err(super::guest::GuestProblem::Failed(why)) => Err(StepError::Error(format!(
                "machine `{}`: building the guest failed: {why}",
                spec.name
            ))),
        }
    }

    /// Wait until the guest is up: its agent says ready, or (without an agent)
    /// its init prints the ready marker on the console.
    fn wait_for_guest(
        &mut self,
        name: &str,
        guest: &super::guest::BuiltGuest,
        launched_at: Instant,
    ) -> Result<(), StepError> {
        let deadline = (Instant::now() + GUEST_BOOT_LIMIT).min(self.deadline);
        let test_deadline = self.deadline;
        let Some(slot) = self.slots.get_mut(name) else {
            return Ok(());
        };
        let Some(m) = slot.machine.as_mut() else {
            return Ok(());
        };
        let console = m
            .console()
            .map_err(|e| StepError::Error(e.to_string()))?
            .clone();
        let not_up = |why: String| {
            let text = format!(
                "the guest of `{name}` did not come up ({why}); last console lines:\n{}",
                console.last_lines(15)
            );
            if Instant::now() >= test_deadline {
                StepError::Interrupted(text)
            } else {
                StepError::Fail(text)
            }
        };
        if guest.agent {
            let Some(stream) = m.take_socket(super::guest::AGENT_SOCKET) else {
                return Err(StepError::Error(
                    "the agent's socket was not connected".into(),
                ));
            };
            let agent = kennel_agent::AgentClient::connect(stream, deadline)
                .map_err(|e| not_up(crate::error_chain(&e)))?;
            self.log.line(&format!(
                "guest `{name}` is up: agent {} on Linux {} after {} ms",
                agent.ready_info().version,
                agent.ready_info().kernel_release,
                launched_at.elapsed().as_millis()
            ));
            slot.agent = Some(agent);
        } else {
            let marker = kennel_machine::Pattern::Text(kennel_guest::READY_MARKER.into());
            console
                .wait_for(&marker, deadline)
                .map_err(|e| not_up(e.to_string()))?;
            self.log.line(&format!(
                "guest `{name}` is up (console) after {} ms",
                launched_at.elapsed().as_millis()
            ));
        }
        Ok(())
    }

    /// The overlay and seed of a machine with `image` or `cloud_init`, and the
    /// job key the guest will trust.
    fn prepare_cloud(
        &self,
        spec: &MachineSpec,
        vars: &StepVars<'_>,
    ) -> Result<Option<(crate::cloud::CloudBoot, Option<crate::cloud::JobKey>)>, StepError> {
        if spec.image.is_none() && spec.cloud_init.is_none() {
            return Ok(None);
        }
        let image = spec
            .image
            .as_ref()
            .map(|t| t.render(vars))
            .transpose()
            .map_err(|e| StepError::Error(e.to_string()))?
            .map(|p| self.file.dir.join(p));
        let cloud_init = match &spec.cloud_init {
            None | Some(Value::Bool(false)) => None,
            Some(value) => {
                let value = kennel_spec::render_value(value, vars)
                    .map_err(|e| StepError::Error(e.to_string()))?;
                Some(
                    value
                        .get("user_data")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                )
            }
        };
        let key = match cloud_init {
            Some(_) => Some(
                crate::cloud::job_key(&self.ssh_dir)
                    .map_err(|e| StepError::Error(format!("machine `{}`: {e}", spec.name)))?,
            ),
            None => None,
        };
        let qemu_img = kennel_cloud::find_qemu_img(self.env.qemu_option.as_deref());
        let started = Instant::now();
        let boot = crate::cloud::prepare(&crate::cloud::CloudRequest {
            machine: &spec.name,
            image: image.as_deref(),
            cloud_init,
            scratch: &self.tmp,
            qemu_img: &qemu_img,
            key: key.as_ref(),
        })
        .map_err(|e| StepError::Error(format!("machine `{}`: {e}", spec.name)))?;
        if let Some(overlay) = &boot.overlay {
            self.log.line(&format!(
                "machine `{}`: overlay {} over {}",
                spec.name,
                overlay.display(),
                image.as_deref().unwrap_or(Path::new("?")).display()
            ));
        }
        if let Some(seed) = &boot.seed {
            self.log.line(&format!(
                "machine `{}`: cloud-init seed {} (instance {}), job key {}, made in {} ms",
                spec.name,
                seed.path.display(),
                seed.instance_id,
                key.as_ref()
                    .map(|k| k.path.display().to_string())
                    .unwrap_or_default(),
                started.elapsed().as_millis()
            ));
        }
        Ok(Some((boot, key)))
    }

    /// Wait for a cloud-init guest to phone home and open its SSH session.
    fn wait_for_cloud(
        &mut self,
        name: &str,
        boot: &crate::cloud::CloudBoot,
        key: &crate::cloud::JobKey,
        launched_at: Instant,
    ) -> Result<(), StepError> {
        // Keep a little of the test's time to report a guest that never came up.
        let reserve = (self.timeout / 10).min(Duration::from_secs(5));
        let deadline = self.deadline.checked_sub(reserve).unwrap_or(self.deadline);
        let Some(m) = self.slots.get_mut(name).and_then(|s| s.machine.as_mut()) else {
            return Ok(());
        };
        let ready = boot
            .wait_ready(m, &key.key, launched_at, deadline)
            .map_err(|problem| match problem {
                crate::cloud::WaitProblem::Error(e) => {
                    StepError::Error(format!("machine `{name}`: {e}"))
                }
                crate::cloud::WaitProblem::NotUp(e) | crate::cloud::WaitProblem::Died(e) => {
                    StepError::Fail(format!("the guest of `{name}` did not come up: {e}"))
                }
            })?;
        self.log.line(&format!(
            "guest `{name}` phoned home after {} ms, SSH ready {} ms later (port {}, host key {})",
            ready.boot_to_phone_home.as_millis(),
            ready.phone_home_to_ssh.as_millis(),
            ready.port,
            ready.host_key.as_deref().unwrap_or("not sent, not pinned"),
        ));
        let prefix = if self.env.several {
            format!("{name}.")
        } else {
            String::new()
        };
        self.phases.insert(
            format!("{prefix}boot_to_phone_home_s"),
            round3(ready.boot_to_phone_home),
        );
        self.phases.insert(
            format!("{prefix}phone_home_to_ssh_s"),
            round3(ready.phone_home_to_ssh),
        );
        if let Some(f) = self.cmdline.as_mut() {
            let _ = writeln!(
                f,
                "# ssh -i {} -p {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null {}@127.0.0.1",
                key.path.display(),
                ready.port,
                crate::cloud::GUEST_USER
            );
        }
        if let Some(slot) = self.slots.get_mut(name) {
            slot.ssh = Some(ready.ssh);
        }
        Ok(())
    }

    fn console_failure(&self) -> Option<StepError> {
        for (name, slot) in &self.slots {
            if let Some(m) = &slot.machine {
                if let Ok(c) = m.console() {
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

    fn teardown(&mut self) {
        for (name, slot) in self.slots.iter_mut() {
            if let Some(m) = slot.machine.as_mut() {
                if m.is_running() {
                    match m.shutdown(SHUTDOWN_GRACE) {
                        Ok(exit) => self.log.line(&format!("stopped `{name}`: {exit}")),
                        Err(e) => self.log.line(&format!("stopping `{name}` failed: {e}")),
                    }
                }
            }
        }
    }

    /// What a timed-out wait means: FAIL for a step timeout, INTERRUPTED for the test's.
    pub(super) fn timed_out(&self, what: String) -> StepError {
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

/// Why a test would SKIP before it launches anything (`[requires]`, or no QEMU for
/// an architecture the test is tagged for); `None` when it can run. `kennel list`
/// shows this too.
pub fn skip_reason(
    file: &TestFile,
    vars: &dyn kennel_spec::Vars,
    qemu: Option<&Path>,
) -> Option<String> {
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
    let arch_tagged = file.tags.iter().any(|t| t == &format!("arch:{arch}"))
        || file.requires.arch.contains(&arch);
    if binary.is_none() && arch_tagged {
        return Some(format!(
            "no QEMU binary for {arch} (qemu-system-{arch} not found)"
        ));
    }
    let binary_for = |a: &str| find_qemu(a, None, qemu).is_ok();
    requires::unmet(
        &file.requires,
        binary.as_ref().map(|b| b.path.as_path()),
        &binary_for,
    )
}

/// Seconds with millisecond precision.
fn round3(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
