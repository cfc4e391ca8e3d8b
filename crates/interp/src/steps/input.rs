//! Keyboard and mouse steps: `keys`, `type` and `mouse`, through the
//! machine core's input (QMP `send-key`, `input-send-event`).

use kennel_machine::QmpError;
use kennel_spec::keys::{text_keys, KeyCombo, MouseAction};
use kennel_spec::{Template, Value, Vars};
use kennel_vm::InputError;

use super::qmp::qmp_gone;
use super::StepError;
use crate::context::StepTime;
use crate::running::RunningMachine;
use crate::slots::On;

/// `keys = ["ctrl-alt-f2", "ret"]`: press each combination in turn.
pub(super) fn keys(
    mut on: On<'_, '_>,
    combos: &[KeyCombo],
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let m = on.machine()?;
    m.send_keys(combos, time.deadline)
        .map_err(|e| input_failed(m, e, time))?;
    Ok(None)
}

/// `type = "text"`: the text's key presses on a US keyboard.
pub(super) fn type_text(
    mut on: On<'_, '_>,
    text: &Template,
    vars: &dyn Vars,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let text = text.render(vars)?;
    let combos = text_keys(&text).map_err(|e| StepError::Error(e.to_string()))?;
    let m = on.machine()?;
    m.send_keys(&combos, time.deadline)
        .map_err(|e| input_failed(m, e, time))?;
    Ok(None)
}

/// `mouse = { move = [x, y], click = "left" }`.
pub(super) fn mouse(
    mut on: On<'_, '_>,
    action: &MouseAction,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let m = on.machine()?;
    m.mouse(action, time.deadline)
        .map_err(|e| input_failed(m, e, time))?;
    Ok(None)
}

/// The verdict for input that did not go through: a timeout is the step's
/// (or the test's) time running out; QEMU refusing it, or gone, an ERROR.
pub(super) fn input_failed(
    m: &mut dyn RunningMachine,
    e: InputError,
    time: &StepTime,
) -> StepError {
    match e {
        InputError::Timeout { done, total } => time.timed_out(format!(
            "the key presses to be sent ({done} of {total} sent)"
        )),
        InputError::Exchange {
            what,
            source: QmpError::Timeout { .. },
        } => time.timed_out(format!("QEMU to take {what}")),
        InputError::Exchange { source, .. } => qmp_gone(m, source),
        other => StepError::Error(kennel_machine::error_chain(&other)),
    }
}
