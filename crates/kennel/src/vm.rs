//! [`MachineBuilder`] and [`Vm`]: one QEMU, driven through QMP, its console and
//! a command channel into the guest (the agent of the built-in guest, a shell
//! on the serial console, or SSH into a cloud-init guest). A thin layer over the
//! machine core (`kennel-vm`), which declarative tests use too.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kennel_machine::{
    Accel, CommandError, Machine, MachineConfig, MachineError, Pattern, QmpError, Transcript, Value,
};
use kennel_vm::{BuiltinGuest, ChannelKind, CommandResult, Deadlines, MachineDesc, Workspace};

use crate::error::{Error, ErrorKind, Result};
use crate::test::Logs;

/// The options of one machine, as in a declarative `[machine]` table. Made by
/// [`Test::machine`](crate::Test::machine); [`MachineBuilder::launch`] starts it.
#[must_use = "a machine builder does nothing until `.launch()`"]
pub struct MachineBuilder {
    desc: MachineDesc,
    named: bool,
    logs: Logs,
    deadlines: Deadlines,
    cloud_image: Option<String>,
    workspace: Workspace,
}

impl MachineBuilder {
    pub(crate) fn new(
        name: String,
        logs: Logs,
        deadlines: Deadlines,
        workspace: Workspace,
    ) -> MachineBuilder {
        MachineBuilder {
            desc: MachineDesc::new(MachineConfig::new(name)),
            named: false,
            logs,
            deadlines,
            cloud_image: None,
            workspace,
        }
    }

