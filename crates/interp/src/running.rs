//! The seam where the interpreter meets a machine: [`RunningMachine`], the
//! operations the steps and the case use on a launched machine, and
//! [`MachineLauncher`], how one is launched.
//!
//! [`VmLauncher`] launches through the machine core ([`kennel_vm::prepare`]
//! then [`kennel_vm::Plan::start`]) and its [`Vm`] is the running machine;
//! the interpreter's unit tests script both instead, without QEMU.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kennel_machine::{Capture, CommandError, ExitInfo, MachineError, QmpError, RgbImage};
use kennel_results::StartRecord;
use kennel_spec::keys::{KeyCombo, MouseAction};
use kennel_spec::Value;
use kennel_vm::Workspace;
use kennel_vm::{
    Artifacts, ChannelError, CommandResult, Deadlines, InputError, MachineDesc, Vm, VmError,
};

/// Why a QMP or HMP call did not get an answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum QmpCallError {
    /// The machine has no monitor to talk to, or QEMU has exited.
    #[error(transparent)]
    NoMonitor(MachineError),
    /// The exchange itself failed: a timeout, QEMU went away or spoke garbage.
    #[error(transparent)]
    Exchange(QmpError),
}

/// A launched machine, as the steps and the case drive it.
pub(crate) trait RunningMachine {
    /// Whether QEMU is still alive.
    fn is_running(&mut self) -> bool;

    /// "QEMU has exited (exit code 1); last output: ..." for messages.
    fn exited_description(&mut self) -> String;

    /// Run a QMP command by `deadline`: QEMU's answer, success or error.
    fn qmp_execute(
        &mut self,
        command: &str,
        args: Option<&Value>,
        deadline: Instant,
    ) -> Result<Result<Value, CommandError>, QmpCallError>;

    /// Run an HMP command line by `deadline`: its output.
    fn hmp(&mut self, command: &str, deadline: Instant) -> Result<String, QmpCallError>;

    /// Wait for the event `name` (matching `pattern`, a recursive subset) by
    /// `deadline`; events QEMU sent before it exited count.
    fn wait_event(
        &mut self,
        name: &str,
        pattern: Option<&Value>,
        deadline: Instant,
    ) -> Result<Value, QmpCallError>;

    /// The events received and not consumed yet.
    fn pending_events(&self) -> Vec<Value>;

    /// The captured console.
    fn console(&self) -> Result<&Capture, MachineError>;

    /// Write to the console.
    fn console_write(&mut self, bytes: &[u8]) -> Result<(), MachineError>;

    /// QEMU's stdout and stderr together.
    fn output(&self) -> &Capture;

    /// QEMU's stdout.
    fn stdout(&self) -> &Capture;

    /// QEMU's stderr.
    fn stderr(&self) -> &Capture;

    /// Run a command line in the guest through its channel, by `deadline`.
    fn run(&mut self, command: &str, deadline: Instant) -> Result<CommandResult, ChannelError>;

    /// Press each combination of `combos` in turn on the machine's keyboard,
    /// by `deadline`.
    fn send_keys(&mut self, combos: &[KeyCombo], deadline: Instant) -> Result<(), InputError>;

    /// Move the pointer to a pixel and click, as `action` says, by `deadline`.
    fn mouse(&mut self, action: &MouseAction, deadline: Instant) -> Result<(), InputError>;

    /// Wait for QEMU to exit by itself by `deadline`.
    fn wait_exit(&mut self, deadline: Instant) -> Result<ExitInfo, MachineError>;

    /// QMP `quit`, QEMU killed after `grace`.
    fn shutdown(&mut self, grace: Duration) -> Result<ExitInfo, MachineError>;

    /// Kill QEMU at once.
    fn kill(&mut self) -> Result<ExitInfo, MachineError>;

    /// Add this machine, just started, to `record`.
    fn record_start(&self, record: &mut StartRecord, several: bool);

    /// Write the failure artifacts into `dir`: the files written.
    fn collect_artifacts(&mut self, dir: &Path, what: Artifacts) -> Vec<PathBuf>;

    /// Save the screen as PNG at `path` (QMP `screendump`).
    fn screendump(&mut self, path: &Path, deadline: Instant) -> Result<(), MachineError>;

    /// The screen's pixels now.
    fn screen(&mut self, deadline: Instant) -> Result<RgbImage, MachineError>;

    /// Stop the machine at the end of the test, if it still runs.
    fn stop(&mut self);

    /// The machine core's machine, for `--pause-on-failure`.
    fn as_vm(&self) -> Option<&Vm>;

    /// The machine core's machine, for a migration.
    fn as_vm_mut(&mut self) -> Option<&mut Vm>;
}

