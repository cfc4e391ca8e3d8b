//! [`MachineBuilder`] and [`Vm`]: one QEMU, driven through QMP, its console and
//! a command channel into the guest: the agent of the built-in guest, or SSH
//! into a cloud-init guest.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kennel_agent::AgentClient;
use kennel_machine::{
    Accel, CommandError, Machine, MachineConfig, MachineError, Pattern, QmpError, Transcript, Value,
};

use crate::error::{Error, ErrorKind, Result};
use crate::test::Logs;

/// How long a booting built-in guest may take before its agent answers.
const GUEST_BOOT_LIMIT: Duration = Duration::from_secs(120);
/// How long `shutdown` waits for QEMU to quit before killing it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The options of one machine, as in a declarative `[machine]` table. Made by
/// [`Test::machine`](crate::Test::machine); [`MachineBuilder::launch`] starts it.
#[must_use = "a machine builder does nothing until `.launch()`"]
pub struct MachineBuilder {
    config: MachineConfig,
    guest: bool,
    named: bool,
    logs: Logs,
    deadline: Instant,
    image: Option<ImageSource>,
    cloud_init: Option<Option<String>>,
    scratch: PathBuf,
    key_dir: PathBuf,
}

/// Where a machine's disk image comes from.
enum ImageSource {
    Path(PathBuf),
    Cloud(String),
}

impl MachineBuilder {
    pub(crate) fn new(
        name: String,
        logs: Logs,
        deadline: Instant,
        scratch: PathBuf,
        key_dir: PathBuf,
    ) -> MachineBuilder {
        MachineBuilder {
            config: MachineConfig::new(name),
            guest: false,
            named: false,
            logs,
            deadline,
            image: None,
            cloud_init: None,
            scratch,
            key_dir,
        }
    }