    /// The machine's name, used in messages and to prefix its log lines.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.desc.config.name = name.into();
        self.named = true;
        self
    }

    /// The target architecture (`x86_64`, `aarch64`, ...); the host's by default.
    pub fn arch(mut self, arch: impl Into<String>) -> Self {
        self.desc.config.arch = Some(arch.into());
        self
    }

    /// The QEMU binary; by default `$QEMU_TEST_QEMU_BINARY`, else
    /// `qemu-system-<arch>` on `PATH`.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.desc.config.binary = Some(path.into());
        self
    }

    /// `-machine TYPE` (`pc`, `q35`, `virt`, `none`...).
    pub fn machine_type(mut self, machine_type: impl Into<String>) -> Self {
        self.desc.config.machine_type = Some(machine_type.into());
        self
    }

    /// The accelerator: `auto` (the default: KVM when usable, else TCG), `kvm`,
    /// `tcg`, ...
    pub fn accel(mut self, accel: &str) -> Self {
        self.desc.config.accel = Accel::parse(accel);
        self
    }

    /// `-smp N`.
    pub fn cpus(mut self, cpus: u64) -> Self {
        self.desc.config.cpus = Some(cpus);
        self
    }

    /// `-m SIZE` (`"256M"`).
    pub fn memory(mut self, size: impl Into<String>) -> Self {
        self.desc.config.memory = Some(size.into());
        self
    }

    /// `-kernel FILE`; with [`MachineBuilder::guest_busybox`], the kernel the
    /// built-in guest is built around (a file or a `linux-image-*.deb`).
    pub fn kernel(mut self, path: impl Into<PathBuf>) -> Self {
        self.desc.config.kernel = Some(path.into());
        self
    }

    /// `-initrd FILE`.
    pub fn initrd(mut self, path: impl Into<PathBuf>) -> Self {
        self.desc.config.initrd = Some(path.into());
        self
    }

    /// `-append TEXT` (added to the built-in guest's own command line).
    pub fn append(mut self, text: impl Into<String>) -> Self {
        self.desc.config.append = Some(text.into());
        self
    }

    /// More QEMU arguments, appended as given.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.desc
            .config
            .extra_args
            .extend(args.into_iter().map(Into::into));
        self
    }

    /// Capture the serial console (for [`Vm::console_wait`]); on by default with
    /// a kernel.
    pub fn console(mut self, on: bool) -> Self {
        self.desc.config.console = on;
        self
    }

    /// `-incoming URI` (`"defer"` for a migration target set up by
    /// `migrate-incoming`).
    pub fn incoming(mut self, uri: impl Into<String>) -> Self {
        self.desc.config.incoming = Some(uri.into());
        self
    }

    /// Boot the built-in guest (busybox, the host kernel, the kennel agent), as
    /// `guest = "busybox"` does: `launch` returns once the agent answers, and
    /// [`Vm::run`] runs commands in it. Needs `kennel-agent` built
    /// (`cargo build -p kennel-agent`) or `$KENNEL_AGENT`; without it the test
    /// is skipped.
    pub fn guest_busybox(mut self) -> Self {
        self.desc.guest = Some(BuiltinGuest::Busybox);
        self
    }

    /// The channel [`Vm::run`] uses, instead of the default (SSH with
    /// cloud-init, else the agent when the guest has one, else the console
    /// shell): `ChannelKind::Console` runs commands through a shell on the
    /// serial console even where the agent is available.
    pub fn channel(mut self, channel: ChannelKind) -> Self {
        self.desc.channel = Some(channel);
        self
    }

    /// Whether the built-in guest may start from a saved, booted state of the
    /// same configuration (a template) instead of booting: on by default;
    /// `.warm(false)` for a test that reads the boot itself (its console
    /// output, its timing). See `docs/warm-starts.md`.
    pub fn warm(mut self, warm: bool) -> Self {
        self.desc.warm = warm;
        self
    }

    /// Boot this disk image through a private qcow2 overlay (the image itself
    /// is never written), as `image = "..."` does.
    pub fn image(mut self, path: impl Into<PathBuf>) -> Self {
        self.desc.image = Some(path.into());
        self.cloud_image = None;
        self
    }

    /// Boot a distribution's cloud image, e.g. `"debian 12 amd64 genericcloud"`,
    /// `"ubuntu 24.04 amd64"`, `"fedora 41 x86_64"`: resolved to a URL and
    /// checksum from the distribution's checksum files (or the mirror in
    /// `KENNEL_IMAGE_MIRROR`), fetched once into the asset cache, verified, and
    /// booted through a private overlay.
    pub fn cloud_image(mut self, image: impl Into<String>) -> Self {
        self.cloud_image = Some(image.into());
        self.desc.image = None;
        self
    }

    /// Seed the guest with cloud-init (NoCloud): a per-test instance id, the
    /// job's SSH key for the user `kennel`, and a phone-home URL. `launch`
    /// returns once the guest phoned home and SSH works; [`Vm::run`] then runs
    /// commands over SSH.
    pub fn cloud_init(mut self) -> Self {
        self.desc.cloud_init = Some(None);
        self
    }

    /// [`MachineBuilder::cloud_init`] with user-data of the test's own
    /// (`#cloud-config ...`), merged after kennel's (lists are appended).
    pub fn cloud_init_user_data(mut self, user_data: impl Into<String>) -> Self {
        self.desc.cloud_init = Some(Some(user_data.into()));
        self
    }

    /// Start QEMU and connect QMP (and, with the built-in guest or cloud-init,
    /// wait for the guest to come up), all before the test's deadline. A guest
    /// whose pieces are not installed here skips the test.
    pub fn launch(self) -> Result<Vm> {
        let MachineBuilder {
            mut desc,
            named,
            logs,
            deadlines,
            cloud_image,
            workspace,
        } = self;
        let name = desc.config.name.clone();
        if let Some(text) = cloud_image {
            let offline = kennel_vm::cloud::downloads_off();
            let path = kennel_vm::cloud::fetch_cloud_image(&text, offline).map_err(|why| {
                ErrorKind::Image {
                    machine: name.clone(),
                    why,
                }
            })?;
            desc.image = Some(path);
        }
        let config = &mut desc.config;
        if named {
            let prefix = format!("[{name}] ");
            config.console_log = logs.console.with_prefix(prefix.clone());
            config.qemu_log = logs.qemu.with_prefix(prefix);
            config.transcript = Transcript::new(Box::new(logs.qmp.clone()), Some(name.clone()));
        } else {
            config.console_log = logs.console.clone();
            config.qemu_log = logs.qemu.clone();
            config.transcript = Transcript::new(Box::new(logs.qmp.clone()), None);
        }
        let started = kennel_vm::prepare(desc, &workspace).and_then(|plan| plan.start(deadlines));
        let inner = match started {
            Ok(vm) => vm,
            Err(kennel_vm::VmError::Unavailable(why)) => {
                return Err(ErrorKind::Skip(format!("machine `{name}`: {why}")).into())
            }
            Err(source) => {
                return Err(ErrorKind::Start {
                    machine: name,
                    source,
                }
                .into())
            }
        };
        if let Ok(mut machines) = logs.machines.lock() {
            inner.record_start(&mut machines, workspace.several);
            let _ = machines.write(&workspace.logdir);
        }
        Ok(Vm {
            name,
            inner,
            logs,
            deadline: deadlines.until,
            failed: None,
            failure: None,
            logdir: workspace.logdir,
        })
    }
}

