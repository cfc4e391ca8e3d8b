//! `kennel report [JOB]` and `kennel report merge DIR...`.

use std::path::PathBuf;

use kennel_layout::ResultsRoot;
use kennel_report::load_results;
use kennel_results::ResultsFile;

use crate::args::{ReportAction, ReportArgs};
use crate::exit::{CliError, Ending};

/// `kennel report`: print a job's summary; `merge`: join shards into one job.
pub fn report(a: ReportArgs) -> Result<Ending, CliError> {
    if let Some(ReportAction::Merge { dirs, results_dir }) = a.action {
        return merge(&dirs, &results_dir);
    }
    let dir = a
        .job
        .unwrap_or_else(|| ResultsRoot::new(&a.results_dir).latest());
    let file = load_results(&dir).map_err(|e| CliError::Usage(kennel_runner::error_chain(&e)))?;
    print!("{}", kennel_report::summary_text(&file));
    Ok(if file.summary.ok() {
        Ending::Ok
    } else {
        Ending::Failed
    })
}

fn merge(dirs: &[PathBuf], results_dir: &std::path::Path) -> Result<Ending, CliError> {
    let job = kennel_report::merge(dirs, results_dir).map_err(|e| match e {
        kennel_report::ReportError::Write { .. } | kennel_report::ReportError::Copy { .. } => {
            CliError::ResultsNotWritten(vec![kennel_runner::error_chain(&e)])
        }
        e => CliError::Usage(kennel_runner::error_chain(&e)),
    })?;
    println!(
        "kennel: merged {} job folders into {}",
        dirs.len(),
        job.display()
    );
    let merged = ResultsFile::read(&job)
        .map_err(|e| CliError::ResultsNotWritten(vec![kennel_runner::error_chain(&e)]))?;
    Ok(if merged.summary.ok() {
        Ending::Ok
    } else {
        Ending::Failed
    })
}
