//! From a description to a reachable machine: [`prepare`] decides everything
//! and builds the files (guest, overlay, seed) into a [`Plan`];
//! [`Plan::start`] launches QEMU and waits until the guest's channel answers.

use std::path::Path;
use std::time::{Duration, Instant};

use kennel_machine::MachineConfig;

use crate::channel::{Channel, ChannelKind};
use crate::cloud::{CloudBoot, CloudRequest, CloudSource, JobKey};
use crate::desc::{BuiltinGuest, Deadlines, MachineDesc, Workspace};
use crate::guest::BuiltGuest;
use crate::vm::Vm;
use crate::{PrepareError, VmError};

/// How long a built-in guest may take from launch to its agent (or console
/// marker) before it counts as not coming up.
pub const GUEST_BOOT_LIMIT: Duration = Duration::from_secs(120);

/// How long QEMU gets to stop after QMP `quit` before it is killed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The most a cloud-init guest keeps of the test's time to report that it
/// never phoned home (a tenth of the test's timeout, at most this).
pub const CLOUD_REPORT_RESERVE: Duration = Duration::from_secs(5);

/// Everything decided, files built, nothing started: the exact QEMU options
/// (in [`Plan::config`]), the guest, the overlay and the seed.
pub struct Plan {
    /// QEMU's options with the guest, overlay and seed wired in.
    pub config: MachineConfig,
    /// The built-in guest, when the machine boots one.
    pub guest: Option<BuiltGuest>,
    /// The overlay and cloud-init seed, when the machine boots an image.
    pub cloud: Option<CloudBoot>,
    /// The job's SSH key, with cloud-init.
    pub key: Option<JobKey>,
    /// The channel asked for (`None`: the default for the machine).
    pub channel: Option<ChannelKind>,
    /// Wait for the guest before [`Plan::start`] returns.
    pub wait_ready: bool,
    /// Why the machine must boot ([`MachineDesc::cold`]); `None`: it starts
    /// from a template when it can.
    pub cold: Option<String>,
    /// A cloud-init machine's template recipe.
    cloud_source: Option<CloudSource>,
    workspace: Workspace,
    /// What must be alike on both sides of a migration.
    shape: Vec<(&'static str, String)>,
}

/// Decide everything and build the files a machine needs: the built-in guest
/// (from the cache when built before), the disk overlay, the cloud-init seed
/// and the job key. Nothing is started.
pub fn prepare(mut desc: MachineDesc, workspace: &Workspace) -> Result<Plan, VmError> {
    let shape = crate::migrate::shape(&desc);
    if desc.config.incoming.is_some() {
        // Its guest comes with the migration: nothing to wait for, no template.
        desc.wait_ready = false;
        desc.cold
            .get_or_insert_with(|| crate::migrate::INCOMING_COLD.to_owned());
    }
    let MachineDesc {
        mut config,
        guest,
        image,
        cloud_init,
        channel,
        wait_ready,
        cold,
        firmware,
        tpm,
        nics,
    } = desc;
    let name = config.name.clone();
    let log = &workspace.log;
    crate::firmware::machine_type(&mut config, firmware);
    let uefi = firmware == Some(kennel_machine::firmware::Firmware::Uefi);
    let guest = match guest {
        Some(BuiltinGuest::Busybox) => {
            let built = build_guest(&config, &nics, log, uefi)?;
            crate::guest::apply(&mut config, &built.image, built.agent);
            Some(built)
        }
        None => None,
    };
    let cold = cold.or_else(|| crate::network::wire(&mut config, &nics, guest.is_some()));
    if guest.is_none() && config.kernel.is_some() {
        config.console = true;
    }
    let firmware_cold = crate::firmware::apply(&mut config, firmware, tpm, workspace)?;
    let cold = cold.or(firmware_cold);
    if channel == Some(ChannelKind::Agent) && !guest.as_ref().is_some_and(|g| g.agent) {
        return Err(VmError::Prepare {
            machine: name,
            source: PrepareError::AgentWithoutGuest,
        });
    }
    let CloudParts {
        boot: cloud,
        key,
        source: cloud_source,
    } = prepare_cloud(&name, &config, image.as_deref(), cloud_init, workspace)?;
    if let Some(boot) = &cloud {
        boot.apply(&mut config);
    }
    Ok(Plan {
        config,
        guest,
        cloud,
        key,
        channel,
        wait_ready,
        cold,
        cloud_source,
        workspace: workspace.clone(),
        shape,
    })
}

fn build_guest(
    config: &MachineConfig,
    nics: &[crate::network::Nic],
    log: &crate::TestLog,
    uefi: bool,
) -> Result<BuiltGuest, VmError> {
    let name = &config.name;
    let started = Instant::now();
    let mut nic_modules: Vec<&str> = nics
        .iter()
        .filter_map(|n| crate::network::guest_module(&n.model))
        .collect();
    nic_modules.dedup();
    match crate::guest::build(
        &config.target_arch(),
        config.kernel.as_deref(),
        config.display,
        uefi,
        &nic_modules,
    ) {
        Ok(g) => {
            log.line(&format!(
                "guest for `{name}`: {} kernel {} ({}), initramfs {}, {} in {} ms",
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
                log.line(n);
            }
            Ok(g)
        }
        Err(problem) if problem.is_missing() => Err(VmError::Unavailable(problem)),
        Err(problem) => Err(VmError::Prepare {
            machine: name.clone(),
            source: PrepareError::Guest(problem),
        }),
    }
}

/// What [`prepare_cloud`] makes.
#[derive(Default)]
struct CloudParts {
    boot: Option<CloudBoot>,
    key: Option<JobKey>,
    source: Option<CloudSource>,
}

/// The overlay and seed of a machine with `image` or `cloud_init`, the job's
/// key, and with cloud-init what its template would be made of (`config`
/// before the cloud pieces are wired in).
fn prepare_cloud(
    name: &str,
    config: &MachineConfig,
    image: Option<&Path>,
    cloud_init: Option<Option<String>>,
    workspace: &Workspace,
) -> Result<CloudParts, VmError> {
    if image.is_none() && cloud_init.is_none() {
        return Ok(CloudParts::default());
    }
    let failed = |source: PrepareError| VmError::Prepare {
        machine: name.to_string(),
        source,
    };
    let key = match cloud_init {
        Some(_) => {
            let key_dir = kennel_layout::TestDir::new(&workspace.logdir).job_key_dir();
            Some(
                crate::cloud::job_key(&key_dir)
                    .map_err(|e| failed(PrepareError::Cloud(Box::new(e))))?,
            )
        }
        None => None,
    };
    let qemu_img = kennel_cloud::find_qemu_img(config.qemu_option.as_deref());
    let source = match &cloud_init {
        Some(user_data) => Some(CloudSource {
            base: config.clone(),
            image: image
                .map(std::path::absolute)
                .transpose()
                .map_err(|e| failed(PrepareError::ImagePath(e)))?,
            user_data: user_data.clone(),
            qemu_img: qemu_img.clone(),
        }),
        None => None,
    };
    let started = Instant::now();
    let boot = crate::cloud::prepare(&CloudRequest {
        machine: name,
        image,
        cloud_init,
        scratch: &workspace.scratch,
        qemu_img: &qemu_img,
        key: key.as_ref(),
    })
    .map_err(|e| failed(PrepareError::Cloud(Box::new(e))))?;
    let log = &workspace.log;
    if let (Some(overlay), Some(image)) = (&boot.overlay, image) {
        log.line(&format!(
            "machine `{name}`: overlay {} over {}",
            overlay.display(),
            image.display()
        ));
    }
    if let Some(seed) = &boot.seed {
        log.line(&format!(
            "machine `{name}`: cloud-init seed {} (instance {}), job key {}, made in {} ms",
            seed.path.display(),
            seed.instance_id,
            key.as_ref()
                .map(|k| k.path.display().to_string())
                .unwrap_or_default(),
            started.elapsed().as_millis()
        ));
    }
    Ok(CloudParts {
        boot: Some(boot),
        key,
        source,
    })
}

/// Why a machine boots instead of starting from a template (`config`: its
/// options before any cloud pieces are wired in); `None` when it may start warm.
fn cold_because(
    cold: Option<&str>,
    wait_ready: bool,
    debug: (bool, bool),
    config: &MachineConfig,
) -> Option<String> {
    if let Some(why) = cold {
        return Some(why.to_owned());
    }
    if !wait_ready {
        return Some("the test does not wait for its guest".into());
    }
    if kennel_config::Config::get().is_ok_and(|c| c.cold) {
        return Some("--cold (KENNEL_COLD)".into());
    }
    match debug {
        (true, _) => return Some("--gdb: QEMU runs under gdb from its first instruction".into()),
        (_, true) => {
            return Some("--wrapper: QEMU runs under the wrapper from its first instruction".into())
        }
        _ => {}
    }
    crate::warm::cold_reason(config)
}

/// Whether the ELF file at `path` has a symbol table (a kernel built with
/// symbols; the vmlinux unpacked from a distribution's bzImage has none).
fn has_symbols(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|data| data.windows(8).any(|w| w == b".symtab\0"))
}

impl Plan {
    /// The machine's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Launch QEMU and, unless the plan says not to, wait until the guest's
    /// channel answers: the agent's handshake, the console's ready marker, or
    /// phone-home then SSH. Every wait ends by `deadlines.until`; a built-in
    /// guest also within [`GUEST_BOOT_LIMIT`].
    pub fn start(mut self, deadlines: Deadlines) -> Result<Vm, VmError> {
        let shape = std::mem::take(&mut self.shape);
        let mut vm = self.launch_and_wait(deadlines)?;
        vm.set_shape(shape);
        Ok(vm)
    }

