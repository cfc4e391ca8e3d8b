//! Machines booted from disk images (`image`), and cloud-init guests
//! (`cloud_init`) reached over SSH: the pieces shared by declarative tests and
//! the Rust API (both through [`crate::prepare`]).
//!
//! Before launch, [`prepare`] makes the machine's private qcow2 overlay (the
//! image itself is never written) and, with cloud-init, a NoCloud seed carrying
//! a per-test instance id, the job's public key and the phone-home URL;
//! [`CloudBoot::apply`] wires them and a user-mode network with an SSH port
//! forward into the QEMU command line. After launch, [`CloudBoot::wait_ready`]
//! learns the forwarded port from QEMU, waits for the guest to phone home and
//! opens the SSH session, timing each phase.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kennel_cloud::{PhoneHome, SeedConfig};
use kennel_machine::{Machine, MachineConfig};
use kennel_ssh::{ConnectOptions, KeyPair, Session};

use crate::SetupError;

/// The user cloud-init creates in the guest, with the job's key.
pub const GUEST_USER: &str = "kennel";

/// The id of the user-mode network kennel adds for cloud-init guests.
const NETDEV_ID: &str = "kennel-net";

/// The job's SSH key: made by the first test that needs it, shared by the
/// job's other tests (each a process of its own).
pub struct JobKey {
    /// The key pair.
    pub key: KeyPair,
    /// Its private key file (mode 0600), for `ssh -i` by a human reproducing a test.
    pub path: PathBuf,
}

/// Why the cloud pieces of a machine (the job's key, the overlay, the
/// cloud-init seed) could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CloudSetupError {
    /// The key's folder could not be made.
    #[error("cannot create {}", path.display())]
    KeyDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// No key could be made.
    #[error("cannot make an SSH key")]
    MakeKey(#[source] Box<kennel_ssh::SshError>),
    /// The key could not be written.
    #[error("cannot write {}", path.display())]
    WriteKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<kennel_ssh::SshError>,
    },
    /// The key could not be linked into place.
    #[error("cannot write {}", path.display())]
    LinkKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The key could not be read.
    #[error("cannot read {}", path.display())]
    ReadKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<kennel_ssh::SshError>,
    },
    /// The phone-home server did not start.
    #[error(transparent)]
    PhoneHome(Arc<kennel_cloud::CloudError>),
    /// A cloud-init machine without the job's key.
    #[error("cloud-init needs the job's SSH key")]
    NoKey,
    /// The image's path could not be made absolute.
    #[error("image {}", path.display())]
    ImagePath {
        /// The image.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The image is not there.
    #[error("image {} does not exist", path.display())]
    NoImage {
        /// The image (absolute).
        path: PathBuf,
    },
    /// The overlay, the instance id or the seed could not be made.
    #[error(transparent)]
    Cloud(Box<kennel_cloud::CloudError>),
}

impl From<kennel_cloud::CloudError> for CloudSetupError {
    fn from(e: kennel_cloud::CloudError) -> CloudSetupError {
        CloudSetupError::Cloud(Box::new(e))
    }
}

