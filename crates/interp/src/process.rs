//! The test process: runs one case and writes `result.json` in its log folder.
//!
//! The runner starts `kennel __run-test` once per test attempt, in a process
//! group of its own, so that a timeout can kill the test and its QEMUs at once.

use kennel_config::CaseArgs;
use kennel_results::{Outcome, Status};

use crate::case::{run_case, CaseRun};

/// Run the case and write its outcome; returns the process exit code (0 when the
/// outcome was written, whatever the status).
pub fn run_test_process(args: &CaseArgs) -> i32 {
    let outcome = match load_case(args) {
        Ok(case) => run_case(&CaseRun {
            case: &case,
            logdir: &args.logdir,
            qemu_option: args.qemu.clone(),
            timeout: args.timeout,
            assets: args.assets,
        }),
        Err(e) => Outcome::with(Status::Error, e.to_string()),
    };
    match outcome.write(&args.logdir) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "kennel: cannot write {}: {e}",
                kennel_layout::TestDir::new(&args.logdir)
                    .result_json()
                    .display()
            );
            3
        }
    }
}

fn load_case(args: &CaseArgs) -> Result<kennel_spec::TestCase, kennel_spec::CaseError> {
    kennel_spec::load_case(&args.file, args.case_index, &args.overrides)
}
