//! The `run` step: a command in the guest, through the channel the machine
//! core chose (agent, console shell or SSH).

use kennel_spec::{Templ, Template, Value, Vars};
use kennel_vm::{ChannelError, CommandResult};

use super::StepError;
use crate::checks::{cut, regex};
use crate::context::StepTime;
use crate::slots::On;

/// The checks of a `run` step on the command's result.
pub(super) struct RunChecks<'s> {
    /// `exit_code` (default 0).
    pub exit_code: Option<&'s Templ<u8>>,
    /// `stdout`: the whole output, trimmed.
    pub stdout: Option<&'s Template>,
    /// `stdout_contains`.
    pub stdout_contains: Option<&'s Template>,
    /// `stdout_regex`.
    pub stdout_regex: Option<&'s Template>,
    /// `stderr_contains`.
    pub stderr_contains: Option<&'s Template>,
}

/// `run = "command"`: run it in the guest; its result must pass the checks.
/// The value is `{stdout, stderr, exit_code, signal}`.
pub(super) fn run(
    mut on: On<'_, '_>,
    command: &Template,
    checks: RunChecks<'_>,
    vars: &dyn Vars,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let command = command.render(vars)?;
    let text = |t: Option<&Template>| t.map(|t| t.render(vars)).transpose();
    let want_code = checks
        .exit_code
        .map(|c| c.render(vars))
        .transpose()?
        .unwrap_or(0);
    let stdout = text(checks.stdout)?;
    let stdout_contains = text(checks.stdout_contains)?;
    let stdout_regex = match text(checks.stdout_regex)? {
        Some(r) => Some(regex(&r)?),
        None => None,
    };
    let stderr_contains = text(checks.stderr_contains)?;
    let out = match on.machine()?.run(&command, time.deadline) {
        Ok(out) => out,
        Err(ChannelError::Timeout { waiting_for }) => return Err(time.timed_out(waiting_for)),
        Err(e @ ChannelError::ConsoleFailure(_)) => return Err(StepError::Fail(e.to_string())),
        Err(e @ (ChannelError::Unavailable { .. } | ChannelError::Failed { .. })) => {
            return Err(StepError::Error(e.to_string()))
        }
    };
    let failed =
        |what: String| StepError::Fail(format!("`{command}` in the guest: {what}{}", shown(&out)));
    if out.exit_code() != Some(i32::from(want_code)) {
        return Err(failed(format!("expected exit code {want_code}, got ")));
    }
    if let Some(s) = stdout.filter(|s| out.stdout.trim() != s.trim()) {
        return Err(failed(format!("stdout is not {s:?}; ")));
    }
    if let Some(s) = stdout_contains.filter(|s| !out.stdout.contains(s.as_str())) {
        return Err(failed(format!("stdout lacks {s:?}; ")));
    }
    if let Some(r) = stdout_regex.filter(|r| !r.is_match(&out.stdout)) {
        return Err(failed(format!("stdout does not match /{}/; ", r.as_str())));
    }
    if let Some(s) = stderr_contains.filter(|s| !out.stderr.contains(s.as_str())) {
        return Err(failed(format!("stderr lacks {s:?}; ")));
    }
    Ok(Some(serde_json::json!({
        "stdout": out.stdout, "stderr": out.stderr,
        "exit_code": out.exit_code(), "signal": out.signal(),
    })))
}

/// How the command ended and its output, for messages.
fn shown(out: &CommandResult) -> String {
    format!(
        "{}; stdout:\n{}\nstderr:\n{}",
        out.status,
        cut(out.stdout.trim_end(), 1500),
        cut(out.stderr.trim_end(), 1500)
    )
}
