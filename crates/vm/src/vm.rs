//! [`Vm`]: a running QEMU and, once its guest is up, the channel into it.

use std::path::Path;
use std::time::{Duration, Instant};

use kennel_machine::{ExitInfo, LogSink, Machine, MachineError, Pattern};

use crate::channel::{Channel, ChannelError, ChannelKind, CommandResult};
use crate::cloud::{CloudBoot, JobKey, GUEST_USER};
use crate::log::TestLog;
use crate::VmError;

/// A started machine: the QEMU process (QMP, console, output, lifecycle) and
/// the guest channel, when it has one. Dropping it kills QEMU.
pub struct Vm {
    name: String,
    machine: Machine,
    channel: Option<Channel>,
    phases: Vec<(&'static str, Duration)>,
    log: TestLog,
}

impl Vm {
    pub(crate) fn new(name: String, machine: Machine, log: TestLog) -> Vm {
        Vm {
            name,
            machine,
            channel: None,
            phases: Vec::new(),
            log,
        }
    }

    /// The machine's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The QEMU process: QMP, console, output, lifecycle.
    pub fn machine(&mut self) -> &mut Machine {
        &mut self.machine
    }

    /// The QEMU process, read-only.
    pub fn machine_ref(&self) -> &Machine {
        &self.machine
    }

    /// The channel `run` goes through, once the guest is up.
    pub fn channel(&self) -> Option<ChannelKind> {
        self.channel.as_ref().map(Channel::kind)
    }

    pub(crate) fn has_channel(&self) -> bool {
        self.channel.is_some()
    }

    pub(crate) fn set_channel(&mut self, channel: Channel) {
        self.channel = Some(channel);
    }

