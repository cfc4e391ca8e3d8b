//! Starting a machine from its template: the same QEMU command line, its
//! memory mapped copy-on-write from the template's memory file and
//! `-incoming defer` (then `x-ignore-shared` and `migrate-incoming` of the
//! state; see [`super::ram`]), or, for a template keeping its memory in its
//! state, `-incoming "exec:cat STATE"`; `cont` once the state is loaded, the
//! guest's channel taken over and its identity refreshed.

use std::time::Instant;

use kennel_machine::MachineConfig;

use super::ram::{self, Plan, Ram};
use super::template::{find_or_build, resume, Miss, Recipe, Template, WarmError};
use crate::cloud::JobKey;
use crate::desc::{Deadlines, Workspace};
use crate::vm::Vm;
use crate::Start;
use kennel_config::text::shell_quote;

/// How long a restored guest gets to answer (it takes a second or two): one
/// that has not by then is given up, and the machine boots in the time left.
const RESTORE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The console of the template a warm machine came from, copied into the
/// test's log folder (`template-<machine>-console.log` when the test has
/// several machines).
pub const TEMPLATE_CONSOLE_LOG: &str = "template-console.log";

/// Start the machine of `config` (for a cloud guest, before its disk, seed
/// and network are wired in) holding the guest of `recipe` from its template,
/// building the template first when no process has; a cloud guest's SSH
/// takes `job_key` too. [`Miss::Boot`] is the machine's error; [`Miss::Other`]
/// says why it could not start warm: the machine then boots as usual.
pub(crate) fn start(
    config: &MachineConfig,
    recipe: &Recipe<'_>,
    job_key: Option<&JobKey>,
    console_asked: bool,
    workspace: &Workspace,
    deadlines: Deadlines,
) -> Result<Vm, Miss> {
    let name = config.name.clone();
    let log = &workspace.log;
    let cache = workspace.warm_cache.as_ref().ok_or(WarmError::NoCache)?;
    let finding = Instant::now();
    let copy_name = if workspace.several {
        format!("template-{name}-console.log")
    } else {
        TEMPLATE_CONSOLE_LOG.to_owned()
    };
    let copy = workspace.logdir.join(copy_name);
    let template =
        find_or_build(config, recipe, cache, deadlines.until, &copy).inspect_err(|miss| {
            if let Miss::Boot(_) = miss {
                log.line(&format!(
                    "machine `{name}`: its template's boot failed; its console: {}",
                    copy.display()
                ));
            }
        })?;
    let id = template.key.id.clone();
    log.line(&format!(
        "machine `{name}`: template {id} {} in {} ms ({})",
        if template.built {
            "built (booted, saved)"
        } else {
            "found in the cache"
        },
        finding.elapsed().as_millis(),
        template.dir.display()
    ));
    let mut c = match recipe {
        Recipe::Builtin { .. } => config.clone(),
        Recipe::Cloud(source) => super::cloud::restore_config(
            config,
            source,
            &template,
            &workspace.scratch.join(format!("{name}-disk.qcow2")),
        )?,
    };
    let state_uri = format!(
        "exec:cat {}",
        shell_quote(&template.state().to_string_lossy())
    );
    let note = map_memory(&mut c, config, &template, &state_uri)?;
    log.line(&format!("machine `{name}`: {note}"));
    c.launch_timeout = c
        .launch_timeout
        .min(deadlines.until.saturating_duration_since(Instant::now()));
    let found = finding.elapsed();
    let launched_at = Instant::now();
    let machine = crate::start::launch_and_record(
        &c,
        workspace,
        &format!(" from template {id}"),
        &match template.ram {
            Ram::File => format!(
                "# warm start from template {id}: add -monitor stdio, then on the monitor \
                 `migrate_set_capability x-ignore-shared on`, `migrate_incoming {state_uri}` \
                 and `cont`\n"
            ),
            Ram::Stream => format!(
                "# warm start from template {id}: the state loads paused; `cont` on a monitor \
                 (add -monitor stdio) lets it run\n"
            ),
        },
    )
    .map_err(|e| WarmError::Launch(Box::new(e)))?;
    let mut vm = Vm::new(name.clone(), machine, log.clone());
    vm.add_phase("warm_template", found);
    vm.add_phase("warm_launch", launched_at.elapsed());
    vm.set_start(Start::Warm {
        template: id.clone(),
    });
    crate::pause::record(&workspace.logdir, &vm, None);
    let up_by = deadlines.until.min(Instant::now() + RESTORE_LIMIT);
    let qmp = vm
        .machine()
        .qmp()
        .map_err(|e| WarmError::Qmp(Box::new(e)))?;
    let loading = Instant::now();
    load(qmp, template.ram, &state_uri, up_by)?;
    vm.add_phase("warm_load", loading.elapsed());
    let reaching = Instant::now();
    match (recipe, job_key) {
        (Recipe::Builtin { .. }, _) => {
            vm.reconnect(&template.ready, up_by)?;
            vm.add_phase("warm_channel", reaching.elapsed());
        }
        (Recipe::Cloud(_), Some(key)) => {
            super::cloud::reconnect(&mut vm, &template, key, up_by, &workspace.cmdline)?;
            vm.add_phase("restore_to_ssh", launched_at.elapsed());
        }
        (Recipe::Cloud(_), None) => return Err(WarmError::NoJobKey.into()),
    }
    let refreshing = Instant::now();
    let refreshed = vm.refresh_identity(up_by)?;
    vm.add_phase("warm_refresh", refreshing.elapsed());
    if console_asked {
        vm.set_channel(crate::channel::Channel::Console { commands: 0 });
    }
    let boot_log = match std::fs::copy(template.boot_console(), &copy) {
        Ok(_) => copy,
        Err(_) => template.boot_console(),
    };
    log.line(&format!(
        "guest `{name}` is up (warm, template {id}) after {} ms: {refreshed}; the template's boot console: {}",
        launched_at.elapsed().as_millis(),
        boot_log.display()
    ));
    Ok(vm)
}

