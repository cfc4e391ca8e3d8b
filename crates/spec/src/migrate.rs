//! The `migrate` step: `migrate = { from = "a", to = "b" }` moves a running
//! machine's state into another QEMU of the same description. Its model
//! ([`MigrateSpec`]), the ways the stream goes ([`Transport`], which the
//! Rust front end uses too, through kennel-vm) and its loader.

use crate::convert::list;
use crate::load::{Loader, Result};
use crate::model::{MachineSpec, StepKind};
use crate::raw::{RawMigrate, RawStep, S};
use crate::Value;

/// How a migration's stream goes from one QEMU to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// A UNIX socket in the test's private folder (the default).
    #[default]
    Unix,
    /// TCP on the loopback address, on a port the kernel chooses.
    Tcp,
    /// `exec:`: the source writes its state through `cat` into a file of the
    /// test's private folder, then the destination reads it back the same way.
    Exec,
    /// `file:` (QEMU 8.2 and later): the state saved to a file of the test's
    /// private folder, then loaded.
    File,
}

impl Transport {
    /// Every transport, in the order messages list them.
    pub const ALL: [Transport; 4] = [
        Transport::Unix,
        Transport::Tcp,
        Transport::Exec,
        Transport::File,
    ];

    /// Its name in a test file: `unix`, `tcp`, `exec`, `file`.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Unix => "unix",
            Transport::Tcp => "tcp",
            Transport::Exec => "exec",
            Transport::File => "file",
        }
    }

    /// The transport named `name`.
    pub fn from_name(name: &str) -> Option<Transport> {
        Transport::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether the source saves the whole state before the destination
    /// reads it (`exec`, `file`), rather than both running at once.
    pub fn is_saved(self) -> bool {
        matches!(self, Transport::Exec | Transport::File)
    }
}

/// `migrate = { from, to, transport, capabilities, parameters, postcopy }`.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrateSpec {
    /// The running machine whose state moves.
    pub from: String,
    /// The machine it moves into: started with `-incoming defer` by the step
    /// when it is not running.
    pub to: String,
    /// How the stream goes.
    pub transport: Transport,
    /// Migration capabilities turned on, on both sides (QMP
    /// `migrate-set-capabilities`).
    pub capabilities: Vec<String>,
    /// Migration parameters set on both sides (QMP `migrate-set-parameters`);
    /// strings may hold templates.
    pub parameters: Option<Value>,
    /// Switch to postcopy once the migration runs (`postcopy-ram` on both
    /// sides, then `migrate-start-postcopy`).
    pub postcopy: bool,
}

/// The keys of a machine table that may differ between the two sides of a
/// migration: how a test starts and watches a machine, not what it is.
const MAY_DIFFER: &str = "name, launch, warm, channel, console_fail";

