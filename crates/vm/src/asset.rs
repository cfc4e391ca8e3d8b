//! The assets a test declares, resolved under the run's policy: one rule for
//! both front ends (a TOML test's `[assets.NAME]`, a Rust test's
//! `.cloud_image(..)`). A cloud image (`cloud = "debian 12 amd64
//! genericcloud"`) is first resolved to a URL and the distribution's checksum;
//! then the asset cache finds the file, or fetches and verifies it.
//!
//! The rule: an asset that is not cached (for a cloud image, also one whose
//! resolution is not cached) while downloads are off SKIPs the test, unless
//! the run requires its assets (`--require-assets`); every other failure is
//! an ERROR. [`AssetProblem::is_skip`] says which; the reason is
//! `kennel_machine::error_chain` of the problem, the same for both front ends.

use std::path::{Path, PathBuf};
use std::time::Instant;

use kennel_config::AssetPolicy;
use kennel_spec::{AssetHash, AssetSource, AssetSpec, Template};

use crate::log::TestLog;

/// Why an asset could not be had.
#[derive(Debug, thiserror::Error)]
pub enum AssetProblem {
    /// The asset, or a cloud image's resolution, is not in the cache, downloads
    /// are off and the run does not require its assets: the test SKIPs.
    #[error("asset `{name}` is not cached and downloads are off")]
    NotCached {
        /// The asset's name.
        name: String,
        /// What is missing.
        #[source]
        source: NotCachedCause,
    },
    /// A cloud image could not be resolved to a URL and a checksum (ERROR).
    #[error("asset `{name}`")]
    Cloud {
        /// The asset's name.
        name: String,
        /// Why.
        #[source]
        source: CloudAssetError,
    },
    /// The asset could not be found, fetched or verified, or kennel has no
    /// cache directory (ERROR).
    #[error(transparent)]
    Fetch(Box<kennel_assets::AssetError>),
}

/// What is not cached.
#[derive(Debug, thiserror::Error)]
pub enum NotCachedCause {
    /// A cloud image's resolution (its URL and checksum).
    #[error(transparent)]
    Resolution(Box<kennel_cloud::CloudError>),
    /// The file.
    #[error(transparent)]
    File(Box<kennel_assets::AssetError>),
}

/// Why a cloud image could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum CloudAssetError {
    /// The image's name does not read, or the provider could not resolve it.
    #[error(transparent)]
    Provider(Box<kennel_cloud::CloudError>),
    /// The distribution publishes no checksum for it.
    #[error("no checksum published for {url}")]
    NoChecksum {
        /// The image's URL.
        url: String,
    },
    /// The test pins a checksum, and the published one differs.
    #[error("the published checksum of {url} is not the one the test pins")]
    PinMismatch {
        /// The image's URL.
        url: String,
    },
}

impl AssetProblem {
    /// The test SKIPs (not cached, downloads off, assets not required);
    /// otherwise it is an ERROR.
    pub fn is_skip(&self) -> bool {
        matches!(self, AssetProblem::NotCached { .. })
    }
}

/// The asset policy of a process that no `kennel run` told otherwise (a Rust
/// test under cargo): downloads off with `KENNEL_NO_DOWNLOAD`, read through
/// [`kennel_config::Config`]; assets not required; every asset verified.
pub fn process_asset_policy() -> AssetPolicy {
    AssetPolicy {
        offline: kennel_config::Config::get().is_ok_and(|c| c.no_download),
        require: false,
        allow_unverified: false,
    }
}

/// Find `spec` (rendered; its relative paths under `base_dir`) in the asset
/// cache, or fetch and verify it, under `policy`; a cloud image is resolved
/// through the image provider first (`KENNEL_IMAGE_MIRROR` points it at a
/// mirror; offline, only a cached resolution is used). Each step is logged
/// to `log`. Returns the file's path in the cache.
pub fn resolve_asset(
    spec: &AssetSpec,
    base_dir: &Path,
    policy: &AssetPolicy,
    log: &TestLog,
) -> Result<PathBuf, AssetProblem> {
    let started = Instant::now();
    let name = spec.name.as_str();
    let resolved;
    let spec = match &spec.source {
        AssetSource::Cloud(image) => {
            let image = image.literal().unwrap_or_default();
            resolved = resolve_cloud_asset(spec, image, policy.offline)
                .map_err(|e| under_policy(e, policy))
                .inspect_err(|e| log.line(&kennel_machine::error_chain(e)))?;
            if let AssetSource::Url(url) = &resolved.source {
                log.line(&format!("asset {name}: {image:?} is {url}"));
            }
            &resolved
        }
        _ => spec,
    };
    let cache = kennel_assets::Cache::new(
        kennel_assets::Cache::default_dir().map_err(|e| AssetProblem::Fetch(Box::new(e)))?,
    );
    let fetch = kennel_assets::FetchPolicy {
        offline: policy.offline,
        allow_unverified: policy.allow_unverified,
    };
    match cache.resolve(spec, base_dir, &fetch, &mut kennel_assets::no_progress) {
        Ok(path) => {
            log.line(&format!(
                "asset {name}: {} ({} ms)",
                path.display(),
                started.elapsed().as_millis()
            ));
            Ok(path)
        }
        Err(e @ kennel_assets::AssetError::NotCached { .. }) if !policy.require => {
            log.line(&format!("asset {name}: {e}"));
            Err(AssetProblem::NotCached {
                name: name.to_owned(),
                source: NotCachedCause::File(Box::new(e)),
            })
        }
        Err(e) => {
            log.line(&format!(
                "asset {name}: {}",
                kennel_machine::error_chain(&e)
            ));
            Err(AssetProblem::Fetch(Box::new(e)))
        }
    }
}

