//! Warm starts of cloud-init guests. The template owns what the guest was
//! seeded with: its disk (a qcow2 overlay over the image), its NoCloud seed
//! and an SSH key of its own, all kept beside the state. A test restores the
//! state over a private overlay on the template's disk, reaches the guest over
//! SSH with the template's key, and authorizes the job's key before its first
//! step, so the job's key (the one `cmdline`'s `ssh` line names) works as after
//! a boot.

use std::path::Path;
use std::time::Instant;

use kennel_machine::{LogSink, MachineConfig};
use kennel_ssh::KeyPair;

use super::template::{Miss, Ready, Template, WarmError};
use crate::cloud::{CloudBoot, CloudSource, JobKey, Seed};
use crate::vm::Vm;
use crate::VmError;

/// The template's SSH key (private; `.pub` beside it).
const KEY: &str = "id_ed25519";
/// The template's disk: an overlay over the image, frozen once saved.
const DISK: &str = "disk.qcow2";
/// The template's NoCloud seed, attached again (read-only) on every restore.
const SEED: &str = "seed.img";

/// A template's cloud pieces, made in its folder.
pub(super) struct Wired {
    boot: CloudBoot,
    key: KeyPair,
}

/// Make the template's key, disk and seed in `dir` and wire them, with the
/// user-mode network and its SSH forward, into `config`.
pub(super) fn wire_template(
    config: &mut MachineConfig,
    source: &CloudSource,
    dir: &Path,
) -> Result<Wired, Miss> {
    let key = KeyPair::generate().map_err(|e| WarmError::MakeKey(Box::new(e)))?;
    let key_path = dir.join(KEY);
    key.write_private(&key_path)
        .map_err(|source| WarmError::WriteKey {
            path: key_path.clone(),
            source: Box::new(source),
        })?;
    let public = key.public_openssh("kennel-template");
    let _ = std::fs::write(dir.join(format!("{KEY}.pub")), format!("{public}\n"));
    let overlay = match &source.image {
        Some(image) => {
            let disk = dir.join(DISK);
            crate::cloud::make_overlay(&source.qemu_img, image, &disk).map_err(WarmError::from)?;
            Some(disk)
        }
        None => None,
    };
    let seed = crate::cloud::make_seed(
        &config.name,
        source.user_data.as_deref(),
        &public,
        &dir.join(SEED),
    )
    .map_err(WarmError::from)?;
    let boot = CloudBoot {
        overlay,
        seed: Some(seed),
    };
    boot.apply(config);
    Ok(Wired { boot, key })
}

/// Wait for the template's guest to phone home and take SSH (as a test's
/// boot would, by `deadline`), then close the session: the state is saved
/// with the guest idle.
pub(super) fn wait_template(
    vm: &mut Vm,
    wired: &Wired,
    launched_at: Instant,
    deadline: Instant,
) -> Result<Ready, Miss> {
    let ready = vm
        .wait_for_cloud_ready(&wired.boot, &wired.key, launched_at, deadline)
        .map_err(Miss::Boot)?;
    let host_key = ready.host_key.clone();
    ready.ssh.close();
    Ok(Ready::Ssh { host_key })
}

/// The command line of a restore: `config` (the machine before its cloud
/// pieces) with a private overlay over the template's disk, made at
/// `overlay`, and the template's seed.
pub(super) fn restore_config(
    config: &MachineConfig,
    source: &CloudSource,
    template: &Template,
    overlay: &Path,
) -> Result<MachineConfig, Miss> {
    let mut c = config.clone();
    let disk = match &source.image {
        Some(_) => {
            // `prepare` made an overlay over the image there, for a boot.
            let _ = std::fs::remove_file(overlay);
            crate::cloud::make_overlay(&source.qemu_img, &template.dir.join(DISK), overlay)
                .map_err(WarmError::from)?;
            Some(overlay.to_path_buf())
        }
        None => None,
    };
    CloudBoot {
        overlay: disk,
        // Only the seed's disk is wired in; the guest read its instance id
        // when the template booted.
        seed: Some(Seed {
            path: template.dir.join(SEED),
            instance_id: String::new(),
        }),
    }
    .apply(&mut c);
    Ok(c)
}

/// Reach a restored guest over SSH with the template's key (its host key
/// pinned) and authorize the job's key for [`crate::cloud::GUEST_USER`].
pub(super) fn reconnect(
    vm: &mut Vm,
    template: &Template,
    job_key: &JobKey,
    deadline: Instant,
    cmdline: &LogSink,
) -> Result<(), Miss> {
    let Ready::Ssh { host_key } = &template.ready else {
        return Err(WarmError::NotSsh.into());
    };
    let key_path = template.dir.join(KEY);
    let key = crate::cloud::load_key(&key_path)
        .map_err(|e| WarmError::Cloud(Box::new(e)))?
        .key;
    vm.reconnect_ssh(&key, host_key.clone(), job_key, deadline, cmdline)
        .map_err(|e: VmError| WarmError::Reconnect(Box::new(e)).into())
}
