//! From a `[machine]` table to a launchable [`MachineConfig`].

use std::path::PathBuf;

use kennel_machine::{Accel, LogSink, MachineConfig, Transcript};
use kennel_spec::{MachineSpec, Vars};

/// Where a test's machines log, and the run's options that shape them.
pub(crate) struct MachineEnv {
    pub qemu_option: Option<PathBuf>,
    pub console_log: LogSink,
    pub qemu_log: LogSink,
    pub qmp_log: LogSink,
    /// Several machines: prefix their lines with their names.
    pub several: bool,
}

/// Render a machine's spec with the test's variables.
pub(crate) fn config(
    spec: &MachineSpec,
    vars: &dyn Vars,
    env: &MachineEnv,
    guest: Option<&super::guest::BuiltGuest>,
) -> Result<MachineConfig, String> {
    let r = |t: &kennel_spec::Template| t.render(vars).map_err(|e| e.to_string());
    let mut c = MachineConfig::new(spec.name.clone());
    c.arch = spec
        .arch
        .as_ref()
        .map(|a| a.render(vars).map_err(|e| e.to_string()))
        .transpose()?;
    c.binary = spec.binary.as_ref().map(r).transpose()?.map(PathBuf::from);
    c.qemu_option = env.qemu_option.clone();
    c.machine_type = spec.machine_type.as_ref().map(r).transpose()?;
    if let Some(a) = &spec.accel {
        c.accel = Accel::parse(&a.render(vars).map_err(|e| e.to_string())?);
    }
    c.cpus = spec
        .cpus
        .as_ref()
        .map(|n| n.render(vars).map_err(|e| e.to_string()))
        .transpose()?;
    c.memory = spec.memory.as_ref().map(r).transpose()?;
    c.kernel = spec.kernel.as_ref().map(r).transpose()?.map(PathBuf::from);
    c.initrd = spec.initrd.as_ref().map(r).transpose()?.map(PathBuf::from);
    c.append = spec.append.as_ref().map(r).transpose()?;
    c.dtb = spec.dtb.as_ref().map(r).transpose()?.map(PathBuf::from);
    c.console = spec.console.unwrap_or(c.kernel.is_some());
    if let Some(list) = &spec.console_fail {
        c.console_fail = list.iter().map(r).collect::<Result<_, _>>()?;
    }
    c.extra_args = spec.args.iter().map(r).collect::<Result<_, _>>()?;
    c.incoming = spec.incoming.as_ref().map(r).transpose()?;
    c.qmp = spec.expect_exit.is_none();
    if let Some(g) = guest {
        super::guest::apply(&mut c, &g.image, g.agent);
    }
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
