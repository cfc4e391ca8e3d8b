//! [`Vm`]: one QEMU, driven through QMP, its console and a command channel
//! into the guest (the agent of the built-in guest, a shell on the serial
//! console, or SSH into a cloud-init guest). A thin layer over the machine
//! core (`kennel-vm`), which declarative tests use too; made by
//! [`MachineBuilder`](crate::MachineBuilder).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kennel_machine::{CommandError, Machine, MachineError, Pattern, QmpError, Value};
use kennel_vm::{ChannelKind, CommandResult};

use crate::error::{Error, ErrorKind, Result};
use crate::test::Logs;

/// What a guest command did ([`Vm::run`]): the machine core's one command
/// result, whatever channel carried it.
pub type Output = CommandResult;

/// A running QEMU. Dropping it kills QEMU (use [`Vm::shutdown`] for a clean end).
///
/// Every call logs a line into the test's `test.log`; the QMP exchanges go to
/// `qmp.log`, the console to `console.log`, QEMU's own output to `qemu.log`.
pub struct Vm {
    pub(crate) name: String,
    pub(crate) inner: kennel_vm::Vm,
    pub(crate) logs: Logs,
    pub(crate) deadline: Instant,
    /// A call failed (and whether it timed out): the failure artifacts are
    /// collected when the machine is dropped.
    failed: Option<bool>,
    /// The first failed call's error, for the pause's message.
    failure: Option<String>,
    pub(crate) logdir: PathBuf,
    /// The test's private scratch folder (a migration's socket goes there).
    pub(crate) scratch: PathBuf,
    /// `screen` waits so far, to name their images.
    pub(crate) screen_waits: u32,
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
    pub(crate) fn new(
        name: String,
        inner: kennel_vm::Vm,
        logs: Logs,
        deadline: Instant,
        logdir: PathBuf,
        scratch: PathBuf,
    ) -> Vm {
        Vm {
            name,
            inner,
            logs,
            deadline,
            failed: None,
            failure: None,
            logdir,
            scratch,
            screen_waits: 0,
        }
    }

    /// The machine's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The machine core's machine, for the calls in other modules.
    pub(crate) fn core(&mut self) -> &mut kennel_vm::Vm {
        &mut self.inner
    }

    /// When the test's time runs out: every call's waits end by then.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// A line `[name] what` in the test's `test.log`.
    pub(crate) fn log_line(&self, what: &str) {
        self.logs.line(&format!("[{}] {what}", self.name));
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

    /// Pull the machine's cable on the test's network `network` (`up =
    /// false`) or put it back (`true`), as a `link` step does: QMP
    /// `set_link` on its NIC there; the guest sees its link go down or up.
    pub fn set_link(&mut self, network: &str, up: bool) -> Result<()> {
        let state = if up { "in" } else { "out" };
        self.logs
            .line(&format!("[{}] cable on `{network}` {state}", self.name));
        let name = kennel_vm::network::device_id(network);
        self.qmp("set_link", serde_json::json!({ "name": name, "up": up }))
            .map(|_| ())
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
        let re = regex::RegexBuilder::new(regex)
            .multi_line(true)
            .build()
            .map_err(|source| ErrorKind::Regex {
                pattern: regex.to_owned(),
                source,
            })?;
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
    pub(crate) fn noted<T>(&mut self, r: Result<T>) -> Result<T> {
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