/// What a guest command did ([`Vm::run`]): the machine core's one command
/// result, whatever channel carried it.
pub type Output = CommandResult;

/// A running QEMU. Dropping it kills QEMU (use [`Vm::shutdown`] for a clean end).
///
/// Every call logs a line into the test's `test.log`; the QMP exchanges go to
/// `qmp.log`, the console to `console.log`, QEMU's own output to `qemu.log`.
pub struct Vm {
    name: String,
    inner: kennel_vm::Vm,
    logs: Logs,
    deadline: Instant,
    /// A call failed (and whether it timed out): the failure artifacts are
    /// collected when the machine is dropped.
    failed: Option<bool>,
    /// The first failed call's error, for the pause's message.
    failure: Option<String>,
    logdir: std::path::PathBuf,
}

/// A machine whose test failed (a call on it returned an error, or the test
/// panicked) leaves its failure artifacts in the test's log folder before QEMU
/// is killed: `registers.txt`, `qemu-backtrace.txt` after a timeout, the
/// guest's `dmesg.txt` (see [`kennel_vm::Vm::collect_artifacts`];
/// `KENNEL_NO_ARTIFACTS=1` turns them off). With `KENNEL_PAUSE_ON_FAILURE=1`
/// (`kennel run --cargo --pause-on-failure`) it then stays up, saying how to
/// reach it, until Enter ([`kennel_vm::pause_on_failure`]).
impl Drop for Vm {
    fn drop(&mut self) {
        let failed = self.failed.or(std::thread::panicking().then_some(false));
        let Some(timed_out) = failed else {
            return;
        };
        let debug = kennel_vm::debug_settings();
        if debug.artifacts {
            let what = kennel_vm::Artifacts { timed_out };
            for f in self.inner.collect_artifacts(&self.logdir, what) {
                self.logs.line(&format!(
                    "[{}] failure artifact: {}",
                    self.name,
                    f.display()
                ));
            }
        }
        if debug.pause_on_failure && self.inner.machine().is_running() {
            self.logs.line(&format!(
                "[{}] paused on the failure (KENNEL_PAUSE_ON_FAILURE)",
                self.name
            ));
            let why = match &self.failure {
                Some(text) => text.clone(),
                None => "the test panicked".to_string(),
            };
            kennel_vm::pause_on_failure(&self.logdir, &why, &[&self.inner]);
            self.logs.line(&format!("[{}] resumed", self.name));
        }
    }
}

impl Vm {
    /// The machine's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The underlying [`kennel_machine::Machine`], for what this API does not cover.
    pub fn machine(&mut self) -> &mut Machine {
        self.inner.machine()
    }