/// How the interpreter launches a machine and waits for its guest.
pub(crate) trait MachineLauncher {
    /// Prepare and start the machine `desc` in `workspace`, every wait
    /// bounded by `deadlines`.
    fn launch(
        &self,
        desc: MachineDesc,
        workspace: &Workspace,
        deadlines: Deadlines,
    ) -> Result<Box<dyn RunningMachine>, VmError>;
}

/// Launches through the machine core.
pub(crate) struct VmLauncher;

impl MachineLauncher for VmLauncher {
    fn launch(
        &self,
        desc: MachineDesc,
        workspace: &Workspace,
        deadlines: Deadlines,
    ) -> Result<Box<dyn RunningMachine>, VmError> {
        let vm = kennel_vm::prepare(desc, workspace)?.start(deadlines)?;
        Ok(Box::new(vm))
    }
}

impl RunningMachine for Vm {
    fn is_running(&mut self) -> bool {
        self.machine().is_running()
    }

    fn exited_description(&mut self) -> String {
        self.machine().exited_description()
    }

    fn qmp_execute(
        &mut self,
        command: &str,
        args: Option<&Value>,
        deadline: Instant,
    ) -> Result<Result<Value, CommandError>, QmpCallError> {
        let qmp = self.machine().qmp().map_err(QmpCallError::NoMonitor)?;
        qmp.execute_raw(command, args, deadline)
            .map_err(QmpCallError::Exchange)
    }

    fn hmp(&mut self, command: &str, deadline: Instant) -> Result<String, QmpCallError> {
        let qmp = self.machine().qmp().map_err(QmpCallError::NoMonitor)?;
        qmp.hmp(command, deadline).map_err(QmpCallError::Exchange)
    }

    fn wait_event(
        &mut self,
        name: &str,
        pattern: Option<&Value>,
        deadline: Instant,
    ) -> Result<Value, QmpCallError> {
        let machine = self.machine();
        match machine.qmp_client() {
            Some(qmp) => qmp
                .wait_event(name, pattern, deadline)
                .map_err(QmpCallError::Exchange),
            // No client at all: `Machine::qmp` says why.
            None => Err(QmpCallError::NoMonitor(machine.qmp().err().unwrap_or_else(
                || MachineError::NoQmp {
                    machine: String::new(),
                    why: String::new(),
                },
            ))),
        }
    }

    fn pending_events(&self) -> Vec<Value> {
        self.machine_ref()
            .qmp_client()
            .map(|q| q.pending_events())
            .unwrap_or_default()
    }

    fn console(&self) -> Result<&Capture, MachineError> {
        self.machine_ref().console()
    }

    fn console_write(&mut self, bytes: &[u8]) -> Result<(), MachineError> {
        self.machine().console_write(bytes)
    }

    fn output(&self) -> &Capture {
        self.machine_ref().output()
    }

    fn stdout(&self) -> &Capture {
        self.machine_ref().stdout()
    }

    fn stderr(&self) -> &Capture {
        self.machine_ref().stderr()
    }

    fn run(&mut self, command: &str, deadline: Instant) -> Result<CommandResult, ChannelError> {
        Vm::run(self, command, deadline)
    }

    fn send_keys(&mut self, combos: &[KeyCombo], deadline: Instant) -> Result<(), InputError> {
        Vm::send_keys(self, combos, deadline)
    }

    fn mouse(&mut self, action: &MouseAction, deadline: Instant) -> Result<(), InputError> {
        Vm::mouse(self, action, deadline)
    }

    fn wait_exit(&mut self, deadline: Instant) -> Result<ExitInfo, MachineError> {
        self.machine().wait_exit(deadline)
    }

    fn shutdown(&mut self, grace: Duration) -> Result<ExitInfo, MachineError> {
        self.machine().shutdown(grace)
    }

    fn kill(&mut self) -> Result<ExitInfo, MachineError> {
        Vm::kill(self)
    }

    fn record_start(&self, record: &mut StartRecord, several: bool) {
        Vm::record_start(self, record, several)
    }

    fn collect_artifacts(&mut self, dir: &Path, what: Artifacts) -> Vec<PathBuf> {
        Vm::collect_artifacts(self, dir, what)
    }

    fn screendump(&mut self, path: &Path, deadline: Instant) -> Result<(), MachineError> {
        self.machine().screendump(path, deadline)
    }

    fn screen(&mut self, deadline: Instant) -> Result<RgbImage, MachineError> {
        self.machine().screen(deadline)
    }

    fn stop(&mut self) {
        if self.machine().is_running() {
            let _ = Vm::shutdown(self, kennel_vm::SHUTDOWN_GRACE);
        }
    }

    fn as_vm(&self) -> Option<&Vm> {
        Some(self)
    }

    fn as_vm_mut(&mut self) -> Option<&mut Vm> {
        Some(self)
    }
}
