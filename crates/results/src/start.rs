//! [`StartRecord`]: how a test's machines started, as `results.json` records
//! it for the test; one rule for the TOML interpreter and the Rust test API.

use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;
use kennel_layout::TestDir;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::read_document;
use crate::ResultsError;

/// How a machine, or a whole test, started: `"warm"` or `"cold"` in results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StartKind {
    /// Restored from a saved state (a template).
    Warm,
    /// Booted.
    Cold,
}

impl StartKind {
    /// `"warm"` or `"cold"`, as `results.json` records it.
    pub fn as_str(self) -> &'static str {
        match self {
            StartKind::Warm => "warm",
            StartKind::Cold => "cold",
        }
    }
}

impl std::fmt::Display for StartKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the machines of one test (attempt) started: the `start`, `template`,
/// `accel` and `phases` of its entry in `results.json`. Both front ends
/// [`add_start`](StartRecord::add_start) each machine as it starts; a test process
/// [`write`](StartRecord::write)s it into its log folder (`start.json`), where
/// the runner [`read`](StartRecord::read)s it for a Rust test.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kennel_results::{StartKind, StartRecord};
///
/// let mut record = StartRecord::default();
/// record.add_start("main", StartKind::Warm, Some("1a2b"), "tcg (no KVM)".into(), &[], false);
/// record.add_start("peer", StartKind::Cold, None, "tcg (no KVM)".into(), &[], true);
/// assert_eq!(record.start, Some(StartKind::Cold));
/// assert_eq!(record.template.as_deref(), Some("1a2b"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StartRecord {
    /// Each machine's accelerator, with the reason (`tcg (KVM not usable: ...)`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub accel: IndexMap<String, String>,
    /// Timed phases of the starts, in seconds (`boot_to_phone_home_s`),
    /// prefixed with `<machine>.` when the test has several machines.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub phases: IndexMap<String, f64>,
    /// `warm` when every machine started from a template, `cold` when one
    /// booted; `None` before any machine started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<StartKind>,
    /// The template of the first machine that started warm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The phases carry their machine's name.
    #[serde(skip)]
    prefixed: bool,
}

impl StartRecord {
    /// Add machine `name`, which started as `start` (from `template` when warm) under `accel` and took
    /// `phases`: the test started warm when every machine did. A second
    /// machine gives the first one's phases its name too, so that a test
    /// that does not know its machines ahead (a Rust test) names them as
    /// one that does.
    pub fn add_start(
        &mut self,
        name: &str,
        start: StartKind,
        template: Option<&str>,
        accel: String,
        phases: &[(&str, Duration)],
        several: bool,
    ) {
        if self.start != Some(StartKind::Cold) {
            self.start = Some(start);
        }
        if self.template.is_none() {
            self.template = template.map(str::to_owned);
        }
        let another = self.accel.keys().any(|m| m != name);
        if (several || another) && !self.prefixed {
            self.prefixed = true;
            if let Some(first) = self.accel.keys().next() {
                self.phases = std::mem::take(&mut self.phases)
                    .into_iter()
                    .map(|(phase, s)| (format!("{first}.{phase}"), s))
                    .collect();
            }
        }
        let prefix = if self.prefixed {
            format!("{name}.")
        } else {
            String::new()
        };
        for (phase, took) in phases {
            let seconds = (took.as_secs_f64() * 1000.0).round() / 1000.0;
            self.phases.insert(format!("{prefix}{phase}_s"), seconds);
        }
        self.accel.insert(name.to_owned(), accel);
    }

    /// Write the record into the test's log folder (`start.json`), whole.
    pub fn write(&self, logdir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        kennel_config::write_atomic(&TestDir::new(logdir).start_json(), &bytes)
    }

    /// The record a test process left in `logdir` (`start.json`):
    /// `Ok(None)` when it left none (it started no machine).
    pub fn read(logdir: &Path) -> Result<Option<StartRecord>, ResultsError> {
        read_document(&TestDir::new(logdir).start_json(), "start record")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCG: &str = "tcg (no KVM)";

    #[test]
    fn a_test_is_warm_only_when_every_machine_is_and_names_the_first_template() {
        let mut all_warm = StartRecord::default();
        all_warm.add_start("a", StartKind::Warm, Some("t1"), TCG.into(), &[], true);
        all_warm.add_start("b", StartKind::Warm, Some("t2"), TCG.into(), &[], true);
        let mut one_cold = StartRecord::default();
        one_cold.add_start("a", StartKind::Cold, None, TCG.into(), &[], true);
        one_cold.add_start("b", StartKind::Warm, Some("t2"), TCG.into(), &[], true);

        assert_eq!(all_warm.start, Some(StartKind::Warm));
        assert_eq!(all_warm.template.as_deref(), Some("t1"));
        assert_eq!(one_cold.start, Some(StartKind::Cold));
        assert_eq!(one_cold.template.as_deref(), Some("t2"));
        assert_eq!(Vec::from_iter(one_cold.accel.keys()), ["a", "b"]);
    }

    #[test]
    fn phases_carry_machine_names_once_a_test_has_several_machines() {
        let took = [("boot_to_phone_home", Duration::from_millis(1500))];
        let mut one = StartRecord::default();
        one.add_start("main", StartKind::Cold, None, TCG.into(), &took, false);
        let mut grown = one.clone();
        grown.add_start("vm2", StartKind::Cold, None, TCG.into(), &took, false);
        let mut declared = StartRecord::default();
        declared.add_start("main", StartKind::Cold, None, TCG.into(), &took, true);

        assert_eq!(Vec::from_iter(one.phases.keys()), ["boot_to_phone_home_s"]);
        assert_eq!(
            Vec::from_iter(grown.phases.keys()),
            ["main.boot_to_phone_home_s", "vm2.boot_to_phone_home_s"]
        );
        assert_eq!(
            Vec::from_iter(declared.phases.keys()),
            ["main.boot_to_phone_home_s"]
        );
        assert_eq!(grown.phases["vm2.boot_to_phone_home_s"], 1.5);
    }

    #[test]
    fn a_written_record_reads_back_as_results_json_keys() {
        let dir = tempfile::tempdir().expect("dir");
        let mut record = StartRecord::default();
        record.add_start(
            "main",
            StartKind::Warm,
            Some("1a2b"),
            TCG.into(),
            &[],
            false,
        );

        record.write(dir.path()).expect("written");
        let text = std::fs::read_to_string(dir.path().join("start.json")).expect("read");

        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            json,
            serde_json::json!({"start": "warm", "template": "1a2b", "accel": {"main": TCG}})
        );
        assert_eq!(StartRecord::read(dir.path()).expect("reads"), Some(record));
    }
}
