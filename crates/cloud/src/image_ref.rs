//! Names of distribution cloud images: `"debian 12 amd64 genericcloud"`.

use std::fmt;
use std::str::FromStr;

use crate::CloudError;

/// A Linux distribution whose cloud images kennel can resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Distro {
    /// Debian (`cloud.debian.org`).
    Debian,
    /// Ubuntu (`cloud-images.ubuntu.com`).
    Ubuntu,
    /// Fedora (`download.fedoraproject.org`).
    Fedora,
}

impl Distro {
    /// Every supported distribution.
    pub const ALL: [Distro; 3] = [Distro::Debian, Distro::Ubuntu, Distro::Fedora];

    /// The lower-case name: `debian`, `ubuntu` or `fedora`; also the
    /// directory below `KENNEL_IMAGE_MIRROR`.
    pub fn name(self) -> &'static str {
        match self {
            Distro::Debian => "debian",
            Distro::Ubuntu => "ubuntu",
            Distro::Fedora => "fedora",
        }
    }

    /// The distribution's own spelling of an architecture, given any of the
    /// usual aliases (`x86_64`/`amd64`, `aarch64`/`arm64`, `ppc64le`/`ppc64el`);
    /// other names are returned lower-cased.
    pub fn arch_name(self, arch: &str) -> String {
        let arch = arch.to_ascii_lowercase();
        let debian_style = matches!(self, Distro::Debian | Distro::Ubuntu);
        let spelled = match arch.as_str() {
            "x86_64" | "amd64" | "x86-64" => Some(if debian_style { "amd64" } else { "x86_64" }),
            "aarch64" | "arm64" => Some(if debian_style { "arm64" } else { "aarch64" }),
            "ppc64le" | "ppc64el" => Some(if debian_style { "ppc64el" } else { "ppc64le" }),
            _ => None,
        };
        spelled.map_or(arch, str::to_string)
    }
}

impl fmt::Display for Distro {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Debian's release numbers and code names.
pub(crate) const DEBIAN_RELEASES: [(&str, &str); 3] =
    [("11", "bullseye"), ("12", "bookworm"), ("13", "trixie")];

/// A distribution cloud image: distribution, release, architecture and, for
/// Debian, a variant (`genericcloud` when not given).
///
/// Parsed from whitespace-separated words, `"<distro> <release> <arch>
/// [variant]"`. Architecture aliases are mapped to the distribution's own
/// spelling, and Debian code names to release numbers.
///
/// # Examples
///
/// ```
/// use kennel_cloud::{Distro, ImageRef};
///
/// let image: ImageRef = "fedora 41 arm64".parse()?;
/// assert_eq!(image.distro, Distro::Fedora);
/// assert_eq!(image.arch, "aarch64");
///
/// let image: ImageRef = "debian bookworm x86_64 generic".parse()?;
/// assert_eq!(image.to_string(), "debian 12 amd64 generic");
///
/// assert!("ubuntu noble".parse::<ImageRef>().is_err());
/// # Ok::<(), kennel_cloud::CloudError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// The distribution.
    pub distro: Distro,
    /// The release: `12` (Debian), `24.04` (Ubuntu), `41` (Fedora).
    pub release: String,
    /// The architecture in the distribution's spelling (`amd64`, `x86_64`, ...).
    pub arch: String,
    /// The image variant; Debian only (`genericcloud`, `generic`, `nocloud`, ...).
    pub variant: Option<String>,
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.distro, self.release, self.arch)?;
        if let Some(variant) = &self.variant {
            write!(f, " {variant}")?;
        }
        Ok(())
    }
}

fn is_word(s: &str, extra: &[char]) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(&c))
}

impl FromStr for ImageRef {
    type Err = CloudError;

    fn from_str(input: &str) -> Result<ImageRef, CloudError> {
        let err = |reason: String| CloudError::ImageRef {
            input: input.to_string(),
            reason,
        };
        let words: Vec<String> = input
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        let [distro, release, arch, rest @ ..] = words.as_slice() else {
            return Err(err(format!("expected 3 or 4 words, found {}", words.len())));
        };
        if rest.len() > 1 {
            return Err(err(format!("expected 3 or 4 words, found {}", words.len())));
        }
        let distro = match distro.as_str() {
            "debian" => Distro::Debian,
            "ubuntu" => Distro::Ubuntu,
            "fedora" => Distro::Fedora,
            other => return Err(err(format!("unknown distribution {other:?}"))),
        };
        let release = match distro {
            Distro::Debian => DEBIAN_RELEASES
                .iter()
                .find(|(number, codename)| release == number || release == codename)
                .map(|(number, _)| number.to_string())
                .ok_or_else(|| {
                    err(format!(
                        "unknown Debian release {release:?} (known: 11, 12, 13)"
                    ))
                })?,
            Distro::Ubuntu => {
                let valid = release.len() == 5
                    && release.char_indices().all(|(i, c)| {
                        if i == 2 {
                            c == '.'
                        } else {
                            c.is_ascii_digit()
                        }
                    });
                if !valid {
                    return Err(err(format!(
                        "Ubuntu release {release:?} is not of the form YY.MM"
                    )));
                }
                release.clone()
            }
            Distro::Fedora => {
                if !is_word(release, &[]) || !release.chars().all(|c| c.is_ascii_digit()) {
                    return Err(err(format!("Fedora release {release:?} is not a number")));
                }
                release.clone()
            }
        };
        if !is_word(arch, &['_']) {
            return Err(err(format!("invalid architecture {arch:?}")));
        }
        let arch = distro.arch_name(arch);
        let variant = match (distro, rest.first()) {
            (_, None) => None,
            (Distro::Debian, Some(v)) if is_word(v, &['-']) => Some(v.clone()),
            (Distro::Debian, Some(v)) => return Err(err(format!("invalid variant {v:?}"))),
            (d, Some(v)) => return Err(err(format!("{d} images have no variants (got {v:?})"))),
        };
        Ok(ImageRef {
            distro,
            release,
            arch,
            variant,
        })
    }
}