/// A cloud image's resolution that failed, under `policy`: one not cached
/// while downloads are off is [`AssetProblem::NotCached`] unless the run
/// requires its assets.
fn under_policy(problem: AssetProblem, policy: &AssetPolicy) -> AssetProblem {
    match problem {
        AssetProblem::Cloud {
            name,
            source: CloudAssetError::Provider(e),
        } if policy.offline
            && !policy.require
            && matches!(*e, kennel_cloud::CloudError::Offline { .. }) =>
        {
            AssetProblem::NotCached {
                name,
                source: NotCachedCause::Resolution(e),
            }
        }
        other => other,
    }
}

/// The asset a Rust test's `.cloud_image(text)` declares: `image`, the
/// distribution's cloud image `text` names (`"debian 12 amd64 genericcloud"`).
pub fn cloud_image_asset(text: &str) -> AssetSpec {
    AssetSpec {
        name: "image".into(),
        line: 0,
        source: AssetSource::Cloud(Template::from_text(text)),
        hash: None,
        uncompress: false,
        extract: None,
    }
}

/// Turn a `cloud = "debian 12 amd64 genericcloud"` asset (its text already
/// rendered, `image`) into a plain URL asset with the distribution's
/// checksum, through the image provider (`KENNEL_IMAGE_MIRROR` points it at a
/// mirror). Offline, only a cached resolution is used. The error is always
/// [`AssetProblem::Cloud`].
pub fn resolve_cloud_asset(
    spec: &AssetSpec,
    image: &str,
    offline: bool,
) -> Result<AssetSpec, AssetProblem> {
    let failed = |source: CloudAssetError| AssetProblem::Cloud {
        name: spec.name.clone(),
        source,
    };
    let image_ref: kennel_cloud::ImageRef = image
        .parse()
        .map_err(|e| failed(CloudAssetError::Provider(Box::new(e))))?;
    let resolved = kennel_cloud::Provider::from_env()
        .offline(offline)
        .resolve(&image_ref)
        .map_err(|e| failed(CloudAssetError::Provider(Box::new(e))))?;
    let hash = match (&resolved.sha512, &resolved.sha256) {
        (Some(h), _) => AssetHash::Sha512(h.clone()),
        (None, Some(h)) => AssetHash::Sha256(h.clone()),
        (None, None) => {
            return Err(failed(CloudAssetError::NoChecksum { url: resolved.url }));
        }
    };
    if spec.hash.as_ref().is_some_and(|pinned| *pinned != hash) {
        return Err(failed(CloudAssetError::PinMismatch { url: resolved.url }));
    }
    Ok(AssetSpec {
        name: spec.name.clone(),
        line: spec.line,
        source: AssetSource::Url(resolved.url),
        hash: Some(hash),
        uncompress: false,
        extract: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unresolved_offline() -> AssetProblem {
        AssetProblem::Cloud {
            name: "image".into(),
            source: CloudAssetError::Provider(Box::new(kennel_cloud::CloudError::Offline {
                image: "debian 12 amd64 genericcloud".into(),
                cache: None,
            })),
        }
    }

    fn policy(offline: bool, require: bool) -> AssetPolicy {
        AssetPolicy {
            offline,
            require,
            allow_unverified: false,
        }
    }

    #[test]
    fn an_unresolved_cloud_image_with_downloads_off_skips_with_the_not_cached_reason() {
        let problem = under_policy(unresolved_offline(), &policy(true, false));

        assert!(problem.is_skip());
        assert_eq!(
            kennel_machine::error_chain(&problem),
            "asset `image` is not cached and downloads are off: cannot resolve image debian 12 \
             amd64 genericcloud offline: it is not in the resolution cache (no cache directory)"
        );
    }

    #[test]
    fn an_unresolved_cloud_image_is_an_error_when_assets_are_required() {
        let problem = under_policy(unresolved_offline(), &policy(true, true));

        assert!(!problem.is_skip());
        assert_eq!(
            kennel_machine::error_chain(&problem),
            "asset `image`: cannot resolve image debian 12 amd64 genericcloud offline: it is not \
             in the resolution cache (no cache directory)"
        );
    }

    #[test]
    fn a_malformed_cloud_image_name_is_an_error_even_with_downloads_off() {
        let spec = cloud_image_asset("debian");

        let problem = resolve_cloud_asset(&spec, "debian", true).expect_err("no such image");
        let problem = under_policy(problem, &policy(true, false));

        assert!(!problem.is_skip());
        assert!(kennel_machine::error_chain(&problem)
            .starts_with("asset `image`: invalid image reference"));
    }
}
