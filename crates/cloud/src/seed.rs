//! NoCloud seed images for cloud-init: a VFAT file system labelled `CIDATA`
//! holding `user-data` and `meta-data`.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::multipart::{multipart, Part};
use crate::yaml::quote;
use crate::{vfat, CloudError};

/// The `Merge-Type` kennel gives the user's own user-data part, so that the
/// user's lists (users, packages, runcmd, ...) are appended to kennel's and
/// dictionaries are merged recursively instead of replacing kennel's.
pub const USER_MERGE_TYPE: &str = "list(append)+dict(recurse_array)+str()";

/// The volume label cloud-init's NoCloud data source looks for.
pub const SEED_LABEL: &str = "CIDATA";

/// A new cloud-init instance id for the machine `name`:
/// `kennel-<12 random hex digits>-<name>`, so that every test attempt is a new
/// instance to cloud-init, and a human can tell which machine it is.
///
/// # Examples
///
/// ```
/// let id = kennel_cloud::new_instance_id("main")?;
/// assert!(id.starts_with("kennel-") && id.ends_with("-main"));
/// assert_ne!(id, kennel_cloud::new_instance_id("main")?);
/// # Ok::<(), kennel_cloud::CloudError>(())
/// ```
pub fn new_instance_id(name: &str) -> Result<String, CloudError> {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(CloudError::Random)?;
    Ok(format!(
        "kennel-{}-{name}",
        kennel_config::text::hex(&bytes)
    ))
}

/// What goes into a NoCloud seed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedConfig {
    /// cloud-init's instance id; a new id makes cloud-init run again on the same disk.
    pub instance_id: String,
    /// The guest's host name (`local-hostname`).
    pub hostname: String,
    /// The user kennel creates, with password-less sudo.
    pub user: String,
    /// The public key allowed to log in as `user`, e.g. `ssh-ed25519 AAAA... comment`.
    pub authorized_key: String,
    /// Where cloud-init posts its phone-home report (see
    /// [`PhoneHome::guest_url`](crate::PhoneHome::guest_url)); no phone-home when `None`.
    pub phone_home_url: Option<String>,
    /// The user's own user-data (usually `#cloud-config ...`), merged after kennel's.
    pub extra_user_data: Option<String>,
}

/// kennel's own `#cloud-config` document.
fn kennel_cloud_config(config: &SeedConfig) -> String {
    let mut doc = String::from("#cloud-config\n");
    doc.push_str("users:\n");
    doc.push_str(&format!("  - name: {}\n", quote(&config.user)));
    doc.push_str("    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n");
    doc.push_str("    shell: \"/bin/sh\"\n");
    doc.push_str("    lock_passwd: true\n");
    doc.push_str("    ssh_authorized_keys:\n");
    doc.push_str(&format!(
        "      - {}\n",
        quote(config.authorized_key.trim())
    ));
    doc.push_str("ssh_pwauth: false\n");
    if let Some(url) = &config.phone_home_url {
        doc.push_str("phone_home:\n");
        doc.push_str(&format!("  url: {}\n", quote(url)));
        doc.push_str("  post: [pub_key_ed25519, instance_id, hostname]\n");
        doc.push_str("  tries: 10\n");
    }
    doc
}

/// The `user-data` file of the seed.
///
/// Without [`extra_user_data`](SeedConfig::extra_user_data) this is kennel's
/// `#cloud-config`: the user with password-less sudo, `/bin/sh` and the
/// authorized key, password login disabled, and `phone_home` when a URL is
/// set. With it, the result is a `multipart/mixed` document: kennel's part
/// first, then the user's part carrying `Merge-Type:` [`USER_MERGE_TYPE`].
///
/// # Examples
///
/// ```
/// use kennel_cloud::{user_data, SeedConfig};
///
/// let config = SeedConfig {
///     instance_id: "vm-1".into(),
///     hostname: "vm1".into(),
///     user: "kennel".into(),
///     authorized_key: "ssh-ed25519 AAAAC3Nza test@host".into(),
///     phone_home_url: Some("http://10.0.2.2:8000/t/$INSTANCE_ID".into()),
///     extra_user_data: None,
/// };
/// let doc = user_data(&config);
/// assert!(doc.starts_with("#cloud-config\n"));
/// assert!(doc.contains("  - name: \"kennel\"\n"));
/// assert!(doc.contains("  url: \"http://10.0.2.2:8000/t/$INSTANCE_ID\"\n"));
/// ```
pub fn user_data(config: &SeedConfig) -> String {
    let kennel = kennel_cloud_config(config);
    let Some(extra) = &config.extra_user_data else {
        return kennel;
    };
    // cloud-init works out the type of text/plain parts from their first line.
    let user_type = if extra.starts_with("#cloud-config") {
        "text/cloud-config"
    } else {
        "text/plain"
    };
    multipart(&[
        Part {
            content_type: "text/cloud-config",
            filename: "kennel.cfg",
            headers: &[],
            body: &kennel,
        },
        Part {
            content_type: user_type,
            filename: "user-data",
            headers: &[("Merge-Type", USER_MERGE_TYPE)],
            body: extra,
        },
    ])
}

/// The `meta-data` file of the seed: `instance-id` and `local-hostname`.
///
/// # Examples
///
/// ```
/// use kennel_cloud::{meta_data, SeedConfig};
///
/// let config = SeedConfig { instance_id: "vm-1".into(), hostname: "vm1".into(), ..Default::default() };
/// assert_eq!(meta_data(&config), "instance-id: \"vm-1\"\nlocal-hostname: \"vm1\"\n");
/// ```
pub fn meta_data(config: &SeedConfig) -> String {
    format!(
        "instance-id: {}\nlocal-hostname: {}\n",
        quote(&config.instance_id),
        quote(&config.hostname)
    )
}

/// Write a NoCloud seed image to `path`: a 1 MiB FAT12 file system (larger if
/// the user-data needs it) labelled [`SEED_LABEL`], with [`user_data`] and
/// [`meta_data`] as the files `user-data` and `meta-data`.
///
/// The image is built in memory and renamed into place, so `path` never holds
/// a partial image. Attach it to the VM as a raw drive.
///
/// # Examples
///
/// ```
/// use kennel_cloud::{write_seed, SeedConfig};
///
/// let dir = tempfile::tempdir()?;
/// let seed = dir.path().join("seed.img");
/// let config = SeedConfig {
///     instance_id: "vm-1".into(),
///     hostname: "vm1".into(),
///     user: "kennel".into(),
///     authorized_key: "ssh-ed25519 AAAAC3Nza test@host".into(),
///     ..Default::default()
/// };
/// write_seed(&config, &seed)?;
/// assert_eq!(std::fs::metadata(&seed)?.len(), 1024 * 1024);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_seed(config: &SeedConfig, path: &Path) -> Result<(), CloudError> {
    let user = user_data(config);
    let meta = meta_data(config);
    let digest = Sha256::digest(config.instance_id.as_bytes());
    let volume_id = u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]);
    let image = vfat::build(
        SEED_LABEL,
        volume_id,
        &[
            ("user-data", user.as_bytes()),
            ("meta-data", meta.as_bytes()),
        ],
    )?;
    kennel_config::write_atomic(path, &image).map_err(|source| CloudError::Io {
        action: "write seed image",
        path: path.to_path_buf(),
        source,
    })
}