    /// The channel [`Vm::run`] goes through (`None` for a machine without a
    /// guest channel).
    pub fn channel(&self) -> Option<ChannelKind> {
        self.inner.channel()
    }

    /// The QMP session, or an error saying what `what()` needed it for.
    fn qmp_session(&mut self, what: impl FnOnce() -> String) -> Result<&kennel_machine::Qmp> {
        let name = self.name.clone();
        self.inner.machine().qmp().map_err(|source| {
            ErrorKind::Machine {
                machine: name,
                what: what(),
                source,
            }
            .into()
        })
    }

    fn qmp_raw(&mut self, command: &str, args: &Value) -> Result<Result<Value, CommandError>> {
        let r = self.qmp_raw_unnoted(command, args);
        self.noted(r)
    }

    fn qmp_raw_unnoted(
        &mut self,
        command: &str,
        args: &Value,
    ) -> Result<Result<Value, CommandError>> {
        let args = (!args.is_null()).then_some(args);
        match args {
            Some(a) => self
                .logs
                .line(&format!("[{}] qmp {command} {a}", self.name)),
            None => self.logs.line(&format!("[{}] qmp {command}", self.name)),
        }
        let deadline = self.deadline;
        let qmp = self.qmp_session(|| format!("QMP `{command}`"))?;
        qmp.execute_raw(command, args, deadline)
            .map_err(|source| ErrorKind::Qmp {
                machine: self.name.clone(),
                command: command.to_string(),
                source,
            })
            .map_err(Error::from)
    }

    /// Execute a QMP command and return its `return` value. `args` is its
    /// `arguments` object (`json!({"type": "node"})`), or `Value::Null` for none.
    /// QEMU's refusal is an [`ErrorKind::Qmp`] holding the [`CommandError`]
    /// ([`Error::command_error`]).
    pub fn qmp(&mut self, command: &str, args: Value) -> Result<Value> {
        self.qmp_raw(command, &args)?
            .map_err(|e| ErrorKind::Qmp {
                machine: self.name.clone(),
                command: command.to_string(),
                source: QmpError::Command(e),
            })
            .map_err(Error::from)
    }

    /// Execute a QMP command that must fail, and return QEMU's error (class and
    /// desc); succeeding is an [`ErrorKind::UnexpectedSuccess`].
    pub fn qmp_err(&mut self, command: &str, args: Value) -> Result<CommandError> {
        match self.qmp_raw(command, &args)? {
            Err(e) => {
                self.logs.line(&format!(
                    "[{}] {command} refused as expected: {e}",
                    self.name
                ));
                Ok(e)
            }
            Ok(reply) => Err(ErrorKind::UnexpectedSuccess {
                machine: self.name.clone(),
                command: command.to_string(),
                reply,
            }
            .into()),
        }
    }

    /// Run an HMP command line and return its output.
    pub fn hmp(&mut self, command_line: &str) -> Result<String> {
        let r = self.hmp_unnoted(command_line);
        self.noted(r)
    }

    fn hmp_unnoted(&mut self, command_line: &str) -> Result<String> {
        self.logs
            .line(&format!("[{}] hmp {command_line}", self.name));
        let deadline = self.deadline;
        let qmp = self.qmp_session(|| format!("HMP `{command_line}`"))?;
        qmp.hmp(command_line, deadline)
            .map_err(|source| ErrorKind::Qmp {
                machine: self.name.clone(),
                command: format!("human-monitor-command {command_line}"),
                source,
            })
            .map_err(Error::from)
    }

    /// Wait for the event `name` whose whole event object contains `matching`
    /// (a recursive subset match, e.g. `json!({"data": {"reason": "host-qmp-quit"}})`;
    /// `Value::Null` for any), and return the event.
    pub fn wait_event(&mut self, name: &str, matching: Value) -> Result<Value> {
        let r = self.wait_event_unnoted(name, matching);
        self.noted(r)
    }

