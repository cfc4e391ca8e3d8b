//! The test process: runs one case and writes `result.json` in its log folder.
//!
//! The runner starts `kennel __run-test` once per test attempt, in a process
//! group of its own, so that a timeout can kill the test and its QEMUs at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use kennel_spec::Value;

use crate::event::{Outcome, Status};
use crate::interpret::{run_case, CaseRun};

/// Name of the file the test process writes its outcome to.
pub const RESULT_FILE: &str = kennel_layout::RESULT_JSON;

/// What the test process is told.
#[derive(Debug, Clone)]
pub struct ChildArgs {
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
    pub assets: crate::interpret::AssetPolicy,
}

impl ChildArgs {
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

/// Run the case and write its outcome; returns the process exit code (0 when the
/// outcome was written, whatever the status).
pub fn run_child(args: &ChildArgs) -> i32 {
    let outcome = match load_case(args) {
        Ok(case) => run_case(&CaseRun {
            case: &case,
            logdir: &args.logdir,
            qemu_option: args.qemu.clone(),
            timeout: args.timeout,
            assets: args.assets,
        }),
        Err(msg) => Outcome::with(Status::Error, msg),
    };
    match write_outcome(&args.logdir, &outcome) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "kennel: cannot write {}: {e}",
                args.logdir.join(RESULT_FILE).display()
            );
            3
        }
    }
}

fn load_case(args: &ChildArgs) -> Result<kennel_spec::TestCase, String> {
    crate::discover::load_case(&args.file, args.case_index, &args.overrides)
}

fn write_outcome(logdir: &Path, outcome: &Outcome) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(outcome).map_err(std::io::Error::other)?;
    kennel_config::write_atomic(&logdir.join(RESULT_FILE), &bytes)
}

/// Read what a test process wrote.
pub fn read_outcome(logdir: &Path) -> Option<Outcome> {
    let text = std::fs::read(logdir.join(RESULT_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}
