//! Resolving distribution image names to download URLs and checksums, from
//! the checksum files the distributions publish.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use kennel_config::text::hex;

use crate::checksums::{parse_bsd, parse_gnu, version_cmp, Algorithm, Entry};
use crate::fetch::{last_segment, Fetcher};
use crate::image_ref::DEBIAN_RELEASES;
use crate::{CloudError, Distro, ImageRef};

/// How long a cached resolution is used without asking the mirror again.
pub const CACHE_FRESHNESS: Duration = Duration::from_secs(24 * 60 * 60);

/// The environment variable naming a mirror of all distributions.
pub const MIRROR_ENV: &str = kennel_config::env::IMAGE_MIRROR;

/// The Debian variant used when an [`ImageRef`] names none.
pub const DEFAULT_DEBIAN_VARIANT: &str = "genericcloud";

/// Where an image can be downloaded, and the checksums to verify it with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    /// The image's URL (`http(s)://` or `file://`).
    pub url: String,
    /// The image's file name, the last segment of `url`.
    pub file_name: String,
    /// The SHA-256 digest in lower-case hex, when the distribution publishes one.
    pub sha256: Option<String>,
    /// The SHA-512 digest in lower-case hex, when the distribution publishes one.
    pub sha512: Option<String>,
}

/// Resolves [`ImageRef`]s against each distribution's download site or a
/// mirror of it, caching resolutions on disk.
///
/// Below its base URL, a mirror must reproduce the distribution's layout:
///
/// - Debian: `{base}/{codename}/latest/debian-{release}-{variant}-{arch}.qcow2`
///   and `{base}/{codename}/latest/SHA512SUMS`;
/// - Ubuntu: `{base}/releases/{release}/release/ubuntu-{release}-server-cloudimg-{arch}.img`
///   and `SHA256SUMS` beside it;
/// - Fedora: `{base}/releases/{release}/Cloud/{arch}/images/` with a
///   directory index linking a `*-CHECKSUM` file that lists the
///   `Fedora-Cloud-Base-Generic*.qcow2` image.
///
/// # Examples
///
/// ```no_run
/// use kennel_cloud::{ImageRef, Provider};
///
/// let image: ImageRef = "debian 12 amd64".parse()?;
/// let resolved = Provider::from_env().resolve(&image)?;
/// assert!(resolved.url.ends_with("/debian-12-genericcloud-amd64.qcow2"));
/// assert!(resolved.sha512.is_some());
/// # Ok::<(), kennel_cloud::CloudError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Provider {
    bases: BTreeMap<Distro, String>,
    cache: Option<PathBuf>,
    offline: bool,
    fetcher: Fetcher,
}

impl Default for Provider {
    fn default() -> Provider {
        Provider::new()
    }
}

