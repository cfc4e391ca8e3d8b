//! [`MachineBuilder`]: the options of one machine, as a declarative
//! `[machine]` table gives them, filled into the machine core's
//! [`MachineDesc`]; `launch` starts it through the core and returns a [`Vm`].

use std::path::{Path, PathBuf};

use kennel_machine::firmware::Firmware;
use kennel_machine::tpm::TpmVersion;
use kennel_machine::{Accel, DisplayDevice, MachineConfig, Transcript};
use kennel_vm::{BuiltinGuest, ChannelKind, Deadlines, MachineDesc, Workspace};

use crate::error::{ErrorKind, Result};
use crate::test::{Logs, SharedNetworks};
use crate::vm::Vm;

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
    networks: Vec<String>,
    nic_model: Option<String>,
    shared: Option<SharedNetworks>,
}

impl MachineBuilder {
    pub(crate) fn new(
        name: String,
        logs: Logs,
        deadlines: Deadlines,
        workspace: Workspace,
    ) -> MachineBuilder {
        let mut config = MachineConfig::new(name);
        // `kennel run --qemu-arch`, handed on as `KENNEL_QEMU_ARCH`.
        config.qemu_arch = kennel_config::Config::get()
            .map(|c| c.qemu_arch.clone())
            .unwrap_or_default();
        MachineBuilder {
            desc: MachineDesc::new(config),
            named: false,
            logs,
            deadlines,
            cloud_image: None,
            workspace,
            networks: Vec::new(),
            nic_model: None,
            shared: None,
        }
    }

    /// The test's networks, for [`MachineBuilder::network`].
    pub(crate) fn on_networks(mut self, shared: Option<SharedNetworks>) -> Self {
        self.shared = shared;
        self
    }

    /// Join the test's network `name` (declared with
    /// [`Test::network`](crate::Test::network)) with a NIC, as `networks =
    /// ["lan"]` does: MAC `52:54:00:00:<network>:<machine>`, and in the
    /// built-in guest the address `192.168.<network>.<machine>/24`. Without
    /// networks the machine keeps QEMU's own (user-mode) networking.
    pub fn network(mut self, name: impl Into<String>) -> Self {
        self.networks.push(name.into());
        self
    }

    /// The QEMU device of the machine's NICs on the test's networks
    /// (`virtio-net-pci` by default; `e1000`...), as `nic_model` does.
    pub fn nic_model(mut self, model: impl Into<String>) -> Self {
        self.nic_model = Some(model.into());
        self
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

    /// The QEMU binary; by default `$QEMU_TEST_QEMU_BINARY` (another
    /// architecture's: beside it, or the same QEMU's on `PATH`), else
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
    /// (`cargo build -p kennel-cli` builds it beside `kennel`) or `$KENNEL_AGENT`; without it the test
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

    /// Give the machine a video device (QEMU's display stays `none`: the
    /// screen is read through QMP `screendump`), as `display = "std"` does.
    /// The built-in guest then shows its console on the screen and runs a
    /// shell on its first virtual terminal. See `docs/screens.md`.
    pub fn display(mut self, display: DisplayDevice) -> Self {
        self.desc.config.display = Some(display);
        self
    }

    /// Whether the built-in guest may start from a saved, booted state of the
    /// same configuration (a template) instead of booting: on by default;
    /// `.warm(false)` for a test that reads the boot itself (its console
    /// output, its timing). See `docs/warm-starts.md`.
    pub fn warm(mut self, warm: bool) -> Self {
        self.desc.cold = (!warm).then(|| "the test asked with `.warm(false)`".to_owned());
        self
    }

    /// The machine's firmware, as `firmware = "uefi"` does: [`Firmware::Uefi`]
    /// from QEMU's firmware descriptors (the code read-only, a copy of the
    /// variable store of the test's own; the machine boots rather than starts
    /// warm), or [`Firmware::Bios`], QEMU's default. See `docs/firmware.md`.
    pub fn firmware(mut self, firmware: Firmware) -> Self {
        self.desc.firmware = Some(firmware);
        self
    }

    /// A TPM emulated by swtpm, as `tpm = "2.0"` does: started with the
    /// machine and killed with it, its state in the test's scratch folder,
    /// its log `swtpm.log` in the test's log folder. Without swtpm installed
    /// the test SKIPs.
    pub fn tpm(mut self, version: TpmVersion) -> Self {
        self.desc.tpm = Some(version);
        self
    }

    /// Give the machine an absolute pointing device, a USB tablet on an xHCI
    /// controller of kennel's, for [`Vm::mouse_move`](crate::Vm::mouse_move)
    /// and [`Vm::mouse_click`](crate::Vm::mouse_click), as `tablet = true`
    /// does in a test file.
    pub fn tablet(mut self) -> Self {
        self.desc.config.tablet = true;
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
            networks,
            nic_model,
            shared,
        } = self;
        let name = desc.config.name.clone();
        desc.nics = join_networks(&name, &networks, nic_model.as_deref(), shared.as_ref())?;
        if let Some(text) = cloud_image {
            desc.image = Some(fetch_cloud_image(&name, &text, &workspace)?);
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
            Err(e @ kennel_vm::VmError::Unavailable(_)) => {
                let why = kennel_machine::error_chain(&e);
                return Err(ErrorKind::Skip(format!("machine `{name}`: {why}")).into());
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
        Ok(Vm::new(
            name,
            inner,
            logs,
            deadlines.until,
            workspace.logdir,
            workspace.scratch,
        ))
    }
}

/// Machine `name` joins `networks` of the test's `shared` ones with NICs of
/// `model` (or the default).
fn join_networks(
    name: &str,
    networks: &[String],
    model: Option<&str>,
    shared: Option<&SharedNetworks>,
) -> Result<Vec<kennel_vm::network::Nic>> {
    let model = model.unwrap_or(kennel_vm::network::DEFAULT_NIC_MODEL);
    let mut nics = Vec::new();
    for network in networks {
        let Some(shared) = shared else {
            return Err(
                ErrorKind::Network(kennel_vm::network::NetworkError::Undeclared {
                    machine: name.to_owned(),
                    network: network.clone(),
                })
                .into(),
            );
        };
        let nic = shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .join(network, name, model)
            .map_err(ErrorKind::Network)?;
        nics.push(nic);
    }
    Ok(nics)
}

/// The distribution's cloud image `text` names, from the asset cache or
/// fetched and verified, under the process's asset policy: by the machine
/// core's one rule for both kinds of test, one that is not cached while
/// downloads are off skips the test (with the reason a TOML test gives),
/// any other failure is [`ErrorKind::Image`].
fn fetch_cloud_image(machine: &str, text: &str, workspace: &Workspace) -> Result<PathBuf> {
    let spec = kennel_vm::cloud_image_asset(text);
    let policy = kennel_vm::process_asset_policy();
    kennel_vm::resolve_asset(&spec, Path::new("."), &policy, &workspace.log).map_err(|source| {
        if source.is_skip() {
            ErrorKind::Skip(kennel_machine::error_chain(&source)).into()
        } else {
            ErrorKind::Image {
                machine: machine.to_owned(),
                source,
            }
            .into()
        }
    })
}