    fn launch_and_wait(self, deadlines: Deadlines) -> Result<Vm, VmError> {
        let Plan {
            mut config,
            guest,
            cloud,
            key,
            channel,
            wait_ready,
            cold,
            cloud_source,
            workspace,
            shape: _,
        } = self;
        let name = config.name.clone();
        let log = workspace.log.clone();
        if let Some(foreign) = kennel_machine::modules::ForeignModules::before_launch(&config) {
            log.line(&foreign.to_string());
        }
        config.launch_timeout = config
            .launch_timeout
            .min(deadlines.until.saturating_duration_since(Instant::now()));
        let debug = crate::debug_settings();
        let symbols = guest
            .as_ref()
            .filter(|g| debug.gdb && g.image.pvh && has_symbols(&g.image.kernel))
            .map(|g| g.image.kernel.clone());
        let gdb = crate::debug::apply(&mut config, &debug, &workspace.logdir, symbols).map_err(
            |source| VmError::Prepare {
                machine: name.clone(),
                source,
            },
        )?;
        // Under a wrapper (valgrind, rr, gdbserver) or gdb, QEMU is as slow as
        // the person or the tool makes it: only the test's own deadline, which
        // `--timeout-factor` stretches, bounds the launch and the boot.
        let debugged = gdb.is_some() || !config.wrapper.is_empty();
        if debugged {
            config.launch_timeout = deadlines.until.saturating_duration_since(Instant::now());
        }
        // What a template would hold: a built-in guest, or a cloud-init guest
        // (a machine with both boots; so does one with only a disk image).
        let recipe = match (&guest, &cloud_source) {
            (Some(g), None) => Some((crate::warm::Recipe::Builtin { agent: g.agent }, &config)),
            (None, Some(source)) => Some((crate::warm::Recipe::Cloud(source), &source.base)),
            _ => None,
        };
        if let Some((recipe, base)) = recipe {
            match cold_because(
                cold.as_deref(),
                wait_ready,
                (gdb.is_some(), !config.wrapper.is_empty()),
                base,
            ) {
                None => match crate::warm::start(
                    base,
                    &recipe,
                    key.as_ref(),
                    channel == Some(ChannelKind::Console),
                    &workspace,
                    match recipe {
                        // A cloud guest keeps time to report it never came up, warm or cold.
                        crate::warm::Recipe::Cloud(_) => Deadlines {
                            until: cloud_ready_by(&deadlines),
                            ..deadlines
                        },
                        crate::warm::Recipe::Builtin { .. } => deadlines,
                    },
                ) {
                    Ok(vm) => return Ok(vm),
                    Err(crate::warm::Miss::Boot(e)) => return Err(e),
                    Err(crate::warm::Miss::Other(why)) => log.line(&format!(
                        "machine `{name}` boots: no warm start ({})",
                        kennel_machine::error_chain(&why)
                    )),
                },
                Some(why) => log.line(&format!("machine `{name}` boots (cold): {why}")),
            }
        }
        let launched_at = Instant::now();
        let machine =
            launch_and_record(&config, &workspace, "", "").map_err(|source| VmError::Launch {
                machine: name.clone(),
                source,
            })?;
        if let Some(stub) = &gdb {
            announce_gdbstub(&name, stub, &workspace);
        }
        let mut vm = Vm::new(name, machine, log);
        crate::pause::record(&workspace.logdir, &vm, gdb.as_ref());
        if !wait_ready {
            return Ok(vm);
        }
        if let Some(g) = &guest {
            let limit = if debugged {
                deadlines.until
            } else {
                Instant::now() + GUEST_BOOT_LIMIT
            };
            let up_by = limit.min(deadlines.until);
            vm.wait_for_guest(g.agent, launched_at, up_by)?;
        }
        if let (Some(boot), Some(key)) = (&cloud, &key) {
            let up_by = cloud_ready_by(&deadlines);
            vm.wait_for_cloud(boot, key, launched_at, up_by, &workspace.cmdline)?;
        }
        let console_asked = channel == Some(ChannelKind::Console);
        if (console_asked || !vm.has_channel()) && vm.machine_ref().console().is_ok() {
            vm.set_channel(Channel::Console { commands: 0 });
        }
        Ok(vm)
    }
}

/// Tell the test's log, its `cmdline` and the person at the terminal how to
/// attach gdb to machine `name`'s gdbstub.
fn announce_gdbstub(name: &str, stub: &crate::debug::GdbStub, workspace: &Workspace) {
    let waits = if stub.wait {
        "; the guest waits for gdb's `continue` before its first instruction"
    } else {
        ""
    };
    let text = format!(
        "machine `{name}` ({}): gdbstub on {}{waits}\n  {}\n",
        workspace.logdir.display(),
        stub.address,
        stub.command()
    );
    workspace.log.line(text.trim_end());
    workspace
        .cmdline
        .write(format!("# {}\n", stub.command()).as_bytes());
    crate::debug::tell(&format!("kennel: {text}"));
}

/// When a cloud-init guest must be up: the test keeps a tenth of its timeout
/// (at most [`CLOUD_REPORT_RESERVE`]) to report that it never came up.
fn cloud_ready_by(deadlines: &Deadlines) -> Instant {
    let reserve = (deadlines.timeout / 10).min(CLOUD_REPORT_RESERVE);
    deadlines
        .test_until
        .checked_sub(reserve)
        .unwrap_or(deadlines.test_until)
        .min(deadlines.until)
}

/// Launch `config` and say so, cold or warm alike: a `launched` line in `test.log`
/// (`how`: empty, or " from template ID") and its command line in `cmdline`
/// (headed by the machine's name when the test has several), then `note`.
pub(crate) fn launch_and_record(
    config: &MachineConfig,
    workspace: &Workspace,
    how: &str,
    note: &str,
) -> Result<kennel_machine::Machine, kennel_machine::MachineError> {
    let name = &config.name;
    let launched_at = Instant::now();
    let machine = config.launch()?;
    workspace.log.line(&format!(
        "launched `{name}` (pid {}, {}: {}){how} in {} ms",
        machine.pid(),
        machine.accel().accel,
        machine.accel().reason,
        launched_at.elapsed().as_millis()
    ));
    if workspace.several {
        workspace
            .cmdline
            .write(format!("# machine {name}\n").as_bytes());
    }
    workspace
        .cmdline
        .write(format!("{}\n{note}", machine.cmdline()).as_bytes());
    Ok(machine)
}
