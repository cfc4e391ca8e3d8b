//! A machine's firmware and TPM ([`MachineDesc::firmware`],
//! [`MachineDesc::tpm`]): UEFI from QEMU's firmware descriptors with the
//! machine's own copy of the variable store in the test's scratch folder, and
//! swtpm's state there too, its log in the test's log folder.
//!
//! Such a machine boots: its variable store and its TPM's state are files of
//! the test, which a template does not carry (`test.log` says so).
//!
//! [`MachineDesc::firmware`]: crate::MachineDesc::firmware
//! [`MachineDesc::tpm`]: crate::MachineDesc::tpm

use kennel_machine::firmware::{self, Firmware};
use kennel_machine::tpm::{TpmConfig, TpmVersion};
use kennel_machine::{MachineConfig, QemuInstall};

use crate::desc::Workspace;
use crate::guest::GuestProblem;
use crate::{PrepareError, VmError};

/// Before the guest is wired in: a UEFI machine without a type gets the one
/// its firmware is made for (`q35` on x86_64, `virt` on aarch64).
pub(crate) fn machine_type(config: &mut MachineConfig, firmware: Option<Firmware>) {
    if firmware == Some(Firmware::Uefi) && config.machine_type.is_none() {
        config.machine_type = firmware::default_machine(&config.target_arch()).map(str::to_owned);
    }
}

/// Wire the firmware and the TPM into `config`; the reason the machine boots
/// rather than starts warm, when it has either.
pub(crate) fn apply(
    config: &mut MachineConfig,
    firmware: Option<Firmware>,
    tpm: Option<TpmVersion>,
    workspace: &Workspace,
) -> Result<Option<String>, VmError> {
    let name = config.name.clone();
    let mut cold = Vec::new();
    if firmware == Some(Firmware::Uefi) {
        let mut pflash = find(config).map_err(|e| VmError::Prepare {
            machine: name.clone(),
            source: PrepareError::Firmware(Box::new(e)),
        })?;
        let vars = workspace.scratch.join(format!("{name}-efivars.fd"));
        pflash.copy_vars(&vars).map_err(|e| VmError::Prepare {
            machine: name.clone(),
            source: PrepareError::Firmware(Box::new(e)),
        })?;
        workspace.log.line(&format!(
            "machine `{name}`: UEFI {} (descriptor {}), variables {} (a copy of {}){}",
            pflash.code.display(),
            pflash.descriptor.display(),
            pflash.vars.display(),
            pflash.template.display(),
            if pflash.smm { ", SMM" } else { "" }
        ));
        config.pflash = Some(pflash);
        cold.push("`firmware = \"uefi\"`: its variable store is a file of the test's, which a template does not carry");
    }
    if let Some(version) = tpm {
        if kennel_config::which(kennel_machine::tpm::SWTPM).is_none() {
            return Err(VmError::Unavailable(GuestProblem::NoSwtpm));
        }
        let log = if workspace.several {
            format!("swtpm-{name}.log")
        } else {
            "swtpm.log".to_string()
        };
        config.tpm = Some(TpmConfig {
            version,
            state_dir: workspace.scratch.join(format!("{name}-tpm")),
            log: workspace.logdir.join(log),
        });
        cold.push("`tpm`: swtpm's state is not saved with a template");
    }
    Ok((!cold.is_empty()).then(|| cold.join("; ")))
}

/// The UEFI firmware for the machine, from the descriptors of its QEMU's
/// install first.
fn find(config: &MachineConfig) -> Result<firmware::Pflash, firmware::FirmwareError> {
    let install = config
        .resolve_binary()
        .map(|b| QemuInstall::of(&b.path))
        .unwrap_or_default();
    let arch = config.target_arch();
    let machine = config.machine_type.clone().unwrap_or_default();
    firmware::find(&arch, &machine, &firmware::descriptor_dirs(&install))
}