    /// The machine's name, used in messages and to prefix its log lines.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self.named = true;
        self
    }

    /// The target architecture (`x86_64`, `aarch64`, ...); the host's by default.
    pub fn arch(mut self, arch: impl Into<String>) -> Self {
        self.config.arch = Some(arch.into());
        self
    }

    /// The QEMU binary; by default `$QEMU_TEST_QEMU_BINARY`, else
    /// `qemu-system-<arch>` on `PATH`.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.binary = Some(path.into());
        self
    }

    /// `-machine TYPE` (`pc`, `q35`, `virt`, `none`...).
    pub fn machine_type(mut self, machine_type: impl Into<String>) -> Self {
        self.config.machine_type = Some(machine_type.into());
        self
    }

    /// The accelerator: `auto` (the default: KVM when usable, else TCG), `kvm`,
    /// `tcg`, ...
    pub fn accel(mut self, accel: &str) -> Self {
        self.config.accel = Accel::parse(accel);
        self
    }

    /// `-smp N`.
    pub fn cpus(mut self, cpus: u64) -> Self {
        self.config.cpus = Some(cpus);
        self
    }

    /// `-m SIZE` (`"256M"`).
    pub fn memory(mut self, size: impl Into<String>) -> Self {
        self.config.memory = Some(size.into());
        self
    }

    /// `-kernel FILE`; with [`MachineBuilder::guest_busybox`], the kernel the
    /// built-in guest is built around (a file or a `linux-image-*.deb`).
    pub fn kernel(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.kernel = Some(path.into());
        self
    }

    /// `-initrd FILE`.
    pub fn initrd(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.initrd = Some(path.into());
        self
    }

    /// `-append TEXT` (added to the built-in guest's own command line).
    pub fn append(mut self, text: impl Into<String>) -> Self {
        self.config.append = Some(text.into());
        self
    }

    /// More QEMU arguments, appended as given.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config
            .extra_args
            .extend(args.into_iter().map(Into::into));
        self
    }

    /// Capture the serial console (for [`Vm::console_wait`]); on by default with
    /// a kernel.
    pub fn console(mut self, on: bool) -> Self {
        self.config.console = on;
        self
    }

    /// `-incoming URI` (`"defer"` for a migration target set up by
    /// `migrate-incoming`).
    pub fn incoming(mut self, uri: impl Into<String>) -> Self {
        self.config.incoming = Some(uri.into());
        self
    }

    /// Boot the built-in guest (busybox, the host kernel, the kennel agent), as
    /// `guest = "busybox"` does: `launch` returns once the agent answers, and
    /// [`Vm::run`] runs commands in it. Needs `kennel-agent` built
    /// (`cargo build -p kennel-agent`) or `$KENNEL_AGENT`; without it the test
    /// is skipped.
    pub fn guest_busybox(mut self) -> Self {
        self.guest = true;
        self
    }

    /// Boot this disk image through a private qcow2 overlay (the image itself
    /// is never written), as `image = "..."` does.
    pub fn image(mut self, path: impl Into<PathBuf>) -> Self {
        self.image = Some(ImageSource::Path(path.into()));
        self
    }

    /// Boot a distribution's cloud image, e.g. `"debian 12 amd64 genericcloud"`,
    /// `"ubuntu 24.04 amd64"`, `"fedora 41 x86_64"`: resolved to a URL and
    /// checksum from the distribution's checksum files (or the mirror in
    /// `KENNEL_IMAGE_MIRROR`), fetched once into the asset cache, verified, and
    /// booted through a private overlay.
    pub fn cloud_image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(ImageSource::Cloud(image.into()));
        self
    }

    /// Seed the guest with cloud-init (NoCloud): a per-test instance id, the
    /// job's SSH key for the user `kennel`, and a phone-home URL. `launch`
    /// returns once the guest phoned home and SSH works; [`Vm::run`] then runs
    /// commands over SSH.
    pub fn cloud_init(mut self) -> Self {
        self.cloud_init = Some(None);
        self
    }

    /// [`MachineBuilder::cloud_init`] with user-data of the test's own
    /// (`#cloud-config ...`), merged after kennel's (lists are appended).
    pub fn cloud_init_user_data(mut self, user_data: impl Into<String>) -> Self {
        self.cloud_init = Some(Some(user_data.into()));
        self
    }

    /// Start QEMU and connect QMP (and, with the built-in guest or cloud-init,
    /// wait for the guest to come up), all before the test's deadline.
    pub fn launch(self) -> Result<Vm> {
        let MachineBuilder {
            mut config,
            guest,
            named,
            logs,
            deadline,
            image,
            cloud_init,
            scratch,
            key_dir,
        } = self;
        let name = config.name.clone();
        if config.kernel.is_some() && !guest {
            config.console = true;
        }
        if guest {
            let arch = config.target_arch();
            let (image, agent) =
                kennel_runner::interpret::build_guest(&arch, config.kernel.as_deref()).map_err(
                    |why| ErrorKind::Guest {
                        machine: name.clone(),
                        why,
                    },
                )?;
            if !agent {
                return Err(ErrorKind::Skip(format!(
                    "machine `{name}`: no kennel-agent for the built-in guest \
                     (run `cargo build -p kennel-agent`, or set KENNEL_AGENT)"
                ))
                .into());
            }
            logs.line(&format!(
                "[{name}] guest: kernel {} ({}), initrd {}",
                image.kernel.display(),
                image.kernel_release,
                image.initrd.display()
            ));
            kennel_runner::interpret::apply_guest(&mut config, &image, agent);
        }
        let cloud = prepare_cloud(&config, image, cloud_init, &scratch, &key_dir, &logs)?;
        if let Some((boot, _)) = &cloud {
            boot.apply(&mut config);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        config.launch_timeout = config.launch_timeout.min(left);
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
        let launched_at = Instant::now();
        let mut machine = config.launch().map_err(|source| ErrorKind::Launch {
            machine: name.clone(),
            source,
        })?;
        logs.line(&format!("[{name}] launched: {}", machine.cmdline()));
        let mut agent = None;
        if guest {
            let Some(stream) = machine.take_socket(kennel_runner::interpret::GUEST_AGENT_SOCKET)
            else {
                return Err(ErrorKind::Guest {
                    machine: name,
                    why: "the agent's socket was not connected".into(),
                }
                .into());
            };
            let boot_deadline = (Instant::now() + GUEST_BOOT_LIMIT).min(deadline);
            let client = AgentClient::connect(stream, boot_deadline).map_err(|source| {
                ErrorKind::GuestNotUp {
                    machine: name.clone(),
                    console: machine
                        .console()
                        .map(|c| c.last_lines(15))
                        .unwrap_or_default(),
                    source,
                }
            })?;
            logs.line(&format!(
                "[{name}] guest is up: agent {} on Linux {} after {} ms",
                client.ready_info().version,
                client.ready_info().kernel_release,
                launched_at.elapsed().as_millis()
            ));
            agent = Some(client);
        }
        let mut ssh = None;
        let mut phases = Vec::new();
        if let Some((boot, Some(key))) = &cloud {
            let ready = boot
                .wait_ready(&mut machine, &key.key, launched_at, deadline)
                .map_err(|problem| match problem {
                    kennel_runner::cloud::WaitProblem::Error(why) => ErrorKind::Cloud {
                        machine: name.clone(),
                        why,
                    },
                    kennel_runner::cloud::WaitProblem::NotUp(why)
                    | kennel_runner::cloud::WaitProblem::Died(why) => ErrorKind::CloudNotUp {
                        machine: name.clone(),
                        why,
                    },
                })?;
            logs.line(&format!(
                "[{name}] guest phoned home after {} ms, SSH ready {} ms later; reproduce with: ssh -i {} -p {} {}@127.0.0.1",
                ready.boot_to_phone_home.as_millis(),
                ready.phone_home_to_ssh.as_millis(),
                key.path.display(),
                ready.port,
                kennel_runner::cloud::GUEST_USER,
            ));
            phases.push(("boot_to_phone_home", ready.boot_to_phone_home));
            phases.push(("phone_home_to_ssh", ready.phone_home_to_ssh));
            ssh = Some(ready.ssh);
        }
        Ok(Vm {
            name,
            machine,
            agent,
            ssh,
            phases,
            logs,
            deadline,
        })
    }
}

