//! How the runner starts the test process of a TOML case (`kennel __run-test`):
//! what it is told, on its command line. The runner writes it
//! ([`CaseArgs::to_args`]); the test process reads it back.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

/// How a test's `[assets]` are resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssetPolicy {
    /// Never download (`--offline`, `KENNEL_NO_DOWNLOAD=1`): a missing asset SKIPs the test.
    pub offline: bool,
    /// With `offline`, a missing asset is an ERROR instead (`--require-assets`).
    pub require: bool,
    /// Accept assets without a hash (`--allow-unverified`).
    pub allow_unverified: bool,
}

/// What the test process is told.
#[derive(Debug, Clone)]
pub struct CaseArgs {
    /// The test file.
    pub file: PathBuf,
    /// Which of the file's cases.
    pub case_index: usize,
    /// `-p` overrides (the same the runner expanded the cases with).
    pub overrides: IndexMap<String, Value>,
    /// The attempt's log folder.
    pub logdir: PathBuf,
    /// Effective test timeout.
    pub timeout: Duration,
    /// `--qemu`.
    pub qemu: Option<PathBuf>,
    /// How assets may be fetched.
    pub assets: AssetPolicy,
}

impl CaseArgs {
    /// The arguments after `__run-test`.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec![
            "--file".into(),
            self.file.to_string_lossy().into_owned(),
            "--case".into(),
            self.case_index.to_string(),
            "--logdir".into(),
            self.logdir.to_string_lossy().into_owned(),
            "--timeout-ms".into(),
            self.timeout.as_millis().to_string(),
            "--params-json".into(),
            Value::Object(self.overrides.clone().into_iter().collect()).to_string(),
        ];
        if let Some(q) = &self.qemu {
            a.push("--qemu".into());
            a.push(q.to_string_lossy().into_owned());
        }
        for (on, flag) in [
            (self.assets.offline, "--offline"),
            (self.assets.require, "--require-assets"),
            (self.assets.allow_unverified, "--allow-unverified"),
        ] {
            if on {
                a.push(flag.into());
            }
        }
        a
    }
}
