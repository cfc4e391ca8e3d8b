//! Launching a declared machine through the [`MachineLauncher`] seam, and the
//! verdict for one that could not be made ready.
//!
//! [`MachineLauncher`]: crate::running::MachineLauncher

use std::time::{Duration, Instant};

use kennel_vm::{Deadlines, VmError, Workspace};

use crate::case::Case;
use crate::context::StepTime;
use crate::machines;
use crate::slots::On;
use crate::steps::{check_exit, StepError};
use crate::vars::StepVars;

impl Case<'_> {
    /// Launch one declared machine through the machine core, and wait for its
    /// guest; checks `expect_exit` right away.
    /// Every wait ends by `time`'s deadline: the test's deadline, or the
    /// deadline of the step that needs the machine when that comes first.
    pub(crate) fn launch(&mut self, name: &str, time: &StepTime) -> Result<(), StepError> {
        self.launch_as(name, time, false)
    }

    /// [`Case::launch`]; `incoming`: as a migration's destination, waiting
    /// with `-incoming defer`.
    pub(crate) fn launch_as(
        &mut self,
        name: &str,
        time: &StepTime,
        incoming: bool,
    ) -> Result<(), StepError> {
        let spec = self.slots.spec(name)?;
        let vars = StepVars::of(&self.ctx, &self.saved);
        let env = &self.launching.env;
        let mut desc = machines::desc(spec, &vars, env, &self.ctx.file.dir)?;
        desc.cold = machines::cold_because(spec, self.ctx.file);
        if incoming {
            desc.incoming_migration();
        }
        let model = spec
            .nic_model
            .as_deref()
            .unwrap_or(kennel_vm::network::DEFAULT_NIC_MODEL);
        for network in &spec.networks {
            let nic = self
                .networks
                .join(network, name, model)
                .map_err(|e| StepError::Error(kennel_machine::error_chain(&e)))?;
            desc.nics.push(nic);
        }
        let workspace = Workspace {
            scratch: self.ctx.tmp.clone(),
            log: self.log.clone(),
            cmdline: self.launching.cmdline.clone(),
            several: env.several,
            logdir: self.ctx.logdir.clone(),
            warm_cache: kennel_vm::warm::WarmCache::user_default(),
        };
        let launched_at = Instant::now();
        let clock = &self.ctx.clock;
        let vm = self
            .launching
            .launcher
            .launch(
                desc,
                &workspace,
                Deadlines {
                    until: time.deadline,
                    test_until: clock.deadline,
                    timeout: clock.timeout,
                },
            )
            .map_err(|e| not_ready(name, e, time))?;
        vm.record_start(&mut self.started, env.several);
        // Also for the runner, should this process be killed before its result.
        let _ = self.started.write(&self.ctx.logdir);
        self.slots.set(name, vm);
        if let Some(expect) = &spec.expect_exit {
            let limit = expect.timeout.unwrap_or(Duration::from_secs(30));
            let time = time.ending_by(launched_at + limit);
            let vars = StepVars::of(&self.ctx, &self.saved);
            let on = On::new(&mut self.slots, name);
            check_exit(on, expect, &vars, &self.log, &time)?;
        }
        Ok(())
    }
}

/// The verdict for a machine that could not be made ready.
fn not_ready(name: &str, e: VmError, time: &StepTime) -> StepError {
    let late = time.test_is_over();
    let why = kennel_machine::error_chain(&e);
    match e {
        VmError::Unavailable(_) => StepError::Skip(why),
        VmError::Launch { .. } if late => {
            time.timed_out(format!("machine `{name}` to launch: {why}"))
        }
        VmError::NotUp { .. } if late => StepError::Interrupted(why),
        VmError::NotUp { .. } => StepError::Fail(why),
        VmError::Prepare { .. } | VmError::Launch { .. } | VmError::Setup { .. } => {
            StepError::Error(why)
        }
    }
}