/// Resolve (or fetch) the image, make the overlay and the seed.
fn prepare_cloud(
    config: &MachineConfig,
    image: Option<ImageSource>,
    cloud_init: Option<Option<String>>,
    scratch: &Path,
    key_dir: &Path,
    logs: &Logs,
) -> Result<
    Option<(
        kennel_runner::cloud::CloudBoot,
        Option<kennel_runner::cloud::JobKey>,
    )>,
> {
    if image.is_none() && cloud_init.is_none() {
        return Ok(None);
    }
    let name = config.name.clone();
    let cloud_error = |why: String| ErrorKind::Cloud {
        machine: name.clone(),
        why,
    };
    let image = match image {
        None => None,
        Some(ImageSource::Path(p)) => Some(p),
        Some(ImageSource::Cloud(text)) => Some(fetch_cloud_image(&text).map_err(&cloud_error)?),
    };
    let key = match cloud_init {
        Some(_) => Some(kennel_runner::cloud::job_key(key_dir).map_err(&cloud_error)?),
        None => None,
    };
    let qemu_img = kennel_cloud::find_qemu_img(config.qemu_option.as_deref());
    let boot = kennel_runner::cloud::prepare(&kennel_runner::cloud::CloudRequest {
        machine: &name,
        image: image.as_deref(),
        cloud_init,
        scratch,
        qemu_img: &qemu_img,
        key: key.as_ref(),
    })
    .map_err(&cloud_error)?;
    if let (Some(overlay), Some(image)) = (&boot.overlay, &image) {
        logs.line(&format!(
            "[{name}] overlay {} over {}",
            overlay.display(),
            image.display()
        ));
    }
    if let Some(seed) = &boot.seed {
        logs.line(&format!(
            "[{name}] cloud-init seed {} (instance {})",
            seed.path.display(),
            seed.instance_id
        ));
    }
    Ok(Some((boot, key)))
}

/// A distribution's cloud image, resolved and in the asset cache.
fn fetch_cloud_image(text: &str) -> std::result::Result<PathBuf, String> {
    let offline = std::env::var_os("KENNEL_NO_DOWNLOAD").is_some_and(|v| v == "1");
    let declared = kennel_spec::AssetSpec {
        name: "image".into(),
        line: 0,
        source: kennel_spec::AssetSource::Cloud(kennel_spec::Template::from_text(text)),
        hash: None,
        uncompress: false,
        extract: None,
    };
    let spec = kennel_runner::cloud::resolve_cloud_asset(&declared, text, offline)?;
    let cache =
        kennel_assets::Cache::new(kennel_assets::Cache::default_dir().map_err(|e| e.to_string())?);
    let policy = kennel_assets::FetchPolicy {
        offline,
        allow_unverified: false,
    };
    cache
        .resolve(
            &spec,
            Path::new("."),
            &policy,
            &mut kennel_assets::no_progress,
        )
        .map_err(|e| kennel_runner::error_chain(&e))
}

