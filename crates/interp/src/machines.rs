//! From a `[machine]` table to the machine core's [`MachineDesc`].

use std::path::PathBuf;

use kennel_machine::firmware::Firmware;
use kennel_machine::tpm::TpmVersion;
use kennel_machine::{Accel, DisplayDevice, LogSink, MachineConfig, Transcript};
use kennel_spec::{MachineSpec, RenderError, Value, Vars};
use kennel_vm::{BuiltinGuest, ChannelKind, MachineDesc};

/// Where a test's machines log, and the run's options that shape them.
pub(crate) struct MachineEnv {
    pub qemu_option: Option<PathBuf>,
    pub console_log: LogSink,
    pub qemu_log: LogSink,
    pub qmp_log: LogSink,
    /// Several machines: prefix their lines with their names.
    pub several: bool,
}

/// Why a machine table does not make a description.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DescError {
    /// A `${...}` in it does not render.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// `firmware` or `tpm` names no firmware or TPM (a case's own value).
    #[error("machine `{machine}`: unknown {key} {value:?} (expected one of {expected})")]
    Unknown {
        /// The machine's name.
        machine: String,
        /// `firmware` or `tpm`.
        key: &'static str,
        /// The value, rendered.
        value: String,
        /// The names there are.
        expected: String,
    },
    /// `guest` names a guest kennel does not have.
    #[error("machine `{machine}`: unknown guest {guest:?} (kennel has \"busybox\")")]
    UnknownGuest {
        /// The machine's name.
        machine: String,
        /// The guest as written (rendered).
        guest: String,
    },
}

/// Render a machine's spec with the test's variables into a description;
/// relative image paths are relative to `dir`, the test file's folder.
pub(crate) fn desc(
    spec: &MachineSpec,
    vars: &dyn Vars,
    env: &MachineEnv,
    dir: &std::path::Path,
) -> Result<MachineDesc, DescError> {
    let r = |t: &kennel_spec::Template| t.render(vars);
    let mut desc = MachineDesc::new(config(spec, vars, env)?);
    desc.guest = match spec.guest.as_ref().map(r).transpose()? {
        None => None,
        Some(which) => {
            Some(
                BuiltinGuest::from_name(&which).ok_or_else(|| DescError::UnknownGuest {
                    machine: spec.name.clone(),
                    guest: which.clone(),
                })?,
            )
        }
    };
    desc.image = spec.image.as_ref().map(r).transpose()?.map(|p| dir.join(p));
    desc.cloud_init = match &spec.cloud_init {
        None | Some(Value::Bool(false)) => None,
        Some(value) => {
            let value = kennel_spec::render_value(value, vars)?;
            Some(
                value
                    .get("user_data")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            )
        }
    };
    desc.channel = spec.channel.as_deref().and_then(ChannelKind::from_name);
    let unknown = |key: &'static str, value: &str, names: &[&str]| DescError::Unknown {
        machine: spec.name.clone(),
        key,
        value: value.to_owned(),
        expected: names.join(", "),
    };
    if let Some(f) = &spec.firmware {
        desc.firmware =
            Some(Firmware::from_name(f).ok_or_else(|| unknown("firmware", f, &Firmware::NAMES))?);
    }
    if let Some(t) = &spec.tpm {
        desc.tpm =
            Some(TpmVersion::from_name(t).ok_or_else(|| unknown("tpm", t, &TpmVersion::NAMES))?);
    }
    desc.wait_ready = spec.expect_exit.is_none();
    Ok(desc)
}

/// Why the machine `spec` of `file` must boot rather than start from a saved
/// state: the test reads its boot (`launch = false`, `incoming`,
/// `expect_exit`, or a `console` check on it before any command is sent to
/// it), or asks with `warm = false`. `None`: it may start warm.
pub(crate) fn cold_because(spec: &MachineSpec, file: &kennel_spec::TestFile) -> Option<String> {
    use kennel_spec::StepKind;
    let why = if !spec.warm {
        "the test asked with `warm = false`"
    } else if !spec.launch {
        "`launch = false`: the test starts it itself"
    } else if spec.incoming.is_some() {
        "`incoming`: it waits for an incoming migration"
    } else if spec.expect_exit.is_some() {
        "`expect_exit`: the test waits for it to exit"
    } else {
        let first = file.steps.iter().filter(|s| s.on == spec.name).find(|s| {
            matches!(
                s.kind,
                StepKind::Console(_)
                    | StepKind::Run { .. }
                    | StepKind::Exec { .. }
                    | StepKind::Send(_)
            )
        });
        match first.map(|s| &s.kind) {
            Some(StepKind::Console(_)) => "a `console` check reads its boot",
            _ => return None,
        }
    };
    Some(why.to_owned())
}

/// QEMU's own options of a machine.
fn config(
    spec: &MachineSpec,
    vars: &dyn Vars,
    env: &MachineEnv,
) -> Result<MachineConfig, RenderError> {
    let r = |t: &kennel_spec::Template| t.render(vars);
    let mut c = MachineConfig::new(spec.name.clone());
    c.arch = spec.arch.as_ref().map(|a| a.render(vars)).transpose()?;
    c.binary = spec.binary.as_ref().map(r).transpose()?.map(PathBuf::from);
    c.qemu_option = env.qemu_option.clone();
    c.qemu_arch = crate::setup::qemu_arch();
    c.machine_type = spec.machine_type.as_ref().map(r).transpose()?;
    if let Some(a) = &spec.accel {
        c.accel = Accel::parse(&a.render(vars)?);
    }
    c.cpus = spec.cpus.as_ref().map(|n| n.render(vars)).transpose()?;
    c.memory = spec.memory.as_ref().map(r).transpose()?;
    c.kernel = spec.kernel.as_ref().map(r).transpose()?.map(PathBuf::from);
    c.initrd = spec.initrd.as_ref().map(r).transpose()?.map(PathBuf::from);
    c.append = spec.append.as_ref().map(r).transpose()?;
    c.dtb = spec.dtb.as_ref().map(r).transpose()?.map(PathBuf::from);
    c.console = spec.console.unwrap_or(c.kernel.is_some());
    // The loader checked the name against `kennel_spec::DISPLAYS`.
    c.display = spec.display.as_deref().and_then(DisplayDevice::from_name);
    if let Some(list) = &spec.console_fail {
        c.console_fail = list.iter().map(r).collect::<Result<_, _>>()?;
    }
    c.extra_args = spec.args.iter().map(r).collect::<Result<_, _>>()?;
    c.incoming = spec.incoming.as_ref().map(r).transpose()?;
    c.tablet = spec.tablet;
    c.qmp = spec.expect_exit.is_none();
    let prefix = format!("[{}] ", spec.name);
    if env.several {
        c.console_log = env.console_log.with_prefix(prefix.clone());
        c.qemu_log = env.qemu_log.with_prefix(prefix);
        c.transcript = Transcript::new(Box::new(env.qmp_log.clone()), Some(spec.name.clone()));
    } else {
        c.console_log = env.console_log.clone();
        c.qemu_log = env.qemu_log.clone();
        c.transcript = Transcript::new(Box::new(env.qmp_log.clone()), None);
    }
    Ok(c)
}