    fn wait_event_unnoted(&mut self, name: &str, matching: Value) -> Result<Value> {
        let pattern = (!matching.is_null()).then_some(&matching);
        self.logs
            .line(&format!("[{}] wait for event {name}", self.name));
        let deadline = self.deadline;
        let qmp = self.qmp_session(|| format!("waiting for event {name}"))?;
        qmp.wait_event(name, pattern, deadline)
            .map_err(|source| ErrorKind::Machine {
                machine: self.name.clone(),
                what: format!("waiting for event {name}"),
                source: MachineError::Qmp(source),
            })
            .map_err(Error::from)
    }

    /// Wait until the console shows `text` (after what earlier waits matched);
    /// return the matched text.
    pub fn console_wait(&mut self, text: &str) -> Result<String> {
        self.console_wait_for(Pattern::Text(text.to_string()))
    }

    /// Like [`Vm::console_wait`] with a regular expression.
    pub fn console_wait_regex(&mut self, regex: &str) -> Result<String> {
        let re = regex_lite(regex).map_err(ErrorKind::Message)?;
        self.console_wait_for(Pattern::Regex(re))
    }

    fn console_wait_for(&mut self, pattern: Pattern) -> Result<String> {
        let r = self.console_wait_for_unnoted(pattern);
        self.noted(r)
    }

    fn console_wait_for_unnoted(&mut self, pattern: Pattern) -> Result<String> {
        self.logs
            .line(&format!("[{}] wait for console {pattern}", self.name));
        let what = || format!("waiting for console {pattern}");
        let console = self
            .inner
            .machine()
            .console()
            .map_err(|source| ErrorKind::Machine {
                machine: self.name.clone(),
                what: what(),
                source,
            })?;
        console
            .wait_for(&pattern, self.deadline)
            .map(|m| m.text)
            .map_err(|e| ErrorKind::Machine {
                machine: self.name.clone(),
                what: what(),
                source: MachineError::Wait(e),
            })
            .map_err(Error::from)
    }

    /// Type `text` on the serial console.
    pub fn console_write(&mut self, text: &str) -> Result<()> {
        self.inner
            .machine()
            .console_write(text.as_bytes())
            .map_err(|source| ErrorKind::Machine {
                machine: self.name.clone(),
                what: "writing to the console".into(),
                source,
            })
            .map_err(Error::from)
    }

    /// Run a shell command line in the guest and return its output and exit
    /// status; a non-zero exit is not an error here (see [`Vm::run_ok`]). It
    /// goes through the agent of the built-in guest, a shell on the serial
    /// console (guests without the agent, such as aarch64 and ppc64), or SSH
    /// into a cloud-init guest: the same call either way.
    pub fn run(&mut self, command: &str) -> Result<Output> {
        let r = self.run_unnoted(command);
        self.noted(r)
    }

    fn run_unnoted(&mut self, command: &str) -> Result<Output> {
        let out = self
            .inner
            .run(command, self.deadline)
            .map_err(|source| self.guest_error(format!("`{command}`"), source))?;
        Ok(out)
    }

    /// [`Vm::run`], requiring exit code 0; returns the standard output.
    pub fn run_ok(&mut self, command: &str) -> Result<String> {
        let out = self.run(command)?;
        if out.success() {
            Ok(out.stdout)
        } else {
            let failed = Err(ErrorKind::CommandFailed {
                machine: self.name.clone(),
                command: command.to_string(),
                status: out.status.to_string(),
                stderr: out.stderr.trim_end().to_string(),
            }
            .into());
            self.noted(failed)
        }
    }

    /// Copy the host file `host_path` into the guest as `guest_path` (mode
    /// 0644), through the guest's channel (agent or SSH; the console shell
    /// cannot copy).
    pub fn copy_in(&mut self, host_path: &Path, guest_path: &str) -> Result<()> {
        let r = self.copy_in_unnoted(host_path, guest_path);
        self.noted(r)
    }