/// What a guest command did: [`Vm::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Its standard output, as text (invalid UTF-8 replaced).
    pub stdout: String,
    /// Its standard error, as text.
    pub stderr: String,
    /// Its exit code; `None` when a signal killed it.
    pub exit_code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
}

impl Output {
    /// It exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    fn status(&self) -> String {
        match (self.exit_code, self.signal) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            (None, None) => "no exit status".into(),
        }
    }
}

/// A running QEMU. Dropping it kills QEMU (use [`Vm::shutdown`] for a clean end).
///
/// Every call logs a line into the test's `test.log`; the QMP exchanges go to
/// `qmp.log`, the console to `console.log`, QEMU's own output to `qemu.log`.
pub struct Vm {
    name: String,
    machine: Machine,
    agent: Option<AgentClient>,
    ssh: Option<kennel_ssh::Session>,
    phases: Vec<(&'static str, Duration)>,
    logs: Logs,
    deadline: Instant,
}

impl Vm {
    /// The machine's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The underlying [`kennel_machine::Machine`], for what this API does not cover.
    pub fn machine(&mut self) -> &mut Machine {
        &mut self.machine
    }

    fn qmp_raw(&mut self, command: &str, args: &Value) -> Result<Result<Value, CommandError>> {
        let args = (!args.is_null()).then_some(args);
        match args {
            Some(a) => self
                .logs
                .line(&format!("[{}] qmp {command} {a}", self.name)),
            None => self.logs.line(&format!("[{}] qmp {command}", self.name)),
        }
        let deadline = self.deadline;
        let qmp = self.machine.qmp().map_err(|source| ErrorKind::Machine {
            machine: self.name.clone(),
            what: format!("QMP `{command}`"),
            source,
        })?;
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
        self.logs
            .line(&format!("[{}] hmp {command_line}", self.name));
        let deadline = self.deadline;
        let qmp = self.machine.qmp().map_err(|source| ErrorKind::Machine {
            machine: self.name.clone(),
            what: format!("HMP `{command_line}`"),
            source,
        })?;
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
        let pattern = (!matching.is_null()).then_some(&matching);
        self.logs
            .line(&format!("[{}] wait for event {name}", self.name));
        let deadline = self.deadline;
        let qmp = self.machine.qmp().map_err(|source| ErrorKind::Machine {
            machine: self.name.clone(),
            what: format!("waiting for event {name}"),
            source,
        })?;
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
        self.logs
            .line(&format!("[{}] wait for console {pattern}", self.name));
        let what = || format!("waiting for console {pattern}");
        let console = self
            .machine
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
        self.machine
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
    /// goes through the agent of the built-in guest or over SSH into a
    /// cloud-init guest: the same call either way.
    pub fn run(&mut self, command: &str) -> Result<Output> {
        self.logs.line(&format!("[{}] run {command}", self.name));
        let timeout = self.deadline.saturating_duration_since(Instant::now());
        let out = if let Some(ssh) = self.ssh.as_ref() {
            let out = ssh
                .run(command, b"", timeout)
                .map_err(|source| ErrorKind::Ssh {
                    machine: self.name.clone(),
                    command: command.to_string(),
                    source,
                })?;
            Output {
                stdout: out.stdout_text(),
                stderr: out.stderr_text(),
                exit_code: out.exit_code,
                signal: out.signal.as_deref().map(signal_number),
            }
        } else if let Some(agent) = self.agent.as_mut() {
            let out = agent
                .run(command, timeout)
                .map_err(|source| ErrorKind::Agent {
                    machine: self.name.clone(),
                    command: command.to_string(),
                    source,
                })?;
            Output {
                stdout: out.stdout_text(),
                stderr: out.stderr_text(),
                exit_code: out.exit_code,
                signal: out.signal,
            }
        } else {
            return Err(ErrorKind::NoAgent {
                machine: self.name.clone(),
            }
            .into());
        };
        self.logs.line(&format!(
            "[{}] {}; stdout: {}",
            self.name,
            out.status(),
            out.stdout.trim_end()
        ));
        Ok(out)
    }

    /// [`Vm::run`], requiring exit code 0; returns the standard output.
    pub fn run_ok(&mut self, command: &str) -> Result<String> {
        let out = self.run(command)?;
        if out.success() {
            Ok(out.stdout)
        } else {
            Err(ErrorKind::CommandFailed {
                machine: self.name.clone(),
                command: command.to_string(),
                status: out.status(),
                stderr: out.stderr.trim_end().to_string(),
            }
            .into())
        }
    }

    /// Copy the host file `host_path` into the guest as `guest_path` (mode
    /// 0644), through the guest's command channel (agent or SSH).
    pub fn copy_in(&mut self, host_path: &Path, guest_path: &str) -> Result<()> {
        self.logs.line(&format!(
            "[{}] copy {} -> guest:{guest_path}",
            self.name,
            host_path.display()
        ));
        let what = format!("copy to {guest_path}");
        if let Some(ssh) = self.ssh.as_ref() {
            let data = std::fs::read(host_path).map_err(|source| ErrorKind::Io {
                what: format!("reading {}", host_path.display()),
                source,
            })?;
            let timeout = self.deadline.saturating_duration_since(Instant::now());
            return ssh
                .copy_in(&data, guest_path, 0o644, timeout)
                .map_err(|source| self.ssh_error(what, source));
        }
        match self.agent.as_mut() {
            Some(agent) => agent
                .copy_in(host_path, guest_path, 0o644)
                .map_err(|source| self.agent_error(what, source)),
            None => Err(self.no_channel()),
        }
    }

    /// Copy the guest file `guest_path` to the host file `host_path`, through
    /// the guest's command channel (agent or SSH).
    pub fn copy_out(&mut self, guest_path: &str, host_path: &Path) -> Result<()> {
        self.logs.line(&format!(
            "[{}] copy guest:{guest_path} -> {}",
            self.name,
            host_path.display()
        ));
        let what = format!("copy from {guest_path}");
        if let Some(ssh) = self.ssh.as_ref() {
            let timeout = self.deadline.saturating_duration_since(Instant::now());
            let data = ssh
                .copy_out(guest_path, timeout)
                .map_err(|source| self.ssh_error(what, source))?;
            return std::fs::write(host_path, data).map_err(|source| {
                ErrorKind::Io {
                    what: format!("writing {}", host_path.display()),
                    source,
                }
                .into()
            });
        }
        match self.agent.as_mut() {
            Some(agent) => agent
                .copy_out(guest_path, host_path)
                .map(|_| ())
                .map_err(|source| self.agent_error(what, source)),
            None => Err(self.no_channel()),
        }
    }

    /// How long the phases of a cloud-init guest's start took:
    /// `boot_to_phone_home` (launch to the guest's phone-home) and
    /// `phone_home_to_ssh` (to a working SSH session). Empty for other machines.
    pub fn phases(&self) -> &[(&'static str, Duration)] {
        &self.phases
    }

    fn ssh_error(&self, command: String, source: kennel_ssh::SshError) -> Error {
        ErrorKind::Ssh {
            machine: self.name.clone(),
            command,
            source,
        }
        .into()
    }

    fn agent_error(&self, command: String, source: kennel_agent::AgentError) -> Error {
        ErrorKind::Agent {
            machine: self.name.clone(),
            command,
            source,
        }
        .into()
    }

    fn no_channel(&self) -> Error {
        ErrorKind::NoAgent {
            machine: self.name.clone(),
        }
        .into()
    }

    /// QEMU is still running.
    pub fn is_running(&mut self) -> bool {
        self.machine.is_running()
    }

    /// End QEMU cleanly (QMP `quit`, killed after a grace period) and return its
    /// exit code. Killed by a signal is an error naming it.
    pub fn shutdown(&mut self) -> Result<i32> {
        self.logs.line(&format!("[{}] shutdown", self.name));
        let left = self.deadline.saturating_duration_since(Instant::now());
        let info = self
            .machine
            .shutdown(SHUTDOWN_GRACE.min(left).max(Duration::from_secs(1)))
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
                info.signal.unwrap_or(0)
            ))
            .into()),
        }
    }

    /// Kill QEMU at once.
    pub fn kill(&mut self) -> Result<()> {
        self.logs.line(&format!("[{}] kill", self.name));
        self.machine
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

/// A signal's number from its name as SSH reports it (`"KILL"`), 0 when unknown.
fn signal_number(name: &str) -> i32 {
    match name.trim_start_matches("SIG") {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ILL" => libc::SIGILL,
        "ABRT" => libc::SIGABRT,
        "FPE" => libc::SIGFPE,
        "KILL" => libc::SIGKILL,
        "SEGV" => libc::SIGSEGV,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        _ => 0,
    }
}
