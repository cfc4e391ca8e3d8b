//! Loading the links between a test's machines: `[[network]]` tables, a
//! machine's `networks` and `nic_model`, and the `link` step.

use indexmap::IndexMap;

use crate::convert::list;
use crate::load::{Loader, Result};
use crate::model::{MachineSpec, StepKind};
use crate::raw::{RawLink, RawMachine, RawNetwork, RawStep, S};
use crate::template::is_var_name;

/// A `[[network]]` table: a link between the test's machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    /// `name`: what machines' `networks` and `link` steps call it.
    pub name: String,
    /// Line of the table's header.
    pub line: usize,
    /// `capture = true`: every frame on it goes to `<name>.pcap` in the
    /// test's folder.
    pub capture: bool,
}

/// A `link` step: pull a machine's cable on a network (QMP `set_link` on
/// its NIC there), or put it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStep {
    /// The machine whose NIC it is.
    pub machine: String,
    /// The network the NIC is on.
    pub network: String,
    /// Cable in (`true`) or out.
    pub up: bool,
}

impl std::fmt::Display for LinkStep {
    /// `b on lan down`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.up { "up" } else { "down" };
        write!(f, "{} on {} {state}", self.machine, self.network)
    }
}

/// The most networks a test may declare: a link's number is one byte of its
/// machines' MAC and IP addresses (`192.168.<link>.<machine>`).
pub const MAX_NETWORKS: usize = 254;

impl Loader<'_> {
    /// The `[[network]]` tables, checked against the machines that join them:
    /// a name used twice, a machine joining an undeclared network (or one
    /// network twice), and a network no machine joins are errors at the place
    /// they are written.
    pub(crate) fn networks(
        &self,
        raw: &[S<RawNetwork>],
        machine: Option<&S<RawMachine>>,
        machines: &IndexMap<String, S<RawMachine>>,
    ) -> Result<Vec<NetworkSpec>> {
        let mut out: Vec<NetworkSpec> = Vec::new();
        for table in raw {
            let at = table.span().start;
            let Some(name) = &table.get_ref().name else {
                return self.err(at, "a `[[network]]` needs a `name`, like `name = \"lan\"`");
            };
            let text = name.get_ref();
            if !is_var_name(text) || text.contains(':') || text.contains('.') {
                return self.err(
                    name.span().start,
                    format!("bad network name `{text}` (expected letters, digits, `_`, `-`)"),
                );
            }
            if out.iter().any(|n| n.name == *text) {
                return self.err(
                    name.span().start,
                    format!("network `{text}` is declared twice"),
                );
            }
            if out.len() == MAX_NETWORKS {
                return self.err(at, format!("more than {MAX_NETWORKS} networks"));
            }
            out.push(NetworkSpec {
                name: text.clone(),
                line: self.line(at),
                capture: self.opt_boolean(table.get_ref().capture.as_ref(), "capture", false)?,
            });
        }
        let all = machine.into_iter().chain(machines.values());
        let mut joined = vec![false; out.len()];
        for machine in all {
            let Some(names) = &machine.get_ref().networks else {
                continue;
            };
            let mut seen: Vec<&str> = Vec::new();
            for name in names.get_ref() {
                let text = name.get_ref().as_str();
                let Some(index) = out.iter().position(|n| n.name == text) else {
                    let declared: Vec<&str> = out.iter().map(|n| n.name.as_str()).collect();
                    let hint = if declared.is_empty() {
                        "the test declares none: add a `[[network]]` table".to_owned()
                    } else {
                        format!("declared: {}", list(&declared))
                    };
                    return self.err(
                        name.span().start,
                        format!("network `{text}` is not declared ({hint})"),
                    );
                };
                if seen.contains(&text) {
                    return self.err(
                        name.span().start,
                        format!("network `{text}` is listed twice"),
                    );
                }
                seen.push(text);
                joined[index] = true;
            }
        }
        if let Some(index) = joined.iter().position(|j| !j) {
            return self.err(
                raw[index].span().start,
                format!(
                    "no machine joins network `{}`: add `networks = [\"{}\"]` to a machine",
                    out[index].name, out[index].name
                ),
            );
        }
        Ok(out)
    }

    /// `nic_model = "e1000"`: a QEMU device name (checked by QEMU itself).
    pub(crate) fn nic_model(&self, value: Option<&S<String>>) -> Result<Option<String>> {
        let Some(value) = value else {
            return Ok(None);
        };
        let text = value.get_ref();
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if text.is_empty() || !text.chars().all(plain) {
            return self.err(
                value.span().start,
                format!("bad `nic_model` {text:?}: expected a QEMU device name like \"e1000\""),
            );
        }
        Ok(Some(text.clone()))
    }

    /// `link = { machine = "b", network = "lan", up = false }`.
    pub(crate) fn link_step(
        &self,
        raw: &S<RawStep>,
        link: &S<RawLink>,
        machines: &[MachineSpec],
    ) -> Result<StepKind> {
        let at = link.span().start;
        let RawLink {
            machine,
            network,
            up,
        } = link.get_ref();
        let (Some(machine), Some(network), Some(up)) = (machine, network, up) else {
            return self.err(
                at,
                "a `link` step needs `machine`, `network` and `up`, like \
                 `link = { machine = \"b\", network = \"lan\", up = false }`",
            );
        };
        if raw.get_ref().on.is_some() {
            return self.err(
                raw.span().start,
                "a `link` step names its machine in `link.machine`, not `on`",
            );
        }
        let name = machine.get_ref();
        let Some(spec) = machines.iter().find(|m| m.name == *name) else {
            let names: Vec<&str> = machines.iter().map(|m| m.name.as_str()).collect();
            return self.err(
                machine.span().start,
                format!(
                    "`link` names unknown machine `{name}` (machines: {})",
                    list(&names)
                ),
            );
        };
        let net = network.get_ref();
        if !spec.networks.contains(net) {
            return self.err(
                network.span().start,
                format!(
                    "machine `{name}` is not on network `{net}` (its `networks` do not list it)"
                ),
            );
        }
        let Some(up) = self.boolean(up, "up")? else {
            return self.err(up.span().start, "`link.up` must be `true` or `false`");
        };
        Ok(StepKind::Link(LinkStep {
            machine: name.clone(),
            network: net.clone(),
            up,
        }))
    }
}