    /// How long the phases of the start took (`boot_to_phone_home`,
    /// `phone_home_to_ssh` for a cloud-init guest); empty for other machines.
    pub fn phases(&self) -> &[(&'static str, Duration)] {
        &self.phases
    }

    /// Run a shell command line in the guest through its channel, by `deadline`.
    /// A non-zero exit or a signal is a [`CommandResult`], not an error.
    pub fn run(&mut self, command: &str, deadline: Instant) -> Result<CommandResult, ChannelError> {
        let Some(channel) = self.channel.as_mut() else {
            return Err(self.no_channel());
        };
        let kind = channel.kind();
        self.log
            .line(&format!("run on `{}` ({kind}): {command}", self.name));
        let out = channel.run(&mut self.machine, command, deadline)?;
        let stdout = out.stdout.trim_end();
        let shown: String = stdout.chars().take(300).collect();
        let more = if shown.len() < stdout.len() {
            " ..."
        } else {
            ""
        };
        self.log.line(&format!(
            "`{}`: {}; stdout: {shown}{more}",
            self.name, out.status
        ));
        Ok(out)
    }

    /// Copy the host file `host_path` into the guest as `guest_path` (mode 0644).
    pub fn copy_in(
        &mut self,
        host_path: &Path,
        guest_path: &str,
        deadline: Instant,
    ) -> Result<(), ChannelError> {
        self.log.line(&format!(
            "copy {} -> `{}`:{guest_path}",
            host_path.display(),
            self.name
        ));
        match self.channel.as_mut() {
            Some(c) => c.copy_in(&mut self.machine, host_path, guest_path, deadline),
            None => Err(self.no_channel()),
        }
    }

    /// Copy the guest file `guest_path` to the host file `host_path`.
    pub fn copy_out(
        &mut self,
        guest_path: &str,
        host_path: &Path,
        deadline: Instant,
    ) -> Result<(), ChannelError> {
        self.log.line(&format!(
            "copy `{}`:{guest_path} -> {}",
            self.name,
            host_path.display()
        ));
        match self.channel.as_mut() {
            Some(c) => c.copy_out(&mut self.machine, guest_path, host_path, deadline),
            None => Err(self.no_channel()),
        }
    }

    /// End QEMU: QMP `quit`, killed after `grace`.
    pub fn shutdown(&mut self, grace: Duration) -> Result<ExitInfo, MachineError> {
        let exit = self.machine.shutdown(grace);
        match &exit {
            Ok(e) => self.log.line(&format!("stopped `{}`: {e}", self.name)),
            Err(e) => self
                .log
                .line(&format!("stopping `{}` failed: {e}", self.name)),
        }
        exit
    }

    /// Kill QEMU at once.
    pub fn kill(&mut self) -> Result<ExitInfo, MachineError> {
        self.machine.kill()
    }

    fn no_channel(&self) -> ChannelError {
        ChannelError::Unavailable {
            machine: self.name.clone(),
            what: "guest channel (no built-in guest, cloud-init or serial console)".into(),
        }
    }

    /// Wait until the built-in guest is up: its agent's handshake, or (without
    /// an agent) the ready marker its init prints on the console.
    pub(crate) fn wait_for_guest(
        &mut self,
        agent: bool,
        launched_at: Instant,
        deadline: Instant,
    ) -> Result<(), VmError> {
        let name = self.name.clone();
        let console = self
            .machine
            .console()
            .map_err(|e| VmError::Setup {
                machine: name.clone(),
                why: e.to_string(),
            })?
            .clone();
        let not_up = |why: String| VmError::NotUp {
            machine: name.clone(),
            why,
            console: console.last_lines(15),
        };
        if agent {
            let Some(stream) = self.machine.take_socket(crate::guest::AGENT_SOCKET) else {
                return Err(VmError::Setup {
                    machine: name.clone(),
                    why: "the agent's socket was not connected".into(),
                });
            };
            let client = kennel_agent::AgentClient::connect(stream, deadline)
                .map_err(|e| not_up(kennel_machine::error_chain(&e)))?;
            self.log.line(&format!(
                "guest `{name}` is up: agent {} on Linux {} after {} ms",
                client.ready_info().version,
                client.ready_info().kernel_release,
                launched_at.elapsed().as_millis()
            ));
            self.channel = Some(Channel::Agent(client));
        } else {
            let marker = Pattern::Text(kennel_guest::READY_MARKER.into());
            console
                .wait_for(&marker, deadline)
                .map_err(|e| not_up(e.to_string()))?;
            self.log.line(&format!(
                "guest `{name}` is up (console) after {} ms",
                launched_at.elapsed().as_millis()
            ));
            self.channel = Some(Channel::Console { commands: 0 });
        }
        Ok(())
    }

    /// Wait for a cloud-init guest to phone home, then open its SSH session;
    /// `cmdline` gets the `ssh` command a person reaches the guest with.
    pub(crate) fn wait_for_cloud(
        &mut self,
        boot: &CloudBoot,
        key: &JobKey,
        launched_at: Instant,
        deadline: Instant,
        cmdline: &LogSink,
    ) -> Result<(), VmError> {
        let name = self.name.clone();
        let ready =
            boot.wait_ready(&mut self.machine, &key.key, launched_at, deadline)
                .map_err(|problem| match problem {
                    crate::cloud::WaitProblem::Error(why) => VmError::Setup {
                        machine: name.clone(),
                        why,
                    },
                    crate::cloud::WaitProblem::NotUp(why)
                    | crate::cloud::WaitProblem::Died(why) => VmError::NotUp {
                        machine: name.clone(),
                        why,
                        console: String::new(),
                    },
                })?;
        self.log.line(&format!(
            "guest `{name}` phoned home after {} ms, SSH ready {} ms later (port {}, host key {})",
            ready.boot_to_phone_home.as_millis(),
            ready.phone_home_to_ssh.as_millis(),
            ready.port,
            ready.host_key.as_deref().unwrap_or("not sent, not pinned"),
        ));
        self.phases
            .push(("boot_to_phone_home", ready.boot_to_phone_home));
        self.phases
            .push(("phone_home_to_ssh", ready.phone_home_to_ssh));
        cmdline.write(
            format!(
                "# ssh -i {} -p {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null {GUEST_USER}@127.0.0.1\n",
                key.path.display(),
                ready.port,
            )
            .as_bytes(),
        );
        self.channel = Some(Channel::Ssh(ready.ssh));
        Ok(())
    }
}
