//! The serial console's steps: `console` / `console_regex`, `send`, `exec`.

use kennel_machine::{Pattern, WaitError};
use kennel_spec::{Template, TextCheck, Value, Vars};

use super::StepError;
use crate::checks::pattern;
use crate::context::StepTime;
use crate::running::RunningMachine;
use crate::slots::On;

/// `console` / `console_regex`: wait for the text on the console; the value
/// is the match and its groups (`/0`, `/1`, `/name`).
pub(super) fn console(
    mut on: On<'_, '_>,
    check: &TextCheck,
    vars: &dyn Vars,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let pat = pattern(check, vars)?;
    let m = on.machine()?;
    let console = m.console().map_err(error)?.clone();
    match console.wait_for(&pat, time.deadline) {
        Ok(found) => Ok(Some(groups_value(&found.groups, &found.text))),
        Err(e) => Err(wait_failed(m, e, time)),
    }
}

/// `send = "text"`: write it to the console as it is.
pub(super) fn send(
    mut on: On<'_, '_>,
    text: &Template,
    vars: &dyn Vars,
) -> Result<Option<Value>, StepError> {
    let text = text.render(vars)?;
    on.machine()?
        .console_write(text.as_bytes())
        .map_err(error)?;
    Ok(None)
}

/// `exec = "command"`: type it on the console, wait for its echo, then for
/// `expect` (the value) when given.
pub(super) fn exec(
    mut on: On<'_, '_>,
    command: &Template,
    expect: Option<&Template>,
    vars: &dyn Vars,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let command = command.render(vars)?;
    let expect = expect.map(|t| t.render(vars)).transpose()?;
    let m = on.machine()?;
    let console = m.console().map_err(error)?.clone();
    console.skip_to_end();
    m.console_write(format!("{command}\r").as_bytes())
        .map_err(error)?;
    if let Err(e) = console.wait_for(&Pattern::Text(command.clone()), time.deadline) {
        return Err(wait_failed(m, e, time));
    }
    match expect {
        Some(x) => match console.wait_for(&Pattern::Text(x), time.deadline) {
            Ok(found) => Ok(Some(Value::String(found.text))),
            Err(e) => Err(wait_failed(m, e, time)),
        },
        None => Ok(None),
    }
}

/// A machine error the step cannot get past (no console, write failed).
fn error(e: kennel_machine::MachineError) -> StepError {
    StepError::Error(e.to_string())
}

/// The verdict for a console wait that did not find its text.
fn wait_failed(m: &mut dyn RunningMachine, e: WaitError, time: &StepTime) -> StepError {
    match e {
        WaitError::Timeout {
            what,
            last,
            source_name,
        } => time.timed_out(format!("{what} on {source_name}; last lines:\n{last}")),
        WaitError::FailPattern { .. } => StepError::Fail(e.to_string()),
        WaitError::Closed { .. } => StepError::Error(format!("{e}\n{}", m.exited_description())),
        _ => StepError::Error(e.to_string()),
    }
}

/// The value of a console match: the whole match as `0`, and its groups.
fn groups_value(groups: &[(String, String)], whole: &str) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("0".into(), Value::String(whole.to_string()));
    for (k, v) in groups {
        map.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(map)
}
