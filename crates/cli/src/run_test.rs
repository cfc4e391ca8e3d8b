//! `kennel __run-test`: the test process the runner starts for one attempt of a case.

use std::time::Duration;

use indexmap::IndexMap;
use kennel_layout::TestDir;
use kennel_spec::Value;

use crate::args::RunTestArgs;
use crate::exit::{CliError, Ending};

/// Run one case and write its `result.json`; the outcome is in the file, so the
/// status says only whether it could be written.
pub fn run_test(a: RunTestArgs) -> Result<Ending, CliError> {
    let overrides: IndexMap<String, Value> =
        serde_json::from_str::<serde_json::Map<String, Value>>(&a.params_json)
            .map_err(|e| CliError::usage(format!("__run-test: bad --params-json: {e}")))?
            .into_iter()
            .collect();
    let args = kennel_config::CaseArgs {
        file: a.file,
        case_index: a.case_index,
        overrides,
        logdir: a.logdir,
        timeout: Duration::from_millis(a.timeout_ms),
        qemu: a.qemu,
        // The job's settings come as variables, like every test process's.
        assets: kennel_config::Config::get()
            .map(kennel_config::Config::asset_policy)
            .unwrap_or_default(),
    };
    match kennel_interp::run_test_process(&args) {
        0 => Ok(Ending::Ok),
        _ => Err(CliError::ResultsNotWritten(vec![format!(
            "cannot write {}",
            TestDir::new(&args.logdir).result_json().display()
        )])),
    }
}
