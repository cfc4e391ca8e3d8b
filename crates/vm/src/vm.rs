//! [`Vm`]: a running QEMU and, once its guest is up, the channel into it.

use std::path::Path;
use std::time::{Duration, Instant};

use kennel_machine::{Capture, ExitInfo, LogSink, Machine, MachineError, Pattern, WaitError};

use crate::channel::{Channel, ChannelError, ChannelKind, CommandResult};
use crate::cloud::{CloudBoot, CloudReady, JobKey, GUEST_USER};
use crate::log::TestLog;
use crate::warm::WarmError;
use crate::{SetupError, VmError};
use kennel_config::text::{shell_word, BlankLines};
use kennel_ssh::KeyPair;

/// A started machine: the QEMU process (QMP, console, output, lifecycle) and
/// the guest channel, when it has one. Dropping it kills QEMU.
pub struct Vm {
    name: String,
    machine: Machine,
    channel: Option<Channel>,
    phases: Vec<(&'static str, Duration)>,
    log: TestLog,
    start: crate::Start,
    /// What must be alike on both sides of a migration
    /// ([`crate::migrate::shape`]).
    shape: Vec<(&'static str, String)>,
}

impl Vm {
    pub(crate) fn new(name: String, machine: Machine, log: TestLog) -> Vm {
        Vm {
            name,
            machine,
            channel: None,
            phases: Vec::new(),
            log,
            start: crate::Start::Cold,
            shape: Vec::new(),
        }
    }

    /// The test's log.
    pub(crate) fn log(&self) -> &TestLog {
        &self.log
    }

    /// What must be alike on both sides of a migration.
    pub(crate) fn shape(&self) -> &[(&'static str, String)] {
        &self.shape
    }

    pub(crate) fn set_shape(&mut self, shape: Vec<(&'static str, String)>) {
        self.shape = shape;
    }

    /// The guest's channel, taken away (a migration moves it).
    pub(crate) fn take_channel(&mut self) -> Option<Channel> {
        self.channel.take()
    }

    /// How the machine started: booted, or restored from a template.
    pub fn start_kind(&self) -> &crate::Start {
        &self.start
    }

    pub(crate) fn set_start(&mut self, start: crate::Start) {
        self.start = start;
    }

    /// Record how long a phase of the start took (see [`Vm::phases`]).
    pub(crate) fn add_phase(&mut self, phase: &'static str, took: Duration) {
        self.phases.push((phase, took));
    }

    /// The agent's ready message, when the guest's channel is the agent.
    pub(crate) fn agent_ready(&self) -> Option<kennel_agent::ReadyInfo> {
        match &self.channel {
            Some(Channel::Agent(client)) => Some(client.ready_info().clone()),
            _ => None,
        }
    }

    /// After a restore: take over the agent's channel (it keeps serving in
    /// the restored guest; `ready` is what it said when the template booted),
    /// or use the console shell for a guest without an agent.
    pub(crate) fn reconnect(
        &mut self,
        ready: &crate::warm::Ready,
        deadline: Instant,
    ) -> Result<(), WarmError> {
        let ready = match ready {
            crate::warm::Ready::Agent(info) => info.clone(),
            crate::warm::Ready::Console => {
                self.channel = Some(Channel::Console { commands: 0 });
                return Ok(());
            }
            crate::warm::Ready::Ssh { .. } => return Err(WarmError::SshNotAgent),
        };
        let stream = self
            .machine
            .take_socket(crate::guest::AGENT_SOCKET)
            .ok_or(WarmError::NoAgentSocket)?;
        let client = kennel_agent::AgentClient::resume(stream, ready, deadline)
            .map_err(|e| WarmError::Agent(Box::new(e)))?;
        self.channel = Some(Channel::Agent(client));
        Ok(())
    }

    /// After a restore: make the guest its own: its clock set to the host's
    /// time, host random bytes mixed into its random pool (credited and the
    /// generator reseeded by an agent that can; else written to
    /// `/dev/urandom` through the shell).
    pub(crate) fn refresh_identity(&mut self, deadline: Instant) -> Result<String, WarmError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .map_err(WarmError::Clock)?;
        let mut seed = [0u8; 64];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut seed))
            .map_err(WarmError::Urandom)?;
        if let Some(Channel::Agent(client)) = &mut self.channel {
            if client
                .ready_info()
                .features
                .iter()
                .any(|f| f == kennel_agent::protocol::FEATURE_REFRESH)
            {
                client
                    .refresh(now, &seed)
                    .map_err(|e| WarmError::Agent(Box::new(e)))?;
                return Ok(
                    "clock set, 64 random bytes credited, generator reseeded (agent)".into(),
                );
            }
        }
        let ssh = matches!(self.channel, Some(Channel::Ssh(_)));
        let command = shell_refresh(now.as_secs(), &seed, ssh);
        let Some(channel) = self.channel.as_mut() else {
            return Err(WarmError::NoChannel);
        };
        let out = channel
            .run(&mut self.machine, &command, deadline)
            .map_err(|e| WarmError::Channel(Box::new(e)))?;
        if !out.success() {
            return Err(WarmError::Refresh {
                stderr: out.stderr.trim().to_owned(),
                status: out.status,
                command,
            });
        }
        if out.stdout.contains(RESEEDED) {
            return Ok(
                "clock set, 64 random bytes credited, generator reseeded (shell, python3)".into(),
            );
        }
        Ok("clock set, 64 random bytes mixed into /dev/urandom (shell; no python3 to reseed the generator)".into())
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
    /// `phone_home_to_ssh` for a cloud-init guest; for a warm start
    /// `warm_template` (finding or building it), `warm_launch` (QEMU started,
    /// QMP connected), `warm_load` (the state loaded, `cont`),
    /// `warm_channel` (the agent or shell taken over; `restore_to_ssh` for a
    /// cloud guest, from the launch), `warm_refresh` (clock and random
    /// bytes)); empty for other machines.
    pub fn phases(&self) -> &[(&'static str, Duration)] {
        &self.phases
    }

    /// Add this machine, just started, to `record` (`several`: the test has,
    /// or is known to have, several machines).
    pub fn record_start(&self, record: &mut kennel_results::StartRecord, several: bool) {
        let accel = self.machine_ref().accel();
        record.add_start(
            self.name(),
            self.start.kind(),
            self.start.template(),
            format!("{} ({})", accel.accel, accel.reason),
            self.phases(),
            several,
        );
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
    /// an agent) the ready marker its init prints on the console. The wait
    /// ends at once when QEMU exits or the console shows a failure pattern
    /// (a kernel panic), with the console's last lines in the error.
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
                source: SetupError::Console(Box::new(e)),
            })?
            .clone();
        if agent {
            let Some(stream) = self.machine.take_socket(crate::guest::AGENT_SOCKET) else {
                return Err(VmError::Setup {
                    machine: name.clone(),
                    source: SetupError::NoAgentSocket,
                });
            };
            let watch = FailureWatch::start(&stream, &console, deadline);
            let connected = kennel_agent::AgentClient::connect(stream, deadline);
            watch.stop();
            let client = match connected {
                Ok(client) => client,
                Err(e) => {
                    let why = kennel_machine::error_chain(&e);
                    return Err(self.not_up(&console, why));
                }
            };
            self.log.line(&format!(
                "guest `{name}` is up: agent {} on Linux {} after {} ms",
                client.ready_info().version,
                client.ready_info().kernel_release,
                launched_at.elapsed().as_millis()
            ));
            self.channel = Some(Channel::Agent(client));
        } else {
            let marker = Pattern::Text(kennel_guest::READY_MARKER.into());
            if let Err(e) = console.wait_for(&marker, deadline) {
                let why = match e {
                    WaitError::Timeout { what, .. } => format!("timed out waiting for {what}"),
                    WaitError::Closed { what, .. } => {
                        format!("the console closed before {what} appeared")
                    }
                    other => other
                        .to_string()
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                };
                return Err(self.not_up(&console, why));
            }
            self.log.line(&format!(
                "guest `{name}` is up (console) after {} ms",
                launched_at.elapsed().as_millis()
            ));
            self.channel = Some(Channel::Console { commands: 0 });
        }
        Ok(())
    }

    /// The guest did not come up because of `why`: the error names what the
    /// console showed last (its failure pattern's line, or its last line) and
    /// how QEMU ended, when it did, on its first line.
    fn not_up(&mut self, console: &Capture, why: String) -> VmError {
        let why = match console.failed() {
            Some(pattern) => format!("its console showed {pattern:?}"),
            None => why,
        };
        let exit = match self.machine.exit_info() {
            Some(exit) => {
                console.wait_closed(Instant::now() + Duration::from_millis(500));
                format!("; QEMU exited ({exit})")
            }
            None => String::new(),
        };
        let text = console.text();
        let seen = console
            .failed()
            .and_then(|p| text.lines().rev().find(|l| l.contains(&p)))
            .or_else(|| kennel_config::text::last_line(&text, BlankLines::Skip))
            .map(|line| format!("; console: {}", line.trim()))
            .unwrap_or_else(|| "; the console printed nothing".to_owned());
        VmError::NotUp {
            machine: self.name.clone(),
            why: format!("{why}{exit}{seen}"),
            console: console.last_lines(15),
        }
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
        let ready = self.wait_for_cloud_ready(boot, &key.key, launched_at, deadline)?;
        self.log.line(&format!(
            "guest `{}` phoned home after {} ms, SSH ready {} ms later (port {}, host key {})",
            self.name,
            ready.boot_to_phone_home.as_millis(),
            ready.phone_home_to_ssh.as_millis(),
            ready.port,
            ready.host_key.as_deref().unwrap_or("not sent, not pinned"),
        ));
        self.add_phase("boot_to_phone_home", ready.boot_to_phone_home);
        self.add_phase("phone_home_to_ssh", ready.phone_home_to_ssh);
        cmdline.write(ssh_line(key, ready.port).as_bytes());
        self.channel = Some(Channel::Ssh(ready.ssh));
        Ok(())
    }

    /// Wait for a cloud-init guest to phone home, then open an SSH session
    /// with `key`; a guest that does not is the machine's error.
    pub(crate) fn wait_for_cloud_ready(
        &mut self,
        boot: &CloudBoot,
        key: &KeyPair,
        launched_at: Instant,
        deadline: Instant,
    ) -> Result<CloudReady, VmError> {
        let name = self.name.clone();
        boot.wait_ready(&mut self.machine, key, launched_at, deadline)
            .map_err(|problem| match problem {
                crate::cloud::WaitProblem::Error(source) => VmError::Setup {
                    machine: name.clone(),
                    source,
                },
                crate::cloud::WaitProblem::NotUp(why) | crate::cloud::WaitProblem::Died(why) => {
                    VmError::NotUp {
                        machine: name.clone(),
                        why,
                        console: String::new(),
                    }
                }
            })
    }

    /// After a restore: reach the cloud guest's SSH server (on the port this
    /// QEMU forwards) with the template's `key`, its `host_key` pinned, and
    /// authorize the job's key for the guest user, so the job's key works
    /// as after a boot; `cmdline` gets the `ssh` command with the job's key.
    pub(crate) fn reconnect_ssh(
        &mut self,
        key: &KeyPair,
        host_key: Option<String>,
        job_key: &JobKey,
        deadline: Instant,
        cmdline: &LogSink,
    ) -> Result<(), VmError> {
        let name = self.name.clone();
        let setup = |source: SetupError| VmError::Setup {
            machine: name.clone(),
            source,
        };
        let port = crate::cloud::forwarded_ssh_port(&mut self.machine, deadline).map_err(setup)?;
        let ssh = crate::cloud::connect_ssh(port, key, host_key, deadline).map_err(|e| {
            setup(SetupError::TemplateSsh {
                port,
                source: Box::new(e),
            })
        })?;
        let public = job_key.key.public_openssh("kennel-job");
        let timeout = deadline.saturating_duration_since(Instant::now());
        let out = ssh
            .run(
                "umask 077 && mkdir -p ~/.ssh && cat >> ~/.ssh/authorized_keys",
                format!("{public}\n").as_bytes(),
                timeout,
            )
            .map_err(|e| setup(SetupError::AuthorizeKey(Box::new(e))))?;
        if !out.success() {
            return Err(setup(SetupError::AuthorizeKeyRefused {
                status: out.status_text(),
                stderr: out.stderr_text().trim().to_owned(),
            }));
        }
        cmdline.write(ssh_line(job_key, port).as_bytes());
        self.channel = Some(Channel::Ssh(ssh));
        Ok(())
    }
}

/// What [`RESEED_PY`] prints when it reseeded the guest's generator.
const RESEEDED: &str = "kennel-reseeded";

/// Credits the hex bytes of its argument to the kernel's random pool
/// (`RNDADDENTROPY`, whose number has the write bit where the architecture
/// puts it) and reseeds the generator at once (`RNDRESEEDCRNG`), as the agent's
/// `refresh` does: a write to `/dev/urandom` alone is only mixed in, and two
/// guests restored from one state would draw the same bytes until the kernel's
/// next reseed.
const RESEED_PY: &str = "import fcntl, os, platform, struct, sys
data = bytes.fromhex(sys.argv[1])
write = 0x80000000 if platform.machine().startswith(('ppc', 'mips', 'sparc')) else 0x40000000
fd = os.open('/dev/random', os.O_WRONLY)
fcntl.ioctl(fd, write | 8 << 16 | 0x5203, struct.pack('ii', len(data) * 8, len(data)) + data)
fcntl.ioctl(fd, 0x5207)
print('kennel-reseeded')
";

/// The shell command that sets the guest's clock to `secs` and feeds it
/// `seed`: written to `/dev/urandom`, and credited with a reseed when the guest
/// has python3 (cloud images do; the busybox guest does not). `sudo`: run as
/// the cloud user, through `sudo -n` (cloud-init gives it sudo).
fn shell_refresh(secs: u64, seed: &[u8], sudo: bool) -> String {
    let hex = kennel_config::text::hex(seed);
    let mut command = format!("date -u -s @{secs} >/dev/null && echo {hex} > /dev/urandom");
    if sudo {
        let program = shell_word(RESEED_PY);
        command = format!(
            "{command} && if command -v python3 >/dev/null; then python3 -c {program} {hex}; fi"
        );
        let quoted = shell_word(&command);
        command = format!("sudo -n sh -c {quoted}");
    }
    command
}

/// The `ssh` command a person reaches a cloud guest with, as a comment line
/// of `cmdline`.
fn ssh_line(key: &JobKey, port: u16) -> String {
    format!(
        "# ssh -i {} -p {port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null {GUEST_USER}@127.0.0.1\n",
        shell_word(&key.path.to_string_lossy()),
    )
}

/// Ends a wait on the agent's socket early: when the console shows a failure
/// pattern (a kernel panic that does not end QEMU), the socket is shut down,
/// so the agent's handshake fails at once instead of at its deadline. QEMU
/// exiting closes the socket by itself.
struct FailureWatch {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FailureWatch {
    /// How often the console is looked at.
    const EVERY: Duration = Duration::from_millis(50);

    fn start(
        stream: &std::os::unix::net::UnixStream,
        console: &Capture,
        deadline: Instant,
    ) -> FailureWatch {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = stream.try_clone().ok().map(|socket| {
            let console = console.clone();
            let done = std::sync::Arc::clone(&done);
            std::thread::spawn(move || {
                while !done.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
                    if console.failed().is_some() {
                        let _ = socket.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                    std::thread::sleep(Self::EVERY);
                }
            })
        });
        FailureWatch { done, thread }
    }

    fn stop(mut self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
