//! What a case does before its first step: its assets fetched and verified,
//! the built-in guest's files for `${guest_kernel}` / `${guest_initrd}`, and
//! its requirements checked.

use std::path::{Path, PathBuf};

use kennel_machine::find_qemu;
use kennel_results::{Outcome, Status};
use kennel_spec::TestFile;

use crate::case::Case;
use crate::requires;
use crate::steps::StepError;
use crate::vars::StepVars;

impl Case<'_> {
    /// The variables before any step has saved one.
    fn vars(&self) -> StepVars<'_> {
        StepVars::of(&self.ctx, &self.saved)
    }

    /// Fetch (or find in the cache) and verify every declared asset.
    pub(crate) fn resolve_assets(&mut self) -> Result<(), Box<Outcome>> {
        if self.ctx.file.assets.is_empty() {
            return Ok(());
        }
        for (name, spec) in &self.ctx.file.assets {
            let spec = spec.render(&self.vars()).map_err(|e| {
                Box::new(Outcome::with(
                    Status::Error,
                    format!("in `[assets.{name}]`: {e}"),
                ))
            })?;
            let path = kennel_vm::resolve_asset(
                &spec,
                &self.ctx.file.dir,
                &self.ctx.asset_policy,
                &self.log,
            )
            .map_err(|e| {
                let status = if e.is_skip() {
                    Status::Skip
                } else {
                    Status::Error
                };
                Box::new(Outcome::with(status, kennel_machine::error_chain(&e)))
            })?;
            self.ctx.assets.insert(name.clone(), path);
        }
        Ok(())
    }

    /// Why the test SKIPs; a `[requires]` whose values do not render is an ERROR.
    pub(crate) fn unmet_requirement(&self) -> Result<Option<String>, StepError> {
        self.ctx
            .file
            .requires
            .render(&self.vars())
            .map_err(|e| StepError::Error(format!("in `[requires]`: {e}")))?;
        Ok(skip_reason(
            self.ctx.file,
            &self.vars(),
            self.launching.env.qemu_option.as_deref(),
            &qemu_arch(),
        ))
    }

    /// `${guest_kernel}` and `${guest_initrd}`: the built-in guest for the main
    /// machine's architecture, built only when the file uses them.
    pub(crate) fn prepare_guest_files(&mut self) -> Result<(), StepError> {
        let uses = |names: Vec<String>| {
            names
                .iter()
                .any(|n| n == "guest_kernel" || n == "guest_initrd")
        };
        let used = self
            .ctx
            .file
            .machines
            .iter()
            .any(|m| uses(kennel_spec::machine_vars(m)))
            || self
                .ctx
                .file
                .steps
                .iter()
                .any(|s| uses(kennel_spec::step_vars(s)));
        if !used {
            return Ok(());
        }
        let arch = self
            .ctx
            .file
            .machines
            .first()
            .and_then(|m| m.arch.as_ref())
            .and_then(|a| a.render(&self.vars()).ok())
            .unwrap_or_else(|| kennel_machine::host_arch().to_string());
        match kennel_vm::guest::build(&arch, None, None, false, &[]) {
            Ok(g) => {
                self.log.line(&format!(
                    "guest_kernel = {}, guest_initrd = {}",
                    g.image.kernel.display(),
                    g.image.initrd.display()
                ));
                self.ctx.guest_files = Some((g.image.kernel, g.image.initrd));
                Ok(())
            }
            Err(p) if p.is_missing() => Err(StepError::Skip(kennel_machine::error_chain(&p))),
            Err(p) => Err(StepError::Error(kennel_machine::error_chain(&p))),
        }
    }
}

/// `kennel run --qemu-arch` in a test process: `KENNEL_QEMU_ARCH`.
pub(crate) fn qemu_arch() -> Vec<kennel_machine::ArchBinary> {
    kennel_config::Config::get()
        .map(|c| c.qemu_arch.clone())
        .unwrap_or_default()
}

/// Why a test would SKIP before it launches anything (`[requires]`, with
/// `${...}` substituted from `vars`; no QEMU for an architecture the test is
/// tagged for; only another QEMU than the run's for its main machine's
/// architecture, which one QEMU per run leaves out); `None` when it can run.
/// `kennel list` shows this too.
pub fn skip_reason(
    file: &TestFile,
    vars: &dyn kennel_spec::Vars,
    qemu: Option<&Path>,
    qemu_arch: &[kennel_machine::ArchBinary],
) -> Option<String> {
    let requires = match file.requires.render(vars) {
        Ok(r) => r,
        Err(e) => return Some(format!("`[requires]` does not render: {e}")),
    };
    let main = file
        .machines
        .iter()
        .find(|m| m.name == "main")
        .or_else(|| file.machines.first())?;
    let arch = main
        .arch
        .as_ref()
        .and_then(|a| a.render(vars).ok())
        .unwrap_or_else(|| kennel_machine::host_arch().to_string());
    let explicit = main
        .binary
        .as_ref()
        .and_then(|b| b.render(vars).ok())
        .map(PathBuf::from);
    let found = find_qemu(&arch, explicit.as_deref(), qemu, qemu_arch);
    let arch_tagged =
        file.tags.iter().any(|t| t == &format!("arch:{arch}")) || requires.arch.contains(&arch);
    match &found {
        Err(e @ kennel_machine::MachineError::NotTheSameQemu { .. }) => return Some(e.to_string()),
        Err(e) if arch_tagged => return Some(e.to_string()),
        _ => {}
    }
    let binary = found.ok();
    let binary_for = |a: &str| find_qemu(a, None, qemu, qemu_arch).is_ok();
    requires::unmet(
        &requires,
        binary.as_ref().map(|b| b.path.as_path()),
        &binary_for,
    )
}