/// Load the job key from `dir` (`dir/id_ed25519`), making it first if there is none.
/// Safe against other processes doing the same at the same time: the key is
/// written under a private name and linked into place; the loser loads the winner's.
pub fn job_key(dir: &Path) -> Result<JobKey, CloudSetupError> {
    let path = dir.join("id_ed25519");
    if path.exists() {
        return load_key(&path);
    }
    std::fs::create_dir_all(dir).map_err(|source| CloudSetupError::KeyDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let key = KeyPair::generate().map_err(|e| CloudSetupError::MakeKey(Box::new(e)))?;
    let staging = dir.join(format!("id_ed25519.{}.tmp", std::process::id()));
    key.write_private(&staging)
        .map_err(|source| CloudSetupError::WriteKey {
            path: staging.clone(),
            source: Box::new(source),
        })?;
    let linked = std::fs::hard_link(&staging, &path);
    let _ = std::fs::remove_file(&staging);
    match linked {
        Ok(()) => {
            let public = format!("{}\n", key.public_openssh("kennel-job"));
            let _ = std::fs::write(dir.join("id_ed25519.pub"), public);
            Ok(JobKey { key, path })
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => load_key(&path),
        Err(source) => Err(CloudSetupError::LinkKey { path, source }),
    }
}

/// The key at `path` (the job's, or a template's).
pub(crate) fn load_key(path: &Path) -> Result<JobKey, CloudSetupError> {
    let key = KeyPair::load(path).map_err(|source| CloudSetupError::ReadKey {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    Ok(JobKey {
        key,
        path: path.to_path_buf(),
    })
}

/// The phone-home server of this process: started on first use, shared by all
/// its machines (each has its own instance id). Once it failed to start, every
/// call returns that error.
pub fn phone_home() -> Result<&'static PhoneHome, Arc<kennel_cloud::CloudError>> {
    static SERVER: OnceLock<Result<PhoneHome, Arc<kennel_cloud::CloudError>>> = OnceLock::new();
    SERVER
        .get_or_init(|| PhoneHome::start().map_err(Arc::new))
        .as_ref()
        .map_err(Arc::clone)
}

/// What a machine with `image` or `cloud_init` asks for.
pub struct CloudRequest<'a> {
    /// The machine's name (also the guest's host name, made safe).
    pub machine: &'a str,
    /// The disk image to boot through a private overlay.
    pub image: Option<&'a Path>,
    /// cloud-init: `Some` with the user's own user-data, if any.
    pub cloud_init: Option<Option<String>>,
    /// Where the overlay and the seed go (the test's scratch folder).
    pub scratch: &'a Path,
    /// `qemu-img`.
    pub qemu_img: &'a Path,
    /// The job's key (needed with `cloud_init`).
    pub key: Option<&'a JobKey>,
}

/// What a cloud-init machine's template is made of: the machine before its
/// per-test overlay, seed and network are wired in, and what they are made
/// from (the job's key and the test's instance id are not in it).
#[derive(Clone)]
pub(crate) struct CloudSource {
    /// QEMU's options without the cloud pieces.
    pub base: MachineConfig,
    /// The disk image (absolute), when the machine boots one.
    pub image: Option<PathBuf>,
    /// The test's own user-data.
    pub user_data: Option<String>,
    /// `qemu-img`.
    pub qemu_img: PathBuf,
}

/// A prepared cloud machine: the files to wire into QEMU.
#[derive(Debug, Clone)]
pub struct CloudBoot {
    /// The private overlay over the image.
    pub overlay: Option<PathBuf>,
    /// cloud-init seed and identity.
    pub seed: Option<Seed>,
}

/// A machine's NoCloud seed.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The seed disk (VFAT, label `CIDATA`).
    pub path: PathBuf,
    /// Unique per test attempt and machine.
    pub instance_id: String,
}

/// The guest phoned home and SSH works.
pub struct CloudReady {
    /// The SSH session, as [`GUEST_USER`].
    pub ssh: Session,
    /// The forwarded host port of the guest's SSH server.
    pub port: u16,
    /// The guest's host key, from its phone-home (pinned for SSH).
    pub host_key: Option<String>,
    /// Launch to phone-home.
    pub boot_to_phone_home: Duration,
    /// Phone-home to an SSH session.
    pub phone_home_to_ssh: Duration,
}

/// Make the overlay and the seed.
pub fn prepare(req: &CloudRequest<'_>) -> Result<CloudBoot, CloudSetupError> {
    let overlay = match req.image {
        Some(image) => {
            let overlay = req.scratch.join(format!("{}-disk.qcow2", req.machine));
            make_overlay(req.qemu_img, image, &overlay)?;
            Some(overlay)
        }
        None => None,
    };
    let seed = match &req.cloud_init {
        Some(user_data) => {
            let key = req.key.ok_or(CloudSetupError::NoKey)?;
            let path = req.scratch.join(format!("{}-seed.img", req.machine));
            Some(make_seed(
                req.machine,
                user_data.as_deref(),
                &key.key.public_openssh("kennel-job"),
                &path,
            )?)
        }
        None => None,
    };
    Ok(CloudBoot { overlay, seed })
}

/// Make `overlay`, a qcow2 file over `image` (which is never written).
pub(crate) fn make_overlay(
    qemu_img: &Path,
    image: &Path,
    overlay: &Path,
) -> Result<(), CloudSetupError> {
    let base = std::path::absolute(image).map_err(|source| CloudSetupError::ImagePath {
        path: image.to_path_buf(),
        source,
    })?;
    if !base.is_file() {
        return Err(CloudSetupError::NoImage { path: base });
    }
    kennel_cloud::create_overlay(qemu_img, &base, overlay)?;
    Ok(())
}

/// Write the NoCloud seed of machine `machine` to `path`: a new instance id,
/// the host name, [`GUEST_USER`] with `authorized_key`, this process's
/// phone-home URL and the test's own `user_data`.
pub(crate) fn make_seed(
    machine: &str,
    user_data: Option<&str>,
    authorized_key: &str,
    path: &Path,
) -> Result<Seed, CloudSetupError> {
    let server = phone_home().map_err(CloudSetupError::PhoneHome)?;
    let instance_id = kennel_cloud::new_instance_id(&host_name(machine))?;
    let config = SeedConfig {
        instance_id: instance_id.clone(),
        hostname: host_name(machine),
        user: GUEST_USER.to_string(),
        authorized_key: authorized_key.to_string(),
        phone_home_url: Some(server.guest_url()),
        extra_user_data: user_data.map(str::to_owned),
    };
    kennel_cloud::write_seed(&config, path)?;
    Ok(Seed {
        path: path.to_path_buf(),
        instance_id,
    })
}

/// Open an SSH session as [`GUEST_USER`] with `key` to the guest's SSH server
/// forwarded to host `port`, pinning `host_key` when known; retried until
/// `deadline`.
pub(crate) fn connect_ssh(
    port: u16,
    key: &KeyPair,
    host_key: Option<String>,
    deadline: Instant,
) -> Result<Session, kennel_ssh::SshError> {
    let options = ConnectOptions {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        user: GUEST_USER.to_string(),
        host_key,
        deadline,
        retry_interval: Duration::from_millis(250),
    };
    Session::connect(&options, key)
}

impl CloudBoot {
    /// Wire the overlay, the seed and (with cloud-init) a user-mode network
    /// with an SSH port forward on a host port the kernel picks (no
    /// collisions between parallel tests) into `config`.
    pub fn apply(&self, config: &mut MachineConfig) {
        if let Some(overlay) = &self.overlay {
            config.extra_args.extend([
                "-drive".to_string(),
                format!(
                    "file={},format=qcow2,if=virtio,discard=unmap",
                    drive_path(overlay)
                ),
            ]);
        }
        if let Some(seed) = &self.seed {
            config.extra_args.extend([
                "-drive".to_string(),
                format!(
                    "file={},format=raw,if=virtio,readonly=on",
                    drive_path(&seed.path)
                ),
                "-netdev".to_string(),
                format!("user,id={NETDEV_ID},hostfwd=tcp:127.0.0.1:0-:22"),
                "-device".to_string(),
                format!("virtio-net-pci,netdev={NETDEV_ID}"),
            ]);
        }
        if self.overlay.is_some() || self.seed.is_some() {
            config.console = true;
            if !config.extra_args.iter().any(|a| a == "-no-reboot") {
                config.extra_args.push("-no-reboot".to_string());
            }
        }
    }

    /// Wait for the guest to phone home, then open an SSH session, both by
    /// `deadline`. A guest that dies or shows a console failure pattern ends
    /// the wait at once.
    pub fn wait_ready(
        &self,
        machine: &mut Machine,
        key: &KeyPair,
        launched_at: Instant,
        deadline: Instant,
    ) -> Result<CloudReady, WaitProblem> {
        let Some(seed) = &self.seed else {
            return Err(WaitProblem::Error(SetupError::NoSeed));
        };
        let port = forwarded_ssh_port(machine, deadline).map_err(WaitProblem::Error)?;
        let server = phone_home().map_err(|e| WaitProblem::Error(SetupError::PhoneHome(e)))?;
        let console = machine.console().ok().cloned();
        let mut exited = false;
        let report = server.wait(&seed.instance_id, deadline, &mut || {
            if !machine.is_running() {
                exited = true;
                return true;
            }
            console.as_ref().is_some_and(|c| c.failed().is_some())
        });
        let last = |console: &Option<kennel_machine::Capture>| {
            console
                .as_ref()
                .map(|c| c.last_lines(15))
                .unwrap_or_default()
        };
        let report = match report {
            Ok(report) => report,
            Err(kennel_cloud::CloudError::Cancelled { .. }) if exited => {
                return Err(WaitProblem::Died(format!(
                    "QEMU exited before the guest phoned home: {}; last console lines:\n{}",
                    machine.exited_description(),
                    last(&console)
                )))
            }
            Err(kennel_cloud::CloudError::Cancelled { .. }) => {
                let pattern = console
                    .as_ref()
                    .and_then(|c| c.failed())
                    .unwrap_or_default();
                return Err(WaitProblem::NotUp(format!(
                    "the console showed {pattern:?} before the guest phoned home; last console lines:\n{}",
                    last(&console)
                )));
            }
            Err(e) => {
                return Err(WaitProblem::NotUp(format!(
                    "{}; last console lines:\n{}",
                    kennel_machine::error_chain(&e),
                    last(&console)
                )))
            }
        };
        let boot_to_phone_home = report.at.saturating_duration_since(launched_at);
        let ssh = connect_ssh(port, key, report.host_key_ed25519.clone(), deadline).map_err(|e| {
            WaitProblem::NotUp(format!(
                "the guest phoned home but SSH on 127.0.0.1:{port} did not work: {}; last console lines:\n{}",
                kennel_machine::error_chain(&e),
                last(&console)
            ))
        })?;
        Ok(CloudReady {
            ssh,
            port,
            host_key: report.host_key_ed25519,
            boot_to_phone_home,
            phone_home_to_ssh: report.at.elapsed(),
        })
    }
}

/// Why a cloud guest is not ready.
#[derive(Debug, thiserror::Error)]
pub enum WaitProblem {
    /// It did not phone home or SSH did not work in time (FAIL): what was
    /// awaited, what happened and the console's last lines.
    #[error("{0}")]
    NotUp(String),
    /// QEMU died (FAIL, with its exit and the console's last lines).
    #[error("{0}")]
    Died(String),
    /// kennel could not do its part (ERROR).
    #[error(transparent)]
    Error(SetupError),
}

/// The host port QEMU bound for the guest's port 22, from `info usernet`.
pub(crate) fn forwarded_ssh_port(
    machine: &mut Machine,
    deadline: Instant,
) -> Result<u16, SetupError> {
    let qmp = machine.qmp().map_err(|e| SetupError::NoQmp(Box::new(e)))?;
    let text = qmp
        .hmp("info usernet", deadline)
        .map_err(|e| SetupError::Usernet(Box::new(e)))?;
    parse_usernet_port(&text, 22).ok_or(SetupError::NoSshForward(text))
}

/// Find the host port forwarded to `guest_port` in `info usernet` output:
/// `TCP[HOST_FORWARD]  13  127.0.0.1 38091  10.0.2.15  22  0  0`.
pub fn parse_usernet_port(text: &str, guest_port: u16) -> Option<u16> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if !fields.first()?.starts_with("TCP[HOST_FORWARD]") || fields.len() < 6 {
            return None;
        }
        let port: u16 = fields[3].parse().ok()?;
        (fields[5].parse::<u16>().ok()? == guest_port).then_some(port)
    })
}

/// A `-drive file=` value: commas doubled, as QEMU's option parser wants.
fn drive_path(path: &Path) -> String {
    path.display().to_string().replace(',', ",,")
}

/// A host name made of the machine name's letters and digits.
pub(crate) fn host_name(machine: &str) -> String {
    let name: String = machine
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "guest".to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernet_port_is_read_from_qemu_72_output() {
        let text = "Hub -1 (kennel-net):\r\n  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n  TCP[HOST_FORWARD]  13       127.0.0.1 38091       10.0.2.15    22     0     0\r\n";
        assert_eq!(parse_usernet_port(text, 22), Some(38091));
        assert_eq!(parse_usernet_port(text, 80), None);
    }

    #[test]
    fn host_names_are_safe() {
        assert_eq!(host_name("main"), "main");
        assert_eq!(host_name("Src_VM.1"), "src-vm-1");
        assert_eq!(host_name("__"), "guest");
    }

    #[test]
    fn the_job_key_is_made_once_and_shared() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = job_key(dir.path()).expect("made");
        let second = job_key(dir.path()).expect("loaded");
        assert_eq!(
            first.key.public_openssh("x"),
            second.key.public_openssh("x")
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&first.path)
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
