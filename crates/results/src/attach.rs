//! [`AttachRecord`]: `attach.json`, how a person reaches a test's live machines.

use std::path::Path;

use kennel_layout::TestDir;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::read_document;
use crate::ResultsError;

/// `attach.json` in a test's log folder: each machine of the test as it
/// started, with what `kennel attach` connects to. The test process rewrites
/// it, whole, as each machine starts; it means something only while the test
/// runs (or is paused on its failure).
///
/// # Examples
///
/// ```
/// use kennel_results::{AttachRecord, AttachedMachine};
///
/// let machine = |name: &str, pid| AttachedMachine {
///     name: name.into(),
///     pid,
///     qmp: None,
///     hmp: None,
///     console_log: "console.log".into(),
///     gdb: None,
///     vnc: None,
/// };
/// let mut record = AttachRecord::default();
/// record.add(machine("main", 10));
/// record.add(machine("peer", 11));
/// record.add(machine("main", 12));
/// assert_eq!(record.machine(None).map(|m| m.pid), Some(11));
/// assert_eq!(record.machine(Some("main")).map(|m| m.pid), Some(12));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AttachRecord {
    /// The machines, in the order they (last) started.
    pub machines: Vec<AttachedMachine>,
}

/// One machine of [`AttachRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AttachedMachine {
    /// The machine's name in the test (`main`).
    pub name: String,
    /// Its QEMU's process id.
    pub pid: u32,
    /// The UNIX socket of its second QMP monitor (QEMU listens on it, in
    /// kennel's private 0700 folder); `null` when it has none.
    pub qmp: Option<String>,
    /// The UNIX socket of its HMP monitor; `null` when it has none.
    pub hmp: Option<String>,
    /// The test's console log, which `kennel attach --console` follows.
    pub console_log: String,
    /// The command that attaches gdb to its gdbstub (`--gdb`); absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gdb: Option<String>,
    /// The UNIX socket its display's VNC server listens on, while the test is
    /// paused on its failure (in kennel's private 0700 folder; `kennel attach
    /// --vnc` says how to reach it); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnc: Option<String>,
}

impl AttachRecord {
    /// The record of the test logging into `logdir`: `Ok(None)` when it has
    /// started no machine.
    pub fn read(logdir: &Path) -> Result<Option<AttachRecord>, ResultsError> {
        read_document(&TestDir::new(logdir).attach_json(), "attach record")
    }

    /// Write the record into `logdir` (`attach.json`), whole, atomically.
    pub fn write(&self, logdir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        kennel_config::write_atomic(&TestDir::new(logdir).attach_json(), &bytes)
    }

    /// Add `machine`, last, in place of an earlier machine of its name.
    pub fn add(&mut self, machine: AttachedMachine) {
        self.machines.retain(|m| m.name != machine.name);
        self.machines.push(machine);
    }

    /// The machine named `name`; without a name, the first.
    pub fn machine(&self, name: Option<&str>) -> Option<&AttachedMachine> {
        match name {
            Some(name) => self.machines.iter().find(|m| m.name == name),
            None => self.machines.first(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_record_is_one_compact_line_that_reads_back() {
        let dir = tempfile::tempdir().expect("dir");
        let record = AttachRecord {
            machines: vec![AttachedMachine {
                name: "main".into(),
                pid: 42,
                qmp: Some("/tmp/k/qmp-attach.sock".into()),
                hmp: None,
                console_log: "/j/tests/001-a/console.log".into(),
                gdb: Some("gdb -ex 'target remote :1234'".into()),
                vnc: None,
            }],
        };

        record.write(dir.path()).expect("written");

        let text = std::fs::read_to_string(dir.path().join("attach.json")).expect("read");
        assert_eq!(
            text,
            r#"{"machines":[{"name":"main","pid":42,"qmp":"/tmp/k/qmp-attach.sock","hmp":null,"console_log":"/j/tests/001-a/console.log","gdb":"gdb -ex 'target remote :1234'"}]}"#
        );
        assert_eq!(AttachRecord::read(dir.path()).expect("reads"), Some(record));
    }
}