    fn copy_in_unnoted(&mut self, host_path: &Path, guest_path: &str) -> Result<()> {
        self.inner
            .copy_in(host_path, guest_path, self.deadline)
            .map_err(|source| self.guest_error(format!("copy to {guest_path}"), source))
    }

    /// Copy the guest file `guest_path` to the host file `host_path`, through
    /// the guest's channel (agent or SSH).
    pub fn copy_out(&mut self, guest_path: &str, host_path: &Path) -> Result<()> {
        let r = self.copy_out_unnoted(guest_path, host_path);
        self.noted(r)
    }

    fn copy_out_unnoted(&mut self, guest_path: &str, host_path: &Path) -> Result<()> {
        self.inner
            .copy_out(guest_path, host_path, self.deadline)
            .map_err(|source| self.guest_error(format!("copy from {guest_path}"), source))
    }

    /// How long the phases of a cloud-init guest's start took:
    /// `boot_to_phone_home` (launch to the guest's phone-home) and
    /// `phone_home_to_ssh` (to a working SSH session). Empty for other machines.
    pub fn phases(&self) -> &[(&'static str, Duration)] {
        self.inner.phases()
    }

    /// How the machine started: booted ([`Start::Cold`](kennel_vm::Start)),
    /// or restored from a template (`Start::Warm`, with its id).
    pub fn start_kind(&self) -> &kennel_vm::Start {
        self.inner.start_kind()
    }

    /// Remember that a call failed (the machine then leaves its failure
    /// artifacts when dropped), and pass the result on.
    fn noted<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            if e.skip_reason().is_none() {
                self.failed = Some(self.failed.unwrap_or(false) || e.is_timeout());
                self.failure.get_or_insert_with(|| e.chain());
            }
        }
        r
    }

    fn guest_error(&self, command: String, source: kennel_vm::ChannelError) -> Error {
        ErrorKind::Guest {
            machine: self.name.clone(),
            command,
            source,
        }
        .into()
    }

    /// QEMU is still running.
    pub fn is_running(&mut self) -> bool {
        self.inner.machine().is_running()
    }

    /// End QEMU cleanly (QMP `quit`, killed after a grace period) and return its
    /// exit code. Killed by a signal is an error naming it.
    pub fn shutdown(&mut self) -> Result<i32> {
        self.logs.line(&format!("[{}] shutdown", self.name));
        let left = self.deadline.saturating_duration_since(Instant::now());
        let info = self
            .inner
            .machine()
            .shutdown(
                kennel_vm::SHUTDOWN_GRACE
                    .min(left)
                    .max(Duration::from_secs(1)),
            )
            .map_err(|source| ErrorKind::Machine {
                machine: self.name.clone(),
                what: "shutting down".into(),
                source,
            })?;
        match info.code {
            Some(code) => {
                self.logs
                    .line(&format!("[{}] exited with code {code}", self.name));
                Ok(code)
            }
            None => Err(ErrorKind::Message(format!(
                "machine `{}` did not quit cleanly: killed by signal {}",
                self.name,
                kennel_vm::signal_name(info.signal.unwrap_or(0))
            ))
            .into()),
        }
    }

    /// Kill QEMU at once.
    pub fn kill(&mut self) -> Result<()> {
        self.logs.line(&format!("[{}] kill", self.name));
        self.inner
            .machine()
            .kill()
            .map(|_| ())
            .map_err(|source| ErrorKind::Machine {
                machine: self.name.clone(),
                what: "killing".into(),
                source,
            })
            .map_err(Error::from)
    }
}

fn regex_lite(text: &str) -> std::result::Result<regex::Regex, String> {
    regex::RegexBuilder::new(text)
        .multi_line(true)
        .build()
        .map_err(|e| format!("bad regex {text:?}: {e}"))
}
