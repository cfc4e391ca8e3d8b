//! Running one step: its deadline, its attempts while `poll = true`, and the
//! values it saves.

use std::time::{Duration, Instant};

use kennel_spec::{Step, Value};

use super::dispatch::step_once;
use super::StepError;
use crate::case::Case;
use crate::checks::show;

/// How long a polling step waits between attempts.
const POLL_PAUSE: Duration = Duration::from_millis(100);

/// Run one step by its own timeout (or the test's), repeating it while
/// `poll = true` and it fails; then save what it asks to.
pub(crate) fn run_step(case: &mut Case<'_>, step: &Step) -> Result<(), StepError> {
    let time = case.ctx.clock.for_step(step.timeout);
    let mut attempts = 0u32;
    let value = loop {
        attempts += 1;
        match step_once(case, step, &time) {
            Ok(v) => break v,
            Err(StepError::Fail(msg)) if step.poll => {
                let now = Instant::now();
                if now + POLL_PAUSE >= time.deadline {
                    // Up to the deadline itself: the test's deadline running
                    // out is INTERRUPTED, the step's is FAIL.
                    std::thread::sleep(time.deadline.saturating_duration_since(now));
                    return Err(time.timed_out(format!(
                        "the step to pass ({attempts} attempts); last: {msg}"
                    )));
                }
                std::thread::sleep(POLL_PAUSE);
            }
            Err(e) => return Err(e),
        }
    };
    for (name, pointer) in &step.save {
        let found = saved_value(step, value.as_ref(), name, pointer)?;
        case.log.line(&format!("saved {name} = {}", show(found)));
        case.saved.insert(name.clone(), found.clone());
    }
    Ok(())
}

/// What `save.<name> = <pointer>` finds in the step's value.
pub(super) fn saved_value<'v>(
    step: &Step,
    value: Option<&'v Value>,
    name: &str,
    pointer: &str,
) -> Result<&'v Value, StepError> {
    let v = value.ok_or_else(|| {
        StepError::Error(format!(
            "`save` on a {} step, which produces no value",
            step.kind_name()
        ))
    })?;
    v.pointer(pointer).ok_or_else(|| {
        StepError::Fail(format!(
            "save `{name}`: pointer {pointer:?} finds nothing in {}",
            show(v)
        ))
    })
}