/// Load the template's state into the restored QEMU behind `qmp` and let it
/// run: for a memory file, `x-ignore-shared` on and `migrate-incoming` first
/// and the capability off again after (a later `migrate` of the test's own
/// sends the memory, as after a boot).
fn load(
    qmp: &kennel_machine::Qmp,
    memory: Ram,
    state_uri: &str,
    deadline: Instant,
) -> Result<(), WarmError> {
    if memory == Ram::File {
        ram::incoming(qmp, state_uri, deadline)?;
    }
    resume(qmp, deadline)?;
    if memory == Ram::File {
        ram::ignore_shared(qmp, false, deadline)?;
    }
    Ok(())
}

/// Wire the template's memory into the restore's `c` (`config` before its
/// cloud pieces): its memory file mapped private and `-incoming defer`, or
/// the state at `state_uri` through the stream. What it did, for the log.
fn map_memory(
    c: &mut kennel_machine::MachineConfig,
    config: &MachineConfig,
    template: &Template,
    state_uri: &str,
) -> Result<String, WarmError> {
    match (template.ram, ram::plan(config)) {
        (Ram::File, Plan::File { bytes, id }) => {
            let file = template.ram_file();
            c.extra_args
                .extend(ram::backend_args(&file, bytes, id, false));
            c.incoming = Some("defer".into());
            Ok(format!(
                "memory mapped copy-on-write from {} (the file is never written)",
                file.display()
            ))
        }
        (Ram::File, Plan::Stream(why)) => Err(WarmError::RamPlan(why)),
        (Ram::Stream, _) => {
            c.incoming = Some(state_uri.to_owned());
            Ok(format!(
                "memory loaded through the migration stream: {}",
                template
                    .stream_why
                    .as_deref()
                    .unwrap_or("the template keeps it in its state")
            ))
        }
    }
}
