//! How a command ended, and the one map from that to the exit status (as in the
//! results contract and the README's "Exit status").

/// Every test passed or was skipped; the command did what it was asked.
pub const OK: i32 = 0;
/// At least one test FAILed, ERRORed or was INTERRUPTED (or what the command
/// checked is not all right: a download failed, `doctor` found something missing).
pub const TESTS_FAILED: i32 = 1;
/// Nothing could run: bad arguments, unreadable or invalid test files.
pub const USAGE: i32 = 2;
/// The tests ran, but a results file (or the job folder) could not be written.
pub const RESULTS_NOT_WRITTEN: i32 = 3;
/// The user interrupted the job (results are still written).
pub const INTERRUPTED: i32 = 130;

/// How a command that did its work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// All well.
    Ok,
    /// Tests failed, or something the command checked is not right.
    Failed,
    /// The user interrupted the job.
    Interrupted,
}

/// Why a command could not do its work. The message is printed once, by `main`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments, or nothing could run.
    #[error("{0}")]
    Usage(String),
    /// The command could not do its work (a guest that cannot be built, no asset cache).
    #[error("{0}")]
    Failed(String),
    /// Results files that could not be written: each message names its file.
    #[error("{}", .0.join("\nkennel: "))]
    ResultsNotWritten(Vec<String>),
}

impl CliError {
    /// A usage error from anything printable.
    pub fn usage(e: impl std::fmt::Display) -> CliError {
        CliError::Usage(e.to_string())
    }

    /// A failure from an error and its causes, on one line.
    pub fn failed(e: &dyn std::error::Error) -> CliError {
        CliError::Failed(kennel_runner::error_chain(e))
    }
}

/// The exit status of a command's result.
pub fn code(result: &Result<Ending, CliError>) -> i32 {
    match result {
        Ok(Ending::Ok) => OK,
        Ok(Ending::Failed) => TESTS_FAILED,
        Ok(Ending::Interrupted) => INTERRUPTED,
        Err(CliError::Usage(_)) => USAGE,
        Err(CliError::Failed(_)) => TESTS_FAILED,
        Err(CliError::ResultsNotWritten(_)) => RESULTS_NOT_WRITTEN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ending_has_its_documented_status() {
        assert_eq!(code(&Ok(Ending::Ok)), 0);
        assert_eq!(code(&Ok(Ending::Failed)), 1);
        assert_eq!(code(&Err(CliError::usage("bad"))), 2);
        assert_eq!(code(&Err(CliError::ResultsNotWritten(vec![]))), 3);
        assert_eq!(code(&Ok(Ending::Interrupted)), 130);
    }

    #[test]
    fn unwritten_results_name_each_file_on_its_line() {
        let e = CliError::ResultsNotWritten(vec![
            "cannot write a/report.html: is a directory".into(),
            "cannot write a/junit.xml: no space".into(),
        ]);

        assert_eq!(
            e.to_string(),
            "cannot write a/report.html: is a directory\nkennel: cannot write a/junit.xml: no space"
        );
    }
}
