//! [`StepError`], a step's verdict when it does not pass, and the conversions
//! of the interpreter's errors into it.

use kennel_results::{Outcome, Status};
use kennel_spec::RenderError;

use crate::checks::CheckError;
use crate::machines::DescError;

/// Why a step (or the case's preparation) did not pass. Displayed as the line
/// `test.log` gets: `fail: ...`, `error: ...`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    /// The step failed (or did not pass within its timeout).
    #[error("fail: {0}")]
    Fail(String),
    /// The step cannot run as written (QEMU gone, bad value, no console...).
    #[error("error: {0}")]
    Error(String),
    /// The test's own timeout ran out.
    #[error("interrupted: {0}")]
    Interrupted(String),
    /// Something the test needs is not here.
    #[error("skip: {0}")]
    Skip(String),
}

impl StepError {
    /// The test's outcome: FAIL, ERROR, INTERRUPTED or SKIP with this reason.
    pub fn into_outcome(self) -> Outcome {
        match self {
            StepError::Fail(m) => Outcome::with(Status::Fail, m),
            StepError::Error(m) => Outcome::with(Status::Error, m),
            StepError::Interrupted(m) => Outcome::with(Status::Interrupted, m),
            StepError::Skip(m) => Outcome::with(Status::Skip, m),
        }
    }

    /// The reason prefixed with the step's label ("step 2 (file:line, ...): ");
    /// a SKIP's reason stays as it is.
    pub fn prefixed(self, label: &str) -> StepError {
        match self {
            StepError::Fail(m) => StepError::Fail(format!("{label}: {m}")),
            StepError::Error(m) => StepError::Error(format!("{label}: {m}")),
            StepError::Interrupted(m) => StepError::Interrupted(format!("{label}: {m}")),
            StepError::Skip(m) => StepError::Skip(m),
        }
    }

    /// A step on a machine the test does not declare.
    pub fn unknown_machine(name: &str) -> StepError {
        StepError::Error(format!("no machine named `{name}`"))
    }

    /// A step on a machine declared with `launch = false` and not launched yet.
    pub fn never_launched(name: &str) -> StepError {
        StepError::Error(format!(
            "machine `{name}` was never launched (`launch = false`): add a `launch = true` step first"
        ))
    }
}

/// A `${...}` that does not render: the step cannot run as written.
impl From<RenderError> for StepError {
    fn from(e: RenderError) -> StepError {
        StepError::Error(e.to_string())
    }
}

/// A text check that does not render or compile.
impl From<CheckError> for StepError {
    fn from(e: CheckError) -> StepError {
        StepError::Error(kennel_machine::error_chain(&e))
    }
}

/// A machine table that does not render into a description.
impl From<DescError> for StepError {
    fn from(e: DescError) -> StepError {
        StepError::Error(kennel_machine::error_chain(&e))
    }
}
