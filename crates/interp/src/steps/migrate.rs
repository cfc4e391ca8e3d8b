//! `migrate = { from, to, ... }`: one machine's state moved into another
//! through the machine core's one migration ([`kennel_vm::Vm::migrate_to`]);
//! the destination, unless it runs already, is started by the step with
//! `-incoming defer`.

use kennel_spec::migrate::MigrateSpec;
use kennel_spec::{render_value, Value};
use kennel_vm::{MigrateError, Migration};

use super::StepError;
use crate::case::Case;
use crate::context::StepTime;
use crate::vars::StepVars;

/// Run a `migrate` step by `time`'s deadline.
pub(super) fn migrate(
    case: &mut Case<'_>,
    spec: &MigrateSpec,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let vars = StepVars::of(&case.ctx, &case.saved);
    let parameters = match spec.parameters.as_ref().map(|p| render_value(p, &vars)) {
        None => serde_json::Map::new(),
        Some(Ok(Value::Object(map))) => map,
        Some(Ok(other)) => {
            return Err(StepError::Error(format!(
                "`parameters` is not a table: {other}"
            )))
        }
        Some(Err(e)) => return Err(e.into()),
    };
    let migration = Migration {
        transport: spec.transport,
        capabilities: spec.capabilities.clone(),
        parameters,
        postcopy: spec.postcopy,
    };
    let source = case.slots.machine(&spec.from)?;
    if !source.is_running() {
        return Err(StepError::Error(format!(
            "machine `{}` cannot migrate: {}",
            spec.from,
            source.exited_description()
        )));
    }
    let waiting = case
        .slots
        .launched(&spec.to)?
        .is_some_and(|vm| vm.is_running());
    if !waiting {
        case.launch_as(&spec.to, time, true)?;
    }
    let mut dest = case
        .slots
        .take(&spec.to)
        .ok_or_else(|| StepError::never_launched(&spec.to))?;
    let scratch = case.ctx.tmp.clone();
    let migrated = match (
        case.slots.machine(&spec.from)?.as_vm_mut(),
        dest.as_vm_mut(),
    ) {
        (Some(src), Some(dst)) => Ok(src.migrate_to(dst, &migration, &scratch, time.deadline)),
        _ => Err(StepError::Error(
            "these machines cannot migrate (not QEMU machines of the machine core)".into(),
        )),
    };
    case.slots.set(&spec.to, dest);
    match migrated? {
        Ok(_) => Ok(None),
        Err(e) => Err(verdict(e, time)),
    }
}

/// A migration that did not happen: FAIL when QEMU or the guest failed it
/// (QEMU's words), ERROR when it could not start as written.
fn verdict(e: MigrateError, time: &StepTime) -> StepError {
    let why = kennel_machine::error_chain(&e);
    match e {
        MigrateError::Timeout { .. } if time.test_is_over() => StepError::Interrupted(why),
        MigrateError::Different { .. }
        | MigrateError::NotReady { .. }
        | MigrateError::NoMonitor { .. } => StepError::Error(why),
        _ => StepError::Fail(why),
    }
}
