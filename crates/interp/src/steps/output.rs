//! The `output` step: checks on QEMU's own output (stdout and stderr).

use kennel_spec::{TextCheck, Value, Vars};

use super::StepError;
use crate::checks::{found, pattern};
use crate::slots::On;

/// `output = { contains / lacks ... }`: QEMU's output so far must (not)
/// contain the text; the value is the output.
pub(super) fn output(
    mut on: On<'_, '_>,
    contains: Option<&TextCheck>,
    lacks: Option<&TextCheck>,
    vars: &dyn Vars,
) -> Result<Option<Value>, StepError> {
    let contains = contains.map(|c| pattern(c, vars)).transpose()?;
    let lacks = lacks.map(|c| pattern(c, vars)).transpose()?;
    let m = on.machine()?;
    let out = m.output().text();
    let failed = |what: String| {
        StepError::Fail(format!(
            "QEMU output {what}; output:\n{}",
            m.output().last_lines(15)
        ))
    };
    if let Some(p) = contains.filter(|p| !found(p, &out)) {
        return Err(failed(format!("lacks {p}")));
    }
    if let Some(p) = lacks.filter(|p| found(p, &out)) {
        return Err(failed(format!("contains {p}")));
    }
    Ok(Some(Value::String(out)))
}
