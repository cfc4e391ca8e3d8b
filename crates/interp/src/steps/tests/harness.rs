//! Running a TOML case on scripted machines, and reading its outcome.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use kennel_config::AssetPolicy;
use kennel_results::{Outcome, Status};

use super::scripted::{Launcher, Script};
use crate::case::{run_case_with, CaseRun};

/// The test file's path in reasons: `step 1 (t.toml:7, ...)`.
pub(super) const FILE: &str = "t.toml";

/// Run the case `toml` (its header and machine tables written for it) with
/// its `main` machine playing `script`, under the test timeout `timeout`.
pub(super) fn run(toml: &str, script: Script, timeout: Duration) -> Outcome {
    run_machines(toml, vec![("main", script)], timeout)
}

/// [`run`] with several scripted machines.
pub(super) fn run_machines(toml: &str, scripts: Vec<(&str, Script)>, timeout: Duration) -> Outcome {
    let logdir = tempfile::tempdir().expect("log folder");
    run_at(Path::new(FILE), toml, scripts, timeout, logdir.path())
}

/// [`run_machines`] with the test file at `file` (its references beside
/// it) and the log folder `logdir`, kept for the test to read.
pub(super) fn run_at(
    file: &Path,
    toml: &str,
    scripts: Vec<(&str, Script)>,
    timeout: Duration,
    logdir: &Path,
) -> Outcome {
    let file = kennel_spec::load_str(file, toml)
        .expect("the test file loads")
        .expect("it is a test");
    let case = Arc::new(file)
        .cases(&IndexMap::new())
        .expect("cases")
        .remove(0);
    run_case_with(
        &CaseRun {
            case: &case,
            logdir,
            qemu_option: None,
            timeout,
            assets: AssetPolicy::default(),
        },
        &Launcher::new(scripts),
    )
}

/// The status and reason of an outcome, for assertions.
pub(super) fn verdict(outcome: &Outcome) -> (Status, &str) {
    (outcome.status, outcome.reason.as_deref().unwrap_or(""))
}

/// The status and the whole failure text (the reason is its first line).
pub(super) fn verdict_in_full(outcome: &Outcome) -> (Status, &str) {
    let text = outcome.detail.as_deref().or(outcome.reason.as_deref());
    (outcome.status, text.unwrap_or(""))
}

/// Half a second: the timeout of a test that should not take long.
pub(super) const SHORT: Duration = Duration::from_millis(500);

/// Ten seconds: a test timeout that is not reached.
pub(super) const AMPLE: Duration = Duration::from_secs(10);