/// One cached resolution, stored as JSON.
#[derive(Serialize, Deserialize)]
struct CacheEntry {
    key: String,
    /// Seconds since the Unix epoch.
    fetched_at: u64,
    resolved: Resolved,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Provider {
    /// A provider using the distributions' public sites and the resolution
    /// cache `<kennel cache dir>/images` (see [`kennel_config::cache_dir`]),
    /// online.
    pub fn new() -> Provider {
        let bases = [
            (Distro::Debian, "https://cloud.debian.org/images/cloud"),
            (Distro::Ubuntu, "https://cloud-images.ubuntu.com"),
            (
                Distro::Fedora,
                "https://download.fedoraproject.org/pub/fedora/linux",
            ),
        ]
        .into_iter()
        .map(|(d, base)| (d, base.to_string()))
        .collect();
        Provider {
            bases,
            cache: kennel_config::cache_dir().map(|dir| dir.join("images")),
            offline: false,
            fetcher: Fetcher::new(),
        }
    }

    /// Use `base_url` (http(s) or `file://`) instead of the distribution's site.
    pub fn with_base(mut self, distro: Distro, base_url: &str) -> Provider {
        self.bases
            .insert(distro, base_url.trim_end_matches('/').to_string());
        self
    }

    /// [`Provider::new`], with every distribution's base below `mirror`:
    /// `<mirror>/debian`, `<mirror>/ubuntu`, `<mirror>/fedora`.
    pub fn with_mirror(self, mirror: &str) -> Provider {
        let mirror = mirror.trim().trim_end_matches('/').to_string();
        Distro::ALL.into_iter().fold(self, |p, d| {
            p.with_base(d, &format!("{mirror}/{}", d.name()))
        })
    }

    /// [`Provider::new`] with the configured mirror, if any
    /// (`$KENNEL_IMAGE_MIRROR`, else `image_mirror` of `kennel.toml`).
    pub fn from_config(config: &kennel_config::Config) -> Provider {
        match config.image_mirror_url() {
            Some(mirror) => Provider::new().with_mirror(mirror),
            None => Provider::new(),
        }
    }

    /// [`Provider::from_config`] with the process's configuration
    /// ([`kennel_config::Config::get`]): `$KENNEL_IMAGE_MIRROR`, else
    /// `image_mirror` of the nearest `kennel.toml`, so that Rust tests under
    /// plain `cargo test` use the project's mirror as `kennel run` does. A
    /// configuration that does not load gives the distributions' sites (the
    /// front end reports the configuration's error itself).
    pub fn from_env() -> Provider {
        match kennel_config::Config::get() {
            Ok(config) => Provider::from_config(config),
            Err(_) => Provider::new(),
        }
    }

    /// Keep resolutions in `dir` (created when needed); a cached resolution
    /// is used for [`CACHE_FRESHNESS`] (24 hours), except for a `file://`
    /// mirror, which is read again each time (offline, the cache is used).
    pub fn with_cache(mut self, dir: PathBuf) -> Provider {
        self.cache = Some(dir);
        self
    }

    /// In offline mode, resolve from the cache only, however old the entry.
    pub fn offline(mut self, yes: bool) -> Provider {
        self.offline = yes;
        self
    }

    /// The base URL used for `distro`.
    pub fn base(&self, distro: Distro) -> &str {
        self.bases.get(&distro).map_or("", String::as_str)
    }

    /// Resolve `image` to its URL and checksums, from the cache when it holds
    /// a fresh entry (any entry when offline), else from the distribution's
    /// checksum files.
    pub fn resolve(&self, image: &ImageRef) -> Result<Resolved, CloudError> {
        let base = self.base(image.distro);
        let key = cache_key(image, base);
        let cache_file = self.cache.as_deref().map(|dir| cache_file(dir, &key));
        // A local mirror costs nothing to read and may be rebuilt at any time:
        // its cached resolution is only used offline.
        let local = base.starts_with("file://");
        if let Some(entry) = cache_file.as_deref().and_then(|f| read_cache(f, &key)) {
            let age = unix_now().saturating_sub(entry.fetched_at);
            if self.offline || (!local && Duration::from_secs(age) < CACHE_FRESHNESS) {
                return Ok(entry.resolved);
            }
        }
        if self.offline {
            return Err(CloudError::Offline {
                image: image.to_string(),
                cache: self.cache.clone(),
            });
        }
        let resolved = match image.distro {
            Distro::Debian => self.resolve_debian(image, base)?,
            Distro::Ubuntu => self.resolve_ubuntu(image, base)?,
            Distro::Fedora => self.resolve_fedora(image, base)?,
        };
        if let Some(file) = cache_file {
            let entry = CacheEntry {
                key,
                fetched_at: unix_now(),
                resolved: resolved.clone(),
            };
            // The cache only saves requests: failing to write it is not an error.
            if let Ok(json) = serde_json::to_vec_pretty(&entry) {
                let _ = kennel_config::write_atomic(&file, &json);
            }
        }
        Ok(resolved)
    }

    fn resolve_debian(&self, image: &ImageRef, base: &str) -> Result<Resolved, CloudError> {
        let codename = DEBIAN_RELEASES
            .iter()
            .find(|(number, _)| *number == image.release)
            .map(|(_, codename)| *codename)
            .ok_or_else(|| CloudError::ImageRef {
                input: image.to_string(),
                reason: format!("unknown Debian release {:?}", image.release),
            })?;
        let variant = image.variant.as_deref().unwrap_or(DEFAULT_DEBIAN_VARIANT);
        let dir = format!("{base}/{codename}/latest/");
        let file_name = format!("debian-{}-{variant}-{}.qcow2", image.release, image.arch);
        let sums_url = format!("{dir}SHA512SUMS");
        let entries = parse_gnu(&self.fetcher.text(&sums_url)?);
        resolved_from(&dir, &file_name, &entries, &sums_url)
    }

    fn resolve_ubuntu(&self, image: &ImageRef, base: &str) -> Result<Resolved, CloudError> {
        let dir = format!("{base}/releases/{}/release/", image.release);
        let file_name = format!(
            "ubuntu-{}-server-cloudimg-{}.img",
            image.release, image.arch
        );
        let sums_url = format!("{dir}SHA256SUMS");
        let entries = parse_gnu(&self.fetcher.text(&sums_url)?);
        resolved_from(&dir, &file_name, &entries, &sums_url)
    }

    fn resolve_fedora(&self, image: &ImageRef, base: &str) -> Result<Resolved, CloudError> {
        let dir = format!(
            "{base}/releases/{}/Cloud/{}/images/",
            image.release, image.arch
        );
        let sums_url = self
            .fetcher
            .links(&dir)?
            .into_iter()
            .filter(|link| last_segment(link).ends_with("-CHECKSUM"))
            .max_by(|a, b| version_cmp(last_segment(a), last_segment(b)))
            .ok_or_else(|| CloudError::NoChecksumFile { url: dir.clone() })?;
        let entries = parse_bsd(&self.fetcher.text(&sums_url)?);
        let file_name = entries
            .iter()
            .map(|e| e.file_name.as_str())
            .filter(|name| {
                name.starts_with("Fedora-Cloud-Base-Generic") && name.ends_with(".qcow2")
            })
            .max_by(|a, b| version_cmp(a, b))
            .ok_or_else(|| CloudError::ChecksumMissing {
                file_name: "Fedora-Cloud-Base-Generic*.qcow2".to_string(),
                url: sums_url.clone(),
            })?
            .to_string();
        resolved_from(&dir, &file_name, &entries, &sums_url)
    }
}

/// The resolution of `file_name` in `dir` from a checksum file's entries.
fn resolved_from(
    dir: &str,
    file_name: &str,
    entries: &[Entry],
    sums_url: &str,
) -> Result<Resolved, CloudError> {
    let digest = |algorithm| {
        entries
            .iter()
            .find(|e| e.algorithm == algorithm && e.file_name == file_name)
            .map(|e| e.digest.clone())
    };
    let (sha256, sha512) = (digest(Algorithm::Sha256), digest(Algorithm::Sha512));
    if sha256.is_none() && sha512.is_none() {
        return Err(CloudError::ChecksumMissing {
            file_name: file_name.to_string(),
            url: sums_url.to_string(),
        });
    }
    Ok(Resolved {
        url: format!("{dir}{file_name}"),
        file_name: file_name.to_string(),
        sha256,
        sha512,
    })
}

fn cache_key(image: &ImageRef, base: &str) -> String {
    let mut image = image.clone();
    if image.distro == Distro::Debian && image.variant.is_none() {
        image.variant = Some(DEFAULT_DEBIAN_VARIANT.to_string());
    }
    format!("{image} @ {base}")
}

fn cache_file(dir: &Path, key: &str) -> PathBuf {
    let digest = Sha256::digest(key.as_bytes());
    dir.join(format!("resolved-{}.json", hex(&digest[..16])))
}

fn read_cache(file: &Path, key: &str) -> Option<CacheEntry> {
    let bytes = std::fs::read(file).ok()?;
    let entry: CacheEntry = serde_json::from_slice(&bytes).ok()?;
    (entry.key == key).then_some(entry)
}