impl Loader<'_> {
    /// The machine a `migrate` step is on: its `from` (`on` is refused: the
    /// step names both its machines).
    pub(crate) fn migrate_on(&self, header: usize, step: &RawStep) -> Result<String> {
        if step.on.is_some() {
            return self.err(
                header,
                "`on` does not apply to a `migrate` step: it names its machines with `from` and `to`",
            );
        }
        match &step.migrate {
            Some(m) => Ok(m.get_ref().from.get_ref().clone()),
            None => self.err(header, "step kind `migrate` is not handled"),
        }
    }

    /// `migrate = { ... }`: both machines declared, different, and described
    /// alike; the destination left for the step to start.
    pub(crate) fn migrate_step(
        &self,
        raw: &S<RawMigrate>,
        machines: &[MachineSpec],
    ) -> Result<StepKind> {
        let m = raw.get_ref();
        let names: Vec<&str> = machines.iter().map(|m| m.name.as_str()).collect();
        let find = |key: &str, name: &S<String>| match machines
            .iter()
            .find(|spec| spec.name == *name.get_ref())
        {
            Some(spec) => Ok(spec),
            None => self.err(
                name.span().start,
                format!(
                    "`{key}` names unknown machine `{}` (machines: {})",
                    name.get_ref(),
                    list(&names)
                ),
            ),
        };
        let from = find("from", &m.from)?;
        let to = find("to", &m.to)?;
        if from.name == to.name {
            return self.err(
                m.to.span().start,
                format!(
                    "`migrate` from `{}` to itself: `to` names another machine, described alike",
                    from.name
                ),
            );
        }
        for spec in [from, to] {
            if spec.expect_exit.is_some() {
                return self.err(
                    raw.span().start,
                    format!(
                        "machine `{}` has `expect_exit`: it cannot take part in a migration",
                        spec.name
                    ),
                );
            }
        }
        if to.incoming.is_some() {
            return self.err(
                m.to.span().start,
                format!(
                    "machine `{}` is the destination of a `migrate` step and has `incoming`: leave it out (the step starts it with `-incoming defer`)",
                    to.name
                ),
            );
        }
        let differs = differences(from, to);
        if !differs.is_empty() {
            return self.err(
                m.to.span().start,
                format!(
                    "machine `{}` is not described like `{}`, which migrates into it: {} differ (only {MAY_DIFFER} may)",
                    to.name,
                    from.name,
                    list(&differs)
                ),
            );
        }
        Ok(StepKind::Migrate(self.migrate_options(m, from, to)?))
    }

    fn migrate_options(
        &self,
        m: &RawMigrate,
        from: &MachineSpec,
        to: &MachineSpec,
    ) -> Result<MigrateSpec> {
        let transport = match &m.transport {
            None => Transport::default(),
            Some(name) => match Transport::from_name(name.get_ref()) {
                Some(t) => t,
                None => {
                    let names: Vec<&str> = Transport::ALL.iter().map(|t| t.name()).collect();
                    return self.err(
                        name.span().start,
                        format!(
                            "unknown transport {:?}: expected one of {}",
                            name.get_ref(),
                            list(&names)
                        ),
                    );
                }
            },
        };
        let mut capabilities = Vec::new();
        for capability in m.capabilities.iter().flat_map(|c| c.get_ref()) {
            let name = capability.get_ref();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return self.err(
                    capability.span().start,
                    format!("capability {name:?} is not a QEMU capability name (like \"xbzrle\")"),
                );
            }
            capabilities.push(name.clone());
        }
        let parameters = match &m.parameters {
            Some(p) => Some(self.table_value(p, "parameters")?),
            None => None,
        };
        let postcopy = match &m.postcopy {
            Some(p) => self.boolean(p, "postcopy")?.unwrap_or(false),
            None => false,
        };
        if postcopy && transport.is_saved() {
            return self.err(
                m.transport.as_ref().map_or(0, |t| t.span().start),
                format!("`postcopy` needs both QEMUs running at once: transport `{}` saves the state first", transport.name()),
            );
        }
        Ok(MigrateSpec {
            from: from.name.clone(),
            to: to.name.clone(),
            transport,
            capabilities,
            parameters,
            postcopy,
        })
    }
}

/// The keys of two machine tables that differ, apart from [`MAY_DIFFER`].
fn differences<'k>(a: &MachineSpec, b: &MachineSpec) -> Vec<&'k str> {
    let keys: [(&str, bool); 17] = [
        ("arch", a.arch != b.arch),
        ("binary", a.binary != b.binary),
        ("type", a.machine_type != b.machine_type),
        ("accel", a.accel != b.accel),
        ("cpus", a.cpus != b.cpus),
        ("memory", a.memory != b.memory),
        ("kernel", a.kernel != b.kernel),
        ("initrd", a.initrd != b.initrd),
        ("append", a.append != b.append),
        ("dtb", a.dtb != b.dtb),
        ("guest", a.guest != b.guest),
        ("image", a.image != b.image),
        ("cloud_init", a.cloud_init != b.cloud_init),
        ("display", a.display != b.display),
        ("console", a.console != b.console),
        ("args", a.args != b.args),
        ("tablet", a.tablet != b.tablet),
    ];
    keys.into_iter()
        .filter(|(_, differ)| *differ)
        .map(|(key, _)| key)
        .collect()
}
