//! The machine's lifecycle steps: `launch`, `running`, `exit`, `shutdown`,
//! `kill`.

use std::time::Instant;

use kennel_machine::{ExitInfo, MachineError, Pattern};
use kennel_spec::{ExitExpect, Templ, Value, Vars};
use kennel_vm::{TestLog, SHUTDOWN_GRACE};

use super::StepError;
use crate::case::Case;
use crate::checks::{found, pattern};
use crate::context::StepTime;
use crate::slots::On;

/// `launch = true`: launch a machine declared with `launch = false`.
pub(super) fn launch(
    case: &mut Case<'_>,
    name: &str,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let running = case
        .slots
        .launched(name)
        .ok()
        .flatten()
        .is_some_and(|vm| vm.is_running());
    if running {
        return Err(StepError::Error(format!(
            "machine `{name}` is already running"
        )));
    }
    case.launch(name, time)?;
    Ok(None)
}

/// `running = true|false`: whether QEMU is (still) running.
pub(super) fn running(mut on: On<'_, '_>, want: bool) -> Result<Option<Value>, StepError> {
    let mut machine = on.launched()?;
    let alive = match machine {
        Some(ref mut m) => m.is_running(),
        None => false,
    };
    if alive == want {
        return Ok(None);
    }
    match machine {
        Some(m) if want => Err(StepError::Fail(format!(
            "expected QEMU to be running, but it is not: {}",
            m.exited_description()
        ))),
        None => Err(StepError::Fail(
            "expected QEMU to be running, but it was never launched".into(),
        )),
        Some(_) => Err(StepError::Fail(
            "expected QEMU not to be running, but it is".into(),
        )),
    }
}

/// `exit` (and `expect_exit`): QEMU must exit by itself by `time`'s deadline,
/// with the expected code and output.
pub(crate) fn check_exit(
    mut on: On<'_, '_>,
    expect: &ExitExpect,
    vars: &dyn Vars,
    log: &TestLog,
    time: &StepTime,
) -> Result<(), StepError> {
    let code = expect.code.as_ref().map(|c| c.render(vars)).transpose()?;
    let checks: Vec<(&str, Pattern)> = [
        ("stdout", &expect.stdout),
        ("stderr", &expect.stderr),
        ("output", &expect.output),
    ]
    .into_iter()
    .filter_map(|(n, c)| c.as_ref().map(|c| (n, c)))
    .map(|(n, c)| pattern(c, vars).map(|p| (n, p)))
    .collect::<Result<_, _>>()?;
    let name = on.name;
    let m = on.machine()?;
    let exit = match m.wait_exit(time.deadline) {
        Ok(e) => e,
        Err(MachineError::ExitTimeout { .. }) => {
            let last = m.output().last_lines(10);
            return Err(time.timed_out(format!(
                "QEMU `{name}` to exit by itself; it is still running; output:\n{last}"
            )));
        }
        Err(e) => return Err(StepError::Error(e.to_string())),
    };
    log.line(&format!("`{name}` exited by itself: {exit}"));
    if let Some(c) = code.filter(|c| exit.code != Some(i32::from(*c))) {
        return Err(StepError::Fail(format!(
            "expected exit code {c}, got {exit}; output:\n{}",
            m.output().last_lines(10)
        )));
    }
    for (stream, p) in checks {
        let capture = match stream {
            "stdout" => m.stdout(),
            "stderr" => m.stderr(),
            _ => m.output(),
        };
        if !found(&p, &capture.text()) {
            return Err(StepError::Fail(format!(
                "QEMU's {stream} lacks {p}; {stream}:\n{}",
                capture.last_lines(10)
            )));
        }
    }
    Ok(())
}

/// `shutdown`: QMP `quit` (killed after a grace period); the exit code must
/// be `code` when given. The value is `{code, signal}`.
pub(super) fn shutdown(
    mut on: On<'_, '_>,
    code: Option<&Templ<u8>>,
    vars: &dyn Vars,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let code = code.map(|c| c.render(vars)).transpose()?;
    let m = on.machine()?;
    if !m.is_running() {
        return Err(StepError::Error(format!(
            "cannot shut down: {}",
            m.exited_description()
        )));
    }
    let grace = time
        .deadline
        .saturating_duration_since(Instant::now())
        .min(SHUTDOWN_GRACE);
    let exit = m
        .shutdown(grace)
        .map_err(|e| StepError::Error(e.to_string()))?;
    match code {
        Some(c) if exit.code != Some(i32::from(c)) => Err(StepError::Fail(format!(
            "expected QEMU to exit with code {c} after `quit`, got {exit}; output:\n{}",
            m.output().last_lines(10)
        ))),
        _ => Ok(Some(exit_value(exit))),
    }
}

/// `kill = true`: SIGKILL QEMU. The value is `{code, signal}`.
pub(super) fn kill(mut on: On<'_, '_>) -> Result<Option<Value>, StepError> {
    let exit = on
        .machine()?
        .kill()
        .map_err(|e| StepError::Error(e.to_string()))?;
    Ok(Some(exit_value(exit)))
}

fn exit_value(exit: ExitInfo) -> Value {
    serde_json::json!({"code": exit.code, "signal": exit.signal})
}
